#!/usr/bin/python3
"""PyTorch side of cgrad's MLP benchmark (WORKLOADS.md W1/W1b), in PyTorch's
strongest setup on this machine: run by bench/run.sh with the OpenMP OpenBLAS
on LD_LIBRARY_PATH, OPENBLAS_CORETYPE unset, and torch and OpenBLAS thread
counts set equal. Data loaded and permuted outside the timer; the epoch loop is
timed alone. Prints one JSON line."""
import argparse
import ctypes
import gzip
import json
import resource
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.environ.get("CG_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def set_threads(n):
    torch.set_num_threads(n)
    for lib in ("libopenblas.so.0", "libblas.so.3"):
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(n)
        except (OSError, AttributeError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)

    x = torch.from_numpy(read_idx(f"{DATA}/train-images-idx3-ubyte.gz").reshape(-1, 784)
                         .astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").reshape(-1, 784)
                          .astype(np.float32) / 255.0)
    yt = torch.from_numpy(read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64))

    torch.manual_seed(args.seed)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(args.seed))
    xs, ys = x[perm].contiguous(), y[perm].contiguous()

    start = time.perf_counter()
    for i in range(0, xs.shape[0], args.batch):
        loss = F.cross_entropy(model(xs[i:i + args.batch]), ys[i:i + args.batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    print(json.dumps({"impl": f"pytorch-{torch.__version__}", "batch": args.batch,
                      "threads": args.threads, "seconds": round(seconds, 4),
                      "samples_per_s": round(xs.shape[0] / seconds),
                      "test_accuracy": round(acc, 4),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
