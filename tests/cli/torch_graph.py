#!/usr/bin/python3
"""PyTorch side of the graph-model interop test (torch_interop_graph.sh).

Builds the torch.nn module of any cgrad model file -- flatten, dense and
conv2d (with their fused activation and that activation's parameter),
dropout, standalone activations, add and concat, connected by "name" /
"inputs" -- whose
`layers` ModuleList index i is the model file's layer i, so a checkpoint's
`layers.*` tensors load with strict=True.

  torch_graph.py predict CKPT DATA.csv PREDS.csv
      rebuilds the model from CKPT's __metadata__["model"], loads its weights
      and checks that torch's softmax outputs equal cgrad predict's PREDS.csv
  torch_graph.py export MODEL.json OUT.safetensors [SEED]
      writes torch's default-initialised weights for MODEL.json
      (torch.manual_seed(SEED), default 0)
  torch_graph.py step INIT.safetensors TRAINED.safetensors DATA.csv LR
      checks that one full-batch SGD step from INIT (a weights-only file) in
      torch gives cgrad's TRAINED weights; the model is TRAINED's metadata

Several commands may be given in one call, separated by "+", so that torch
is imported once.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py as st  # noqa: E402

ACT_SYNONYMS = {"linear": "none", "identity": "none"}
ACTIVATIONS = {"none", "relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus"}
DEFAULT_PARAM = {"leaky_relu": 0.01, "elu": 1.0}
PARAM_KEY = {"leaky_relu": "negative_slope", "elu": "alpha"}


def act_of(spec, name):
    """(activation, parameter) of a dense layer's "activation" or of a
    standalone activation layer, with cgrad's defaults."""
    name = ACT_SYNONYMS.get(name, name)
    assert name in ACTIVATIONS, "unknown activation %r" % name
    return name, float(spec.get(PARAM_KEY.get(name, ""), DEFAULT_PARAM.get(name, 0.0)))


def act_module(act, param):
    return {"none": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
            "gelu": lambda: nn.GELU(approximate="none"), "softplus": nn.Softplus,
            "leaky_relu": lambda: nn.LeakyReLU(param), "elu": lambda: nn.ELU(param)}[act]()


def act_apply(x, act, param):
    return act_module(act, param)(x)


class Add(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis  # per-sample axis, already made non-negative

    def forward(self, *xs):
        return torch.cat(xs, dim=self.axis + 1)


def pair(v):
    return tuple(v) if isinstance(v, list) else (v, v)


def conv2d_module(spec, shape):
    """nn.Conv2d of a conv2d layer on a per-sample [C, H, W] input."""
    assert len(shape) == 3, "conv2d needs a [C, H, W] input, got %s" % shape
    padding = spec.get("padding", 0)
    return nn.Conv2d(shape[0], spec["filters"], pair(spec["kernel"]),
                     stride=pair(spec.get("stride", 1)),
                     padding=padding.lower() if isinstance(padding, str) else pair(padding),
                     dilation=pair(spec.get("dilation", 1)), groups=spec.get("groups", 1),
                     bias=spec.get("bias", True))


def output_shape(module, shape):
    """Per-sample output shape of module on a per-sample input shape."""
    with torch.no_grad():
        return list(module(torch.zeros([1] + list(shape))).shape[1:])


class Graph(nn.Module):
    """A cgrad model file as a torch.nn.Module."""

    def __init__(self, model):
        super().__init__()
        self.input_shape = list(model["input"])
        names = {}
        shapes = []          # per-sample output shape of each layer
        modules = []
        self.sources = []    # per layer: input indices (-1: the model's input)
        self.fused = []      # per layer: a dense layer's (activation, parameter)
        for i, spec in enumerate(model["layers"]):
            kind = spec["type"]
            if "inputs" in spec:
                src = [-1 if n == "input" else names[n] for n in spec["inputs"]]
            else:
                src = [i - 1]
            ins = [self.input_shape if s < 0 else shapes[s] for s in src]
            fused = ("none", 0.0)
            if kind == "dense":
                assert len(ins[0]) == 1, "layer %d: dense needs a flat input" % i
                modules.append(nn.Linear(ins[0][0], spec["units"], bias=spec.get("bias", True)))
                fused = act_of(spec, spec.get("activation", "none"))
                out = [spec["units"]]
            elif kind == "dropout":
                modules.append(nn.Dropout(spec.get("rate", 0.5)))
                out = ins[0]
            elif kind == "flatten":
                modules.append(nn.Flatten())
                out = [math.prod(ins[0])]
            elif kind == "conv2d":
                modules.append(conv2d_module(spec, ins[0]))
                fused = act_of(spec, spec.get("activation", "none"))
                out = output_shape(modules[-1], ins[0])
            elif kind == "add":
                assert all(s == ins[0] for s in ins), "layer %d: add of shapes %s" % (i, ins)
                modules.append(Add())
                out = ins[0]
            elif kind == "concat":
                axis = spec.get("axis", -1)
                axis = axis + len(ins[0]) if axis < 0 else axis
                modules.append(Concat(axis))
                out = list(ins[0])
                out[axis] = sum(s[axis] for s in ins)
            else:
                modules.append(act_module(*act_of(spec, kind)))
                out = ins[0]
            if "name" in spec:
                names[spec["name"]] = i
            shapes.append(out)
            self.sources.append(src)
            self.fused.append(fused)
        self.layers = nn.ModuleList(modules)
        self.output_shape = shapes[-1]

    def forward(self, x):
        outs = []
        for layer, src, fused in zip(self.layers, self.sources, self.fused):
            y = layer(*[x if s < 0 else outs[s] for s in src])
            outs.append(act_apply(y, *fused) if fused[0] != "none" else y)
        return outs[-1]


def load(path):
    tensors, meta = st.read(path)
    weights = {k: torch.tensor(v, dtype=torch.float32).reshape(s)
               for k, (s, v) in tensors.items() if k.startswith("layers.")}
    return weights, meta


def model_of(path):
    _, meta = st.read(path)
    assert "model" in meta, "%s has no __metadata__ model" % path
    return json.loads(meta["model"])


def data(path, input_shape):
    """CSV rows (header, features..., class), features reshaped to the
    model's input as cgrad does."""
    rows = [line.split(",") for line in open(path).read().split("\n")[1:] if line]
    x = torch.tensor([[float(v) for v in r[:-1]] for r in rows])
    y = torch.tensor([int(float(r[-1])) for r in rows])
    return x.reshape([len(rows)] + list(input_shape)), y


def predict(ckpt, csv, preds):
    model = model_of(ckpt)
    assert model.get("loss", "cross_entropy") == "cross_entropy"
    net = Graph(model)
    weights, _ = load(ckpt)
    net.load_state_dict(weights, strict=True)
    net.eval()
    x, _ = data(csv, net.input_shape)
    with torch.no_grad():
        probs = F.softmax(net(x), dim=1)
    rows = [line.split(",") for line in open(preds).read().split("\n")[1:] if line]
    theirs = torch.tensor([[float(v) for v in r[2:]] for r in rows])
    classes = torch.tensor([int(r[1]) for r in rows])
    assert theirs.shape == probs.shape, "PREDS is %s, torch's %s" % (list(theirs.shape), list(probs.shape))
    diff = (probs - theirs).abs().max().item()
    assert diff < 1e-5, "probabilities differ by %g" % diff
    # Where two classes are within cgrad's printed precision, argmax may pick either.
    top2 = probs.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-5
    assert torch.equal(classes[clear], probs.argmax(1)[clear]), "predicted classes differ"
    print("%s: predictions match (%d samples, max difference %.2g)" % (os.path.basename(ckpt), len(rows), diff))


def export(model_json, out, seed="0"):
    model = json.load(open(model_json))
    torch.manual_seed(int(seed))
    net = Graph(model)
    st.write(out, {k: (list(v.shape), v.flatten().tolist()) for k, v in net.state_dict().items()})
    print("exported %d tensors to %s" % (len(net.state_dict()), os.path.basename(out)))


def loss_fn(name):
    return {"cross_entropy": F.cross_entropy, "mse": F.mse_loss, "l1": F.l1_loss,
            "bce_with_logits": F.binary_cross_entropy_with_logits}[name]


def step(init, trained, csv, lr):
    model = model_of(trained)
    net = Graph(model)
    weights, _ = load(init)
    net.load_state_dict(weights, strict=True)
    net.train()
    for m in net.modules():
        assert not isinstance(m, nn.Dropout) or m.p == 0, "the step must be trained without dropout"
    opt = torch.optim.SGD(net.parameters(), lr=float(lr))
    x, y = data(csv, net.input_shape)
    opt.zero_grad()
    loss_fn(model.get("loss", "cross_entropy"))(net(x), y).backward()
    opt.step()
    theirs, _ = load(trained)
    assert set(theirs) == set(net.state_dict()), "parameter names differ"
    worst = 0.0
    for name, value in net.state_dict().items():
        moved = (value - weights[name]).abs().max().item()
        assert moved > 0, "%s did not move in torch's step" % name
        diff = (value - theirs[name]).abs().max().item()
        assert diff < 1e-6, "%s differs by %g after one SGD step" % (name, diff)
        worst = max(worst, diff)
    print("one SGD step matches torch.optim.SGD (%d tensors, max difference %.2g)" % (len(theirs), worst))


if __name__ == "__main__":
    commands = {"predict": predict, "export": export, "step": step}
    args = sys.argv[1:]
    while args:
        n = args.index("+") if "+" in args else len(args)
        commands[args[0]](*args[1:n])
        args = args[n + 1:]
