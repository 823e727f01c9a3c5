"""PyTorch side of cgrad's benchmark (bench/run.sh), workloads W1-W4 of
WORKLOADS.md and W5 (the character GPT of models/char_gpt.json, issue 15),
measured the way bench/bench_train.c measures cgrad:

  train  optimizer steps WARMUP+1 .. WARMUP+STEPS timed, the clock read after
         every optimizer step (forward, loss, zero_grad, backward, clipping,
         step; W1/W2 slice a batch of data permuted before the timer, W4
         and W5 gather their batch of random windows inside it)
  infer  eval mode under torch.inference_mode(): forward, loss and argmax over
         the test samples in batches, PASSES passes timed after one untimed
  acc    whole epochs with test accuracy after each until TARGET is reached;
         the wall time counts from the process's start (interpreter start,
         imports, data loading and evaluation included)

Start-up is the process's age (/proc/self/stat) at the end of the first
step. Runs under either Python: Debian's /usr/bin/python3 with python3-torch
(run.sh puts the OpenMP OpenBLAS on LD_LIBRARY_PATH and sets OpenBLAS's
threads equal to torch's) or a virtual environment with PyPI's torch.
Prints one JSON line.

W5 builds the torch.nn module of the model file (--model-file) with
tests/cli/torch_graph.py, as the training-equality tests do, and takes the
model file's optimizer (AdamW with its no_decay groups) and clipping.

  torch_bench.py {W1,W2,W4,W5} [--mode train|infer|acc] [--threads N] [--seed N]
      [--batch N] [--warmup N] [--steps N] [--passes N] [--samples N]
      [--target F] [--max-epochs N] [--text PATH] [--heldout]
      [--model-file MODEL.json]
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = os.environ.get("CG_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
SEQ = 64


def process_age():
    """Seconds since the kernel started this process, as bench_train.c reads it."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return up - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def set_threads(n):
    torch.set_num_threads(n)
    # Only where torch calls an external BLAS (Debian's build): loading the
    # system OpenBLAS into a torch that has MKL inside would only add its
    # thread pool.
    if blas_name() == "mkl":
        return
    for lib in ("libopenblas.so.0", "libblas.so.3"):
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(n)
        except (OSError, AttributeError):
            pass


def blas_name():
    cfg = torch.__config__.show()
    for key in ("BLAS_INFO=", "USE_MKL=ON"):
        if key in cfg:
            return "mkl" if key == "USE_MKL=ON" else cfg.split(key)[1].split(",")[0]
    return "unknown"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion(split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(f"{DATA}/{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = read_idx(f"{DATA}/{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x.reshape(-1, 1, 28, 28)), torch.from_numpy(y)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


class CharLSTM(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.emb = nn.Embedding(vocab, 64)
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.out = nn.Linear(256, vocab)

    def forward(self, x):
        return self.out(self.lstm(self.emb(x))[0])


def load_text(path):
    """Token ids of the file's code points over its own sorted vocabulary;
    bytes that are not UTF-8 become surrogates 0xDC80+b, as cgrad reads
    them. The last 5% of the 64-token windows are held out, as cgrad's
    --val-split 0.05 does."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", errors="surrogateescape")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    windows = (len(ids) - 1) // SEQ
    held = int(round(windows * 0.05))
    return ids, len(vocab), (windows - held) * SEQ


def window_loss(model, ids, starts):
    rows = starts[:, None] + torch.arange(SEQ + 1)[None, :]
    chunk = ids[rows]
    logits = model(chunk[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1))


def heldout_bits(model, ids, train_end):
    starts = torch.arange(train_end, len(ids) - SEQ - 1, SEQ)
    total, n = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(starts), 256):
            s = starts[i:i + 256]
            total += window_loss(model, ids, s).item() * len(s)
            n += len(s)
    model.train()
    return total / n / np.log(2)


def head(a, mode):
    return {"impl": f"pytorch-{torch.__version__}", "blas": blas_name(), "workload": a.name,
            "mode": mode, "threads": a.threads, "batch": a.batch, "seed": a.seed}


def timed_steps(a, step):
    """Runs warmup + steps optimizer steps; returns the result fields."""
    t = [time.perf_counter()]
    startup = None
    for i in range(a.warmup + a.steps):
        step(i)
        t.append(time.perf_counter())
        if i == 0:
            startup = process_age()
    first = max(a.warmup, 1)
    timed = a.warmup + a.steps - first
    dt = sorted(t[i + 1] - t[i] for i in range(first, a.warmup + a.steps))
    return {"warmup_steps": first, "timed_steps": timed, "seconds": round(t[-1] - t[first], 4),
            "step_ms_median": round(1e3 * dt[len(dt) // 2], 3),
            "startup_to_first_step_s": round(startup, 3)}, timed, t[-1] - t[first]


def train_fashion(a, build):
    t0 = time.perf_counter()
    x, y = fashion("train")
    xt, yt = fashion("test") if a.mode == "acc" else (None, None)
    load_s = time.perf_counter() - t0
    torch.manual_seed(a.seed)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(a.seed)

    def epoch_data():
        perm = torch.randperm(x.shape[0], generator=gen)
        return x[perm].contiguous(), y[perm].contiguous()

    def step(xb, yb):
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out = head(a, a.mode)
    out["data_load_s"] = round(load_s, 3)
    if a.mode == "acc":
        accs, reached = [], None
        startup = None
        for epoch in range(1, a.max_epochs + 1):
            xs, ys = epoch_data()
            for i in range(0, xs.shape[0], a.batch):
                step(xs[i:i + a.batch], ys[i:i + a.batch])
                if startup is None:
                    startup = process_age()
            model.eval()
            with torch.inference_mode():
                correct = sum((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum().item()
                              for i in range(0, xt.shape[0], 1000))
            model.train()
            accs.append(round(correct / xt.shape[0], 4))
            if accs[-1] >= a.target:
                reached = (epoch, process_age())
                break
        out.update({"target": a.target, "reached_epoch": reached[0] if reached else -1,
                    "wall_to_target_s": round(reached[1], 2) if reached else -1.0,
                    "accuracy": accs, "startup_to_first_step_s": round(startup, 3)})
    else:
        batches = []
        while len(batches) < a.warmup + a.steps:
            xs, ys = epoch_data()
            batches += [(xs[i:i + a.batch], ys[i:i + a.batch]) for i in range(0, xs.shape[0], a.batch)]
        fields, timed, seconds = timed_steps(a, lambda i: step(*batches[i]))
        out.update(fields)
        out["samples_per_s"] = round(sum(len(batches[i][1]) for i in range(a.warmup + a.steps - timed,
                                                                            a.warmup + a.steps)) / seconds)
    return out


def char_gpt(path):
    """The model file's torch.nn module, its optimizer and clipping."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cli"))
    import torch_graph
    with open(path) as f:
        spec = json.load(f)
    net = torch_graph.Graph(spec)
    net.train()
    opt = torch_graph.optimizer(spec.get("optimizer", {}), torch_graph.param_groups(net, spec))
    return net, opt, spec.get("train", {}).get("clip_grad_norm", 0)


def train_text(a):
    """W4 (the LSTM of WORKLOADS.md) or W5 (the GPT of --model-file)."""
    t0 = time.perf_counter()
    ids, vocab, train_end = load_text(a.text)
    load_s = time.perf_counter() - t0
    torch.manual_seed(a.seed)
    if a.model == "W5":
        net, opt, clip = char_gpt(a.model_file)
        model = lambda x: net(x.float())  # noqa: E731 (cgrad's inputs are floats)
    else:
        model, clip = CharLSTM(vocab), 1.0
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(a.seed)

    def step(i):
        starts = torch.randint(0, train_end - SEQ, (a.batch,), generator=gen)
        loss = window_loss(model, ids, starts)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            params = [p for g in opt.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    out = head(a, "train")
    out["data_load_s"] = round(load_s, 3)
    fields, timed, seconds = timed_steps(a, step)
    out.update(fields)
    out["tokens_per_s"] = round(timed * a.batch * SEQ / seconds)
    if a.heldout and a.model == "W4":
        out["val_bits_per_char"] = round(heldout_bits(model, ids, train_end), 4)
    return out


def infer(a, build):
    t0 = time.perf_counter()
    x, y = fashion("test")
    if a.samples:
        x, y = x[-a.samples:], y[-a.samples:]
    load_s = time.perf_counter() - t0
    torch.manual_seed(a.seed)
    model = build().eval()

    def one_pass():
        with torch.inference_mode():
            for i in range(0, x.shape[0], a.batch):
                logits = model(x[i:i + a.batch])
                F.cross_entropy(logits, y[i:i + a.batch])
                logits.argmax(1)

    one_pass()
    t0 = time.perf_counter()
    for _ in range(a.passes):
        one_pass()
    seconds = time.perf_counter() - t0
    out = head(a, "infer")
    out.update({"data_load_s": round(load_s, 3), "passes": a.passes, "samples": x.shape[0],
                "seconds": round(seconds, 4), "samples_per_s": round(a.passes * x.shape[0] / seconds)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=("W1", "W2", "W4", "W5"))
    ap.add_argument("--mode", default="train", choices=("train", "infer", "acc"))
    ap.add_argument("--name", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--samples", type=int, default=0)
    ap.add_argument("--target", type=float, default=0.88)
    ap.add_argument("--max-epochs", type=int, default=20)
    ap.add_argument("--text", default=None)
    ap.add_argument("--heldout", action="store_true")
    ap.add_argument("--model-file", default="models/char_gpt.json")
    a = ap.parse_args()
    a.name = a.name or a.model
    a.batch = a.batch or (32 if a.model in ("W4", "W5") else 64)
    set_threads(a.threads)
    build = {"W1": mlp, "W2": cnn}.get(a.model)
    if a.model in ("W4", "W5"):
        out = train_text(a)
    elif a.mode == "infer":
        out = infer(a, build)
    else:
        out = train_fashion(a, build)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
