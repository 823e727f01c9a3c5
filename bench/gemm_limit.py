#!/usr/bin/python3
"""The GEMM limit of W5 (models/char_gpt.json): the training tokens/s a
step could reach if it were nothing but its matrix products, run at the
rate OpenBLAS's sgemm reaches on this machine for the model's shapes.

FLOPs per training token (forward + backward = 3 x forward): every dense
and attention projection 2·in·out per token, the attention scores and
weighted sum 2·2·T·D per token per layer (the plain path computes the whole
T x T square), the tied output layer 2·D·V. The rate is measured with
numpy (Debian's numpy calls the same OpenBLAS) on the step's largest
shapes, median of several calls.

  bench/gemm_limit.py [--threads N]
"""
import argparse
import json
import os
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "models", "char_gpt.json"))
a = ap.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(a.threads)
import numpy as np  # noqa: E402 (after the thread count is set)

model = json.load(open(a.model))
T = model["input"][0]
batch = model["train"]["batch"]
emb = model["layers"][0]
V, D = emb["vocab"], emb["dim"]
blocks = [l for l in model["layers"] if l["type"] == "transformer_block"]
L, M = len(blocks), blocks[0].get("mlp", 4 * D)
forward = L * (2 * D * 3 * D + 2 * D * D + 2 * D * M + 2 * M * D + 2 * 2 * T * D) + 2 * D * V
flops_per_token = 3 * forward

rows = batch * T
shapes = [(rows, 3 * D, D), (rows, M, D), (rows, D, M), (T, T, D // 4), (rows, V, D)]
weights = [2 * D * 3 * D, 2 * D * M, 2 * M * D, 2 * 2 * T * D, 2 * D * V]
rates = []
for (m, n, k), w in zip(shapes, weights):
    x = np.random.rand(m, k).astype(np.float32)
    y = np.random.rand(k, n).astype(np.float32)
    reps = max(3, int(2e9 / (2 * m * n * k)))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            x @ y
        times.append((time.perf_counter() - t0) / reps)
    rates.append(2 * m * n * k / statistics.median(times))
# Weighted by each shape's share of the FLOPs.
rate = sum(weights) / sum(w / r for w, r in zip(weights, rates))
print(json.dumps({"model": os.path.basename(a.model), "threads": a.threads,
                  "mflop_per_token": round(flops_per_token / 1e6, 2),
                  "sgemm_gflops": round(rate / 1e9, 1),
                  "gemm_limit_tokens_per_s": round(rate / flops_per_token)}))
