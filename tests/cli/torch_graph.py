#!/usr/bin/python3
"""PyTorch side of the graph-model interop test (torch_interop_graph.sh).

Builds the torch.nn module of any cgrad model file -- flatten, dense and
conv2d (with their fused activation and that activation's parameter),
embedding, rnn/lstm/gru (stacked, bidirectional, last step), dropout, dropout2d, standalone activations, layernorm, batchnorm (BatchNorm1d/2d/3d by
the input's rank), normalize (buffers mean and var), maxpool2d, avgpool2d,
global_avgpool, add and concat,
connected by "name" / "inputs" -- whose `layers` ModuleList index i is the
model file's layer i, so a checkpoint's `layers.*` tensors (batch norm's
buffers included, num_batches_tracked as int64) load with strict=True.

  torch_graph.py predict CKPT DATA.csv PREDS.csv
      rebuilds the model from CKPT's __metadata__["model"], loads its weights
      and checks that torch's softmax outputs equal cgrad predict's PREDS.csv
  torch_graph.py export MODEL.json OUT.safetensors [SEED [WARM [VARIANT]]]
      writes torch's default-initialised state_dict for MODEL.json
      (torch.manual_seed(SEED), default 0), buffers included; with WARM > 0,
      WARM forward passes in training mode on random inputs first, so that
      batch norm's running statistics and num_batches_tracked (= WARM) are
      not their initial values (normalize's mean and var are always random);
      VARIANT "no-buffers" leaves the buffers out,
      "f32-count" writes num_batches_tracked as F32 (which cgrad refuses)
  torch_graph.py step INIT.safetensors TRAINED.safetensors DATA.csv LR
      checks that one full-batch SGD step from INIT (a weights-only file) in
      torch gives cgrad's TRAINED weights; the model is TRAINED's metadata
  torch_graph.py train INIT.safetensors TRAINED.safetensors DATA.csv EPOCHS BATCH
      trains in torch from INIT as `cgrad train --no-shuffle --init INIT
      --epochs EPOCHS --batch BATCH` does (file order, the last partial batch
      kept, the model's loss and optimizer with torch.optim's rule, constant
      learning rate; buffers INIT lacks keep their initial values) and
      checks that the weights and buffers equal TRAINED's (relative
      difference max|cgrad - torch| / max|torch| at most 1e-3 per tensor,
      num_batches_tracked exactly)
  torch_graph.py buffers CKPT N
      checks that every num_batches_tracked in CKPT is N
  torch_graph.py table CKPT DATA.csv PREDS.csv
      for a model trained on DATA.csv (a header, numeric features, text
      class labels, no validation split): the normalize layer's buffers
      equal torch's mean and population variance of DATA's features, the
      class names in __metadata__ (classes, table) are DATA's labels sorted,
      and cgrad predict's PREDS.csv (index,class,<name>...) has torch's
      softmax probabilities and names the argmax class

Several commands may be given in one call, separated by "+", so that torch
is imported once.
"""
import json
import math
import os
import sys
import warnings

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
    name = ACT_SYNONYMS.get(name.lower(), name.lower())
    assert name in ACTIVATIONS, "unknown activation %r" % name
    return name, float(spec.get(PARAM_KEY.get(name, ""), DEFAULT_PARAM.get(name, 0.0)))


def act_module(act, param):
    return {"none": nn.Identity, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
            "gelu": lambda: nn.GELU(approximate="none"), "softplus": nn.Softplus,
            "leaky_relu": lambda: nn.LeakyReLU(param), "elu": lambda: nn.ELU(param)}[act]()


def act_apply(x, act, param):
    return act_module(act, param)(x)


class Normalize(nn.Module):
    """normalize: (x - mean) / sqrt(var) with the buffers learned from the
    training data; with impute, NaN inputs become the feature's mean."""

    def __init__(self, features, impute):
        super().__init__()
        self.impute = impute
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("var", torch.ones(features))

    def forward(self, x):
        if self.impute:
            x = torch.where(torch.isnan(x), self.mean.expand_as(x), x)
        return (x - self.mean) / self.var.sqrt()


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
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def conv2d_module(spec, shape):
    """nn.Conv2d of a conv2d layer on a per-sample [C, H, W] input."""
    assert len(shape) == 3, "conv2d needs a [C, H, W] input, got %s" % shape
    padding = spec.get("padding", 0)
    return nn.Conv2d(shape[0], spec["filters"], pair(spec["kernel"]),
                     stride=pair(spec.get("stride", 1)),
                     padding=padding.lower() if isinstance(padding, str) else pair(padding),
                     dilation=pair(spec.get("dilation", 1)), groups=spec.get("groups", 1),
                     bias=spec.get("bias", True))


def batchnorm_module(spec, shape):
    """nn.BatchNorm1d / 2d / 3d of a batchnorm layer, chosen by the rank of
    the per-sample input as cgrad does ([C] or [C, L]; [C, H, W];
    [C, D, H, W])."""
    assert 1 <= len(shape) <= 4, "batchnorm on a per-sample %s input" % shape
    kind = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}[len(shape)]
    return kind(shape[0], eps=float(spec.get("eps", 1e-5)), momentum=float(spec.get("momentum", 0.1)),
                affine=spec.get("affine", True))


def pool2d_module(kind, spec, shape):
    """nn.MaxPool2d / nn.AvgPool2d (count_include_pad=True) of a pooling
    layer; the stride defaults to the kernel, as in both."""
    assert len(shape) == 3, "%s needs a [C, H, W] input, got %s" % (kind, shape)
    kernel = pair(spec["kernel"])
    args = dict(stride=pair(spec.get("stride", kernel)), padding=pair(spec.get("padding", 0)))
    if kind == "maxpool2d":
        return nn.MaxPool2d(kernel, **args)
    return nn.AvgPool2d(kernel, count_include_pad=True, **args)


def recurrent_module(spec, shape):
    """nn.RNN / nn.LSTM / nn.GRU (batch_first) of a recurrent layer on a
    per-sample [T, F] input, and its per-sample output shape."""
    assert len(shape) == 2, "%s needs a [T, F] input, got %s" % (spec["type"], shape)
    kind = spec["type"].lower()
    kw = dict(num_layers=spec.get("num_layers", 1), bias=spec.get("bias", True), batch_first=True,
              bidirectional=spec.get("bidirectional", False), dropout=spec.get("dropout", 0.0))
    if kind == "rnn":
        kw["nonlinearity"] = spec.get("nonlinearity", "tanh")
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](shape[1], spec["units"], **kw)
    width = spec["units"] * (2 if kw["bidirectional"] else 1)
    return module, ([shape[0], width] if spec.get("return_sequences", True) else [width])


class GlobalAvgPool(nn.Module):
    """global_avgpool: nn.AdaptiveAvgPool2d(1) then nn.Flatten()."""

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def output_shape(module, shape):
    """Per-sample output shape of module on a per-sample input shape."""
    with torch.no_grad():
        return list(module(torch.zeros([1] + list(shape))).shape[1:])


class Attention(nn.MultiheadAttention):
    """attention: nn.MultiheadAttention (batch_first) as self-attention, so
    its parameters keep their names; a causal mask when asked,
    key_padding_mask = (ids == padding_id) when the layer has a second
    input."""

    def __init__(self, spec, shape):
        super().__init__(shape[1], spec["heads"], dropout=spec.get("dropout", 0.0),
                         bias=spec.get("bias", True), batch_first=True)
        self.causal = spec.get("causal", False)
        self.padding_id = spec.get("padding_id")

    def forward(self, x, ids=None):
        T = x.shape[1]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1) if self.causal else None
        pad = (ids == self.padding_id) if ids is not None else None
        return super().forward(x, x, x, attn_mask=mask, key_padding_mask=pad, need_weights=False)[0]


class PositionEmbedding(nn.Module):
    """position_embedding: a learned [max_len, D] weight (N(0, 1)), or the
    sinusoidal encoding, added to the first T positions."""

    def __init__(self, spec, shape):
        super().__init__()
        self.sinusoidal = spec.get("kind", "learned") == "sinusoidal"
        if not self.sinusoidal:
            self.weight = nn.Parameter(torch.randn(spec["max_len"], shape[1]) * spec.get("init_std", 1.0))

    def forward(self, x):
        T, D = x.shape[1], x.shape[2]
        if not self.sinusoidal:
            return x + self.weight[:T]
        t = torch.arange(T, dtype=torch.float64)[:, None]
        j = torch.arange(D)
        angle = t / torch.pow(10000.0, (j - j % 2).double() / D)
        pe = torch.where(j % 2 == 1, torch.cos(angle), torch.sin(angle))
        return x + pe.to(x.dtype)


def expand_blocks(layers, input_shape):
    """transformer_block entries as the layers cgrad expands them into
    (src/io/modelfile_block.c); an unnamed input layer is named NAME_in."""
    out = []
    for spec in layers:
        if spec["type"].lower() != "transformer_block":
            out.append(dict(spec))
            continue
        name = spec.get("name", "block%d" % len(out))
        if "inputs" in spec:
            x = spec["inputs"][0]
        elif out:
            out[-1].setdefault("name", name + "_in")
            x = out[-1]["name"]
        else:
            x = "input"
        with torch.random.fork_rng():
            shapes = Graph({"input": input_shape, "layers": out}).shapes if out else []
        src = {l.get("name"): i for i, l in enumerate(out)}
        D = (input_shape if x == "input" else shapes[src[x]])[-1]
        drop = spec.get("dropout", 0)
        part = lambda t, suffix, ins, **kw: dict(type=t, name=name + ("_" + suffix if suffix else ""), inputs=ins, **kw)
        eps = {"eps": spec["eps"]} if "eps" in spec else {}
        att = {k: spec[k] for k in ("heads", "causal", "dropout", "tile") if k in spec}
        out.append(part("layernorm", "ln1", [x], normalized_shape=D, **eps))
        out.append(part("attention", "attn", [name + "_ln1"], **att))
        a = name + "_attn"
        if drop:
            out.append(part("dropout", "drop1", [a], rate=drop))
            a = name + "_drop1"
        out.append(part("add", "res", [x, a]))
        out.append(part("layernorm", "ln2", [name + "_res"], normalized_shape=D, **eps))
        out.append(part("dense", "fc", [name + "_ln2"], units=spec.get("mlp", 4 * D),
                        activation=spec.get("activation", "gelu")))
        out.append(part("dense", "proj", [name + "_fc"], units=D))
        m = name + "_proj"
        if drop:
            out.append(part("dropout", "drop2", [m], rate=drop))
            m = name + "_drop2"
        out.append(part("add", "", [name + "_res", m]))
    return out


class Graph(nn.Module):
    """A cgrad model file as a torch.nn.Module."""

    def __init__(self, model):
        super().__init__()
        self.input_shape = list(model["input"])
        layers = expand_blocks(model["layers"], self.input_shape)
        self.aliases = {}   # state_dict name of a tied weight -> its embedding's name
        names = {}
        shapes = []          # per-sample output shape of each layer
        modules = []
        self.sources = []    # per layer: input indices (-1: the model's input)
        self.fused = []      # per layer: a dense layer's (activation, parameter)
        for i, spec in enumerate(layers):
            kind = spec["type"].lower()
            if "inputs" in spec:
                src = [-1 if n == "input" else names[n] for n in spec["inputs"]]
            else:
                src = [i - 1]
            ins = [self.input_shape if s < 0 else shapes[s] for s in src]
            fused = ("none", 0.0)
            if kind == "dense":
                assert len(ins[0]) in (1, 2), "layer %d: dense needs a flat input or [T, F]" % i
                modules.append(nn.Linear(ins[0][-1], spec["units"], bias=spec.get("bias", True)))
                fused = act_of(spec, spec.get("activation", "none"))
                out = ins[0][:-1] + [spec["units"]]
                if "tie_to" in spec:
                    # One tensor under two names, as GPT-2's lm_head.
                    modules[-1].weight = modules[names[spec["tie_to"]]].weight
                    self.aliases["layers.%d.weight" % i] = "layers.%d.weight" % names[spec["tie_to"]]
            elif kind == "attention":
                modules.append(Attention(spec, ins[0]))
                out = ins[0]
            elif kind == "position_embedding":
                modules.append(PositionEmbedding(spec, ins[0]))
                out = ins[0]
            elif kind == "embedding":
                modules.append(nn.Embedding(spec["vocab"], spec["dim"]))
                if "init_std" in spec:
                    nn.init.normal_(modules[-1].weight, 0.0, spec["init_std"])
                out = list(ins[0]) + [spec["dim"]]
            elif kind in ("rnn", "lstm", "gru"):
                module, out = recurrent_module(spec, ins[0])
                modules.append(module)
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
            elif kind == "batchnorm":
                modules.append(batchnorm_module(spec, ins[0]))
                out = ins[0]
            elif kind == "normalize":
                assert len(ins[0]) == 1 and src == [-1], "layer %d: normalize reads the flat model input" % i
                modules.append(Normalize(ins[0][0], spec.get("impute", "none") == "mean"))
                out = ins[0]
            elif kind == "layernorm":
                shape = spec.get("normalized_shape", ins[0])
                shape = [shape] if isinstance(shape, int) else list(shape)
                modules.append(nn.LayerNorm(shape, eps=float(spec.get("eps", 1e-5)),
                                            elementwise_affine=spec.get("elementwise_affine", True)))
                out = ins[0]
            elif kind in ("maxpool2d", "avgpool2d"):
                modules.append(pool2d_module(kind, spec, ins[0]))
                out = output_shape(modules[-1], ins[0])
            elif kind == "global_avgpool":
                assert len(ins[0]) == 3, "layer %d: global_avgpool needs a [C, H, W] input" % i
                modules.append(GlobalAvgPool())
                out = [ins[0][0]]
            elif kind == "dropout2d":
                assert len(ins[0]) == 3, "layer %d: dropout2d needs a [C, H, W] input" % i
                modules.append(nn.Dropout2d(spec.get("rate", 0.5)))
                out = ins[0]
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
        self.shapes = shapes
        self.output_shape = shapes[-1]

    def forward(self, x):
        outs = []
        for layer, src, fused in zip(self.layers, self.sources, self.fused):
            ins = [x if s < 0 else outs[s] for s in src]
            if isinstance(layer, nn.Embedding):
                y = layer(ins[0].long())
            elif isinstance(layer, nn.RNNBase):
                y = layer(ins[0])[0]
                if y.dim() - 1 > len(self.shapes[len(outs)]):
                    y = y[:, -1]   # return_sequences false: the last step
            else:
                y = layer(*ins)
            outs.append(act_apply(y, *fused) if fused[0] != "none" else y)
        return outs[-1]


TORCH_DTYPES = {"F32": torch.float32, "I64": torch.int64}
FILE_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def load(path):
    """The layers.* tensors of a safetensors file (int64 ones as int64) and
    its metadata."""
    dtypes = {}
    tensors, meta = st.read(path, dtypes)
    weights = {k: torch.tensor(v, dtype=TORCH_DTYPES[dtypes[k]]).reshape(s)
               for k, (s, v) in tensors.items() if k.startswith("layers.")}
    return weights, meta


def save(path, state):
    st.write(path, {k: (list(v.shape), v.flatten().tolist(), FILE_DTYPES[v.dtype])
                    for k, v in state.items()})


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
    # cgrad saves a tied weight once, under its embedding's name.
    weights.update({alias: weights[owner] for alias, owner in net.aliases.items()})
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


def export(model_json, out, seed="0", warm="0", variant=""):
    model = json.load(open(model_json))
    torch.manual_seed(int(seed))
    net = Graph(model)
    if int(warm) > 0:
        net.train()
        with torch.no_grad():
            for _ in range(int(warm)):
                net(torch.randn([8] + net.input_shape) * 1.5 + 0.3)
    with torch.no_grad():  # statistics that are not the identity, as learned ones would be
        for m in net.modules():
            if isinstance(m, Normalize):
                m.mean.copy_(torch.randn(m.mean.shape) * 0.5)
                m.var.copy_(torch.rand(m.var.shape) + 0.5)
    state = net.state_dict()
    if variant == "no-buffers":
        params = {name for name, _ in net.named_parameters()}
        state = {k: v for k, v in state.items() if k in params}
    elif variant == "f32-count":
        state = {k: v.float() if k.endswith(".num_batches_tracked") else v for k, v in state.items()}
    else:
        assert variant == "", "export: unknown VARIANT %r" % variant
    save(out, state)
    print("exported %d tensors to %s" % (len(state), os.path.basename(out)))


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


def param_groups(net, model):
    """net's parameters, or two groups when the optimizer has "no_decay":
    biases (names ending in "bias") and normalisation layers' parameters
    get weight_decay 0, as cgrad's cg_model_apply_no_decay."""
    flags = set(model.get("optimizer", {}).get("no_decay", []))
    if not flags:
        return list(net.parameters())
    norms = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    decay, exempt = [], []
    for name, p in net.named_parameters():
        layer = net.layers[int(name.split(".")[1])]
        skip = ("bias" in flags and name.endswith("bias")) or ("norm" in flags and isinstance(layer, norms))
        (exempt if skip else decay).append(p)
    return [{"params": decay}, {"params": exempt, "weight_decay": 0.0}]


def optimizer(spec, params):
    """torch.optim's optimizer for a model file's (canonical) "optimizer"."""
    spec = dict(spec)
    spec.pop("no_decay", None)
    kind = spec.pop("type", "adam").lower()
    if "betas" in spec:
        spec["betas"] = tuple(spec["betas"])
    return {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
            "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[kind](params, **spec)


def relative_difference(a, b):
    """max |a - b| over max |b| (over 1 where b is all zeros)."""
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / (scale if scale > 0 else 1.0)


def step_scheduler(opt, s, total_steps):
    """A per-step schedule of the model file as torch schedulers, stepped
    after every optimizer step (what GPT recipes do): LinearLR warm-up, then
    the main rule, joined by SequentialLR. None for a constant lr."""
    kind, warmup = s.get("type", "constant"), s.get("warmup_steps", 0)
    if kind == "constant" and warmup == 0:
        return None
    assert s.get("per") == "step", "train: a schedule other than constant must be per step"
    # SequentialLR calls step(0) on the scheduler it switches to and warns.
    warnings.filterwarnings("ignore", message="The epoch parameter")
    sched = torch.optim.lr_scheduler
    warm = sched.LinearLR(opt, start_factor=s["warmup_start_factor"], end_factor=1.0,
                          total_iters=warmup) if warmup else None
    if kind == "constant":
        main = sched.LambdaLR(opt, lambda _: 1.0)
    elif kind == "cosine":
        main = sched.CosineAnnealingLR(opt, T_max=s.get("t_max") or max(total_steps - warmup, 1),
                                       eta_min=s.get("eta_min", 0.0))
    elif kind == "step":
        main = sched.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    else:
        assert kind == "exponential", "train: schedule %s" % kind
        main = sched.ExponentialLR(opt, gamma=s["gamma"])
    return sched.SequentialLR(opt, [warm, main], milestones=[warmup]) if warm else main


def train(init, trained, csv, epochs, batch):
    model = model_of(trained)
    assert model.get("train", {}).get("clip_grad_norm", 0) == 0, "train: no gradient clipping"
    net = Graph(model)
    weights, _ = load(init)
    # Buffers INIT lacks keep their initial values, as in cgrad.
    missing, unexpected = net.load_state_dict(weights, strict=False)
    params = {name for name, _ in net.named_parameters()}
    assert not unexpected and not params & set(missing), \
        "%s: unexpected %s, missing parameters %s" % (init, unexpected, sorted(params & set(missing)))
    # (torch's batch norm fills in a missing num_batches_tracked itself.)
    missing = sorted(set(net.state_dict()) - set(weights) - set(net.aliases))
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    for m in net.modules():
        assert not isinstance(m, (nn.Dropout, nn.Dropout2d)) or m.p == 0, "train needs dropout 0"
    opt = optimizer(model.get("optimizer", {}), param_groups(net, model))
    lossf = loss_fn(model.get("loss", "cross_entropy"))
    x, y = data(csv, net.input_shape)
    batch, steps = int(batch), 0
    sched = step_scheduler(opt, model.get("schedule", {}), int(epochs) * ((len(x) + batch - 1) // batch))
    lrs = []
    for _ in range(int(epochs)):
        for first in range(0, len(x), batch):
            opt.zero_grad()
            lossf(net(x[first:first + batch]), y[first:first + batch]).backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched:
                sched.step()
            steps += 1
    theirs, _ = load(trained)
    # A tied weight is saved once by cgrad, under its embedding's name.
    ours = {k: v for k, v in net.state_dict().items() if k not in net.aliases}
    assert set(theirs) == set(ours), "tensor names differ: %s" % sorted(set(theirs) ^ set(ours))
    worst = {"parameters": 0.0, "buffers": 0.0}
    for name, value in ours.items():
        assert theirs[name].dtype == value.dtype, "%s: dtype %s, torch's %s" % (name, theirs[name].dtype, value.dtype)
        assert theirs[name].shape == value.shape, "%s: shape %s, torch's %s" % (name, list(theirs[name].shape), list(value.shape))
        if value.dtype == torch.int64:
            assert torch.equal(theirs[name], value), "%s is %s, torch's %s" % (name, theirs[name].tolist(), value.tolist())
            continue
        # normalize's statistics are learned before training, not by it.
        fixed = name.endswith((".mean", ".var"))
        assert fixed or not torch.equal(value, weights[name]), "%s did not change in torch's training" % name
        a, b = theirs[name], value
        if name.endswith("in_proj_bias"):
            # The key bias adds q·b_k to every score of a row, which softmax
            # ignores: its gradient is 0 up to rounding, and Adam turns that
            # noise into steps of lr whose sign is the noise's. Compare the
            # query and value biases.
            d = len(b) // 3
            a, b = torch.cat([a[:d], a[2 * d:]]), torch.cat([b[:d], b[2 * d:]])
        diff = relative_difference(a, b)
        assert diff <= 1e-3, "%s differs from torch's by %.3g (relative) after %d steps" % (name, diff, steps)
        kind = "parameters" if name in params else "buffers"
        worst[kind] = max(worst[kind], diff)
    if sched:
        print("%s: per-step schedule, lr %s" % (os.path.basename(trained),
                                               " ".join("%.4g" % v for v in lrs)))
    print("%s: %d steps of torch.optim.%s match (%d tensors%s; max relative difference: "
          "parameters %.2g, buffers %.2g)" % (os.path.basename(trained), steps, type(opt).__name__,
                                              len(ours), ", %d initial buffers" % len(missing) if missing else "",
                                              worst["parameters"], worst["buffers"]))


def buffers(ckpt, n):
    weights, _ = load(ckpt)
    tracked = {k: v.item() for k, v in weights.items() if k.endswith(".num_batches_tracked")}
    assert tracked, "%s has no num_batches_tracked" % ckpt
    assert all(v == int(n) for v in tracked.values()), "num_batches_tracked: %s, expected %s" % (tracked, n)
    print("%s: num_batches_tracked = %s in %d layers" % (os.path.basename(ckpt), n, len(tracked)))


def table(ckpt, csv_path, preds):
    import csv
    with open(csv_path, newline="") as f:
        header, *rows = list(csv.reader(f))
    labels = sorted({r[-1] for r in rows})
    x = torch.tensor([[float(v) for v in r[:-1]] for r in rows], dtype=torch.float64)
    weights, meta = load(ckpt)
    assert json.loads(meta["classes"]) == labels, "classes %s, DATA's labels %s" % (meta["classes"], labels)
    tab = json.loads(meta["table"])
    assert tab["classes"] == labels and tab["names"] == header and tab["target"] == len(header) - 1, tab
    net = Graph(json.loads(meta["model"]))
    net.load_state_dict(weights, strict=True)
    net.eval()
    norms = [i for i, m in enumerate(net.layers) if isinstance(m, Normalize)]
    assert norms, "the model has no normalize layer"
    mean, var = x.mean(0), x.var(0, unbiased=False)
    var = torch.where(var > 0, var, torch.ones_like(var))
    for i in norms:
        for name, want in (("mean", mean), ("var", var)):
            diff = relative_difference(weights["layers.%d.%s" % (i, name)].double(), want)
            assert diff < 1e-5, "layers.%d.%s differs from torch's by %.3g (relative)" % (i, name, diff)
    with torch.no_grad():
        probs = F.softmax(net(x.float()), dim=1)
    with open(preds, newline="") as f:
        head, *out = list(csv.reader(f))
    assert head == ["index", "class"] + labels, "PREDS header %s" % head
    theirs = torch.tensor([[float(v) for v in r[2:]] for r in out])
    diff = (probs - theirs).abs().max().item()
    assert diff < 1e-5, "probabilities differ by %g" % diff
    top2 = probs.topk(2, dim=1).values
    for r, p, clear in zip(out, probs, (top2[:, 0] - top2[:, 1]) > 1e-5):
        assert not clear or r[1] == labels[p.argmax().item()], "row %s: class %s, torch's %s" % (r[0], r[1], labels[p.argmax().item()])
    print("%s: statistics, class names and %d predictions match torch (max difference %.2g)"
          % (os.path.basename(ckpt), len(out), diff))


if __name__ == "__main__":
    commands = {"predict": predict, "export": export, "step": step, "train": train, "buffers": buffers,
                "table": table}
    args = sys.argv[1:]
    while args:
        n = args.index("+") if "+" in args else len(args)
        commands[args[0]](*args[1:n])
        args = args[n + 1:]
