#!/usr/bin/python3
"""PyTorch side of torch_explain.sh: input gradients against torch.autograd.

  torch_explain.py CKPT DATA.csv TABLE.json METHOD [CKPT DATA.csv TABLE.json METHOD ...]
      rebuilds CKPT's model in torch (torch_graph.Graph, eval mode), takes
      each sample of TABLE.json (cgrad explain's JSON: index, target class,
      per-feature attributions), computes g = torch.autograd.grad(logit of
      the target class, input) and checks cgrad's attributions against
      |g| (saliency) or x * g (grad-x-input): relative difference
      max|cgrad - torch| / max|torch| at most 1e-5. Several groups of four
      arguments check several tables with one import of torch.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_graph as tg  # noqa: E402


def main(ckpt, csv, table, method):
    torch.set_default_dtype(torch.float32)
    net = tg.Graph(tg.model_of(ckpt))
    weights, _ = tg.load(ckpt)
    net.load_state_dict(weights, strict=True)
    net.eval()
    x_all, _ = tg.data(csv, net.input_shape)
    worst = 0.0
    samples = json.load(open(table))
    for s in samples:
        x = x_all[s["index"]:s["index"] + 1].clone().requires_grad_(True)
        logit = net(x)[0, int(s["target"])]
        (g,) = torch.autograd.grad(logit, x)
        g = g.flatten()
        ours = torch.tensor([f["attribution"] for f in s["features"]])
        theirs = g.abs() if method == "saliency" else x.detach().flatten() * g
        rel = ((ours - theirs).abs().max() / theirs.abs().max()).item()
        worst = max(worst, rel)
        assert rel <= 1e-5, "sample %d: relative difference %.3g" % (s["index"], rel)
    print("%s %s: %d samples match torch.autograd.grad, worst relative difference %.2g"
          % (os.path.basename(ckpt), method, len(samples), worst))


if __name__ == "__main__":
    args = sys.argv[1:]
    assert args and len(args) % 4 == 0, "expected groups of CKPT DATA.csv TABLE.json METHOD"
    for i in range(0, len(args), 4):
        main(*args[i:i + 4])
