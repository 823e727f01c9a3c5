#!/usr/bin/python3
"""PyTorch's figure for a cgrad language model (W5: models/char_gpt.json).

Builds the torch.nn module of the model file with tests/cli/torch_graph.py
(nn.Embedding, nn.MultiheadAttention, nn.LayerNorm, nn.Linear, tied head),
and trains it the way `cgrad train MODEL --data text:PATH` does: the text as
one id per code point, cut into windows of T ids (the label of each is the
next id), the last 5% of the windows held out, shuffled batches, the model
file's optimizer (AdamW with its no_decay groups), clip_grad_norm, and
train.steps steps. Prints one JSON line: training tokens/s (the timer
covers the training steps only), wall time, and the held-out loss in
bits/char.

  bench/torch_gpt.py MODEL.json TEXT [--steps N] [--threads N] [--seed N]
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cli"))
import torch_graph  # noqa: E402


def windows(path, T):
    text = open(path, encoding="utf-8").read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    count = (len(ids) - 1) // T
    x = ids[:count * T].reshape(count, T)
    y = ids[1:count * T + 1].reshape(count, T)
    return x, y, len(vocab)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("text")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = json.load(open(a.model))
    T = model["input"][0]
    train_cfg = model.get("train", {})
    steps = a.steps or train_cfg["steps"]
    batch = train_cfg.get("batch", 32)
    clip = train_cfg.get("clip_grad_norm", 0)
    x, y, V = windows(a.text, T)
    n_val = round(0.05 * len(x))
    xt, yt, xv, yv = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    net = torch_graph.Graph(model)
    net.train()
    opt = torch_graph.optimizer(model.get("optimizer", {}), torch_graph.param_groups(net, model))
    start = time.perf_counter()
    perm, at, done = torch.randperm(len(xt)), 0, 0
    while done < steps:
        if at + batch > len(perm):
            perm, at = torch.randperm(len(xt)), 0
        idx = perm[at:at + batch]
        at += batch
        opt.zero_grad(set_to_none=True)
        logits = net(xt[idx].float())
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yt[idx].reshape(-1))
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        done += 1
    train_s = time.perf_counter() - start
    net.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(xv), 64):
            logits = net(xv[first:first + 64].float())
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     yv[first:first + 64].reshape(-1), reduction="sum").item()
            n += yv[first:first + 64].numel()
    print(json.dumps({
        "impl": "pytorch-" + torch.__version__.split("+")[0], "model": os.path.basename(a.model),
        "steps": steps, "batch": batch, "T": T, "threads": a.threads,
        "train_tokens_per_s": round(steps * batch * T / train_s),
        "train_s": round(train_s, 1), "wall_s": round(time.perf_counter() - start, 1),
        "last_train_loss": round(loss.item(), 4),
        "val_bits_per_char": round(total / n / math.log(2), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
