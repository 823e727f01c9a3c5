"""Checks cgrad's safetensors files with the reference implementation (the
`safetensors` package, numpy API), and writes one with it for cgrad to read.

  safetensors_official.py check CKPT     every tensor loads; metadata is str->str
  safetensors_official.py write OUT      the model of safetensors_official.sh,
                                         written by safetensors.numpy.save_file
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def check(path):
    tensors = load_file(path)
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
        names = list(f.keys())
    assert meta and all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    for key in ("model", "epoch", "step"):
        assert key in meta, "metadata lacks " + key
    assert tensors["layers.0.weight"].shape == (6, 4) and tensors["layers.0.weight"].dtype == np.float32
    assert tensors["layers.1.bias"].shape == (3,)
    assert tensors["optim.step"].dtype == np.int64 and tensors["optim.step"].shape == ()
    assert all(np.isfinite(t).all() for t in tensors.values())
    print("reference reader: %d tensors, %d metadata keys" % (len(names), len(meta)))


def write(path):
    rng = np.random.default_rng(3)
    save_file({"layers.0.weight": rng.uniform(-0.5, 0.5, (6, 4)).astype(np.float32),
               "layers.0.bias": np.zeros(6, np.float32),
               "layers.1.weight": rng.uniform(-0.4, 0.4, (3, 6)).astype(np.float32),
               "layers.1.bias": np.full(3, 0.1, np.float32)}, path, metadata={"source": "numpy"})


if __name__ == "__main__":
    {"check": check, "write": write}[sys.argv[1]](sys.argv[2])
