#!/usr/bin/python3
"""PyTorch side of the interop test (torch_interop.sh).

  torch_interop.py predict CKPT DATA.csv PREDS.csv
      loads a cgrad checkpoint into the equivalent torch.nn model and checks
      that its softmax outputs match cgrad predict's PREDS.csv
  torch_interop.py export OUT.safetensors
      writes torch's default-initialised weights for the same model
  torch_interop.py predict-export CKPT DATA.csv PREDS.csv OUT.safetensors
      both, with one (slow) import of torch
  torch_interop.py step INIT.safetensors TRAINED.safetensors DATA.csv LR
      checks that one full-batch SGD step from INIT in torch gives cgrad's
      TRAINED weights
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py as st  # noqa: E402


class Net(nn.Module):
    """The model of torch_interop.sh's model file, with the same parameter
    names: layers[i] is the model file's layer i."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 16), nn.Dropout(0.25), nn.Linear(16, 8, bias=False),
                                     nn.Tanh(), nn.Linear(8, 3)])

    def forward(self, x):
        x = F.relu(self.layers[0](x))  # "activation": "relu" fused in layer 0
        for layer in self.layers[1:]:
            x = layer(x)
        return x


def load(path):
    tensors, _ = st.read(path)
    return {k: torch.tensor(v, dtype=torch.float32).reshape(s)
            for k, (s, v) in tensors.items() if k.startswith("layers.")}


def data(path):
    rows = [line.split(",") for line in open(path).read().split("\n")[1:] if line]
    x = torch.tensor([[float(v) for v in r[:-1]] for r in rows])
    y = torch.tensor([int(r[-1]) for r in rows])
    return x, y


def predict(ckpt, csv, preds):
    net = Net()
    net.load_state_dict(load(ckpt), strict=True)
    net.eval()
    x, _ = data(csv)
    with torch.no_grad():
        probs = F.softmax(net(x), dim=1)
    rows = [line.split(",") for line in open(preds).read().split("\n")[1:] if line]
    theirs = torch.tensor([[float(v) for v in r[2:]] for r in rows])
    classes = torch.tensor([int(r[1]) for r in rows])
    diff = (probs - theirs).abs().max().item()
    assert diff < 1e-5, "probabilities differ by %g" % diff
    assert torch.equal(classes, probs.argmax(1)), "predicted classes differ"
    print("predictions match (max difference %.2g)" % diff)


def export(out):
    torch.manual_seed(0)
    net = Net()
    st.write(out, {k: (list(v.shape), v.flatten().tolist()) for k, v in net.state_dict().items()})


def step(init, trained, csv, lr):
    net = Net()
    net.load_state_dict(load(init), strict=True)
    net.train()
    net.layers[1].p = 0.0  # the shell test trains this step without dropout
    opt = torch.optim.SGD(net.parameters(), lr=float(lr))
    x, y = data(csv)
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
    theirs = load(trained)
    for name, value in net.state_dict().items():
        diff = (value - theirs[name]).abs().max().item()
        assert diff < 1e-6, "%s differs by %g after one SGD step" % (name, diff)
    print("one SGD step matches torch.optim.SGD")


def predict_export(ckpt, csv, preds, out):
    predict(ckpt, csv, preds)
    export(out)


if __name__ == "__main__":
    commands = {"predict": predict, "export": export, "predict-export": predict_export, "step": step}
    commands[sys.argv[1]](*sys.argv[2:])
