#!/usr/bin/env python3
"""An independent safetensors reader/writer (struct + json only, no cgrad or
safetensors code) and a pure-Python MLP forward pass, for the CLI tests.

  safetensors_py.py write OUT.safetensors [--drop NAME] [--reshape NAME] [--nan NAME]
      writes deterministic weights for the 4-5-3 tanh MLP of init_independent.sh
  safetensors_py.py loss FILE.safetensors DATA.csv
      checks FILE against the format spec and prints the model's mean
      cross-entropy and accuracy on DATA (header row, 4 features, class)
  safetensors_py.py tamper IN OUT KEY=VALUE... [NAME:=INT...]
      copies IN with __metadata__ KEY set to VALUE and the I64 scalar tensor
      NAME set to INT, as someone editing a checkpoint by hand would
"""
import json
import math
import struct
import sys

SHAPES = {"layers.0.weight": [5, 4], "layers.0.bias": [5],
          "layers.2.weight": [3, 5], "layers.2.bias": [3]}


# safetensors dtype -> struct format, for the dtypes cgrad reads and writes.
FORMATS = {"F32": "f", "I64": "q"}


def write(path, tensors):
    """tensors: name -> (shape, values) for F32, or (shape, values, dtype)
    with dtype "F32" or "I64" (an I64 scalar, e.g. a batch norm's
    num_batches_tracked, is ([], [n], "I64"))."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, values, dtype = (tuple(tensors[name]) + ("F32",))[:3]
        blob = struct.pack("<%d%s" % (len(values), FORMATS[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt", "writer": "safetensors_py.py"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read(path, dtypes=None):
    """(tensors, metadata): tensors maps name -> (shape, values), values
    floats for F32 and ints for I64; a dict given as dtypes receives each
    tensor's dtype."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header not padded to a multiple of 8"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    data = raw[8 + n:]
    spans = sorted(tuple(h["data_offsets"]) for h in header.values())
    pos = 0
    for begin, end in spans:  # contiguous, no gaps, no overlaps
        assert begin == pos, "gap or overlap in the data section"
        pos = end
    assert pos == len(data), "trailing bytes after the tensors"
    tensors = {}
    for name, h in header.items():
        begin, end = h["data_offsets"]
        count = math.prod(h["shape"]) if h["shape"] else 1
        fmt = FORMATS[h["dtype"]]
        assert end - begin == count * struct.calcsize(fmt)
        tensors[name] = (h["shape"], struct.unpack("<%d%s" % (count, fmt), data[begin:end]))
        if dtypes is not None:
            dtypes[name] = h["dtype"]
    return tensors, meta


def weights():
    out = {}
    for k, (name, shape) in enumerate(sorted(SHAPES.items())):
        count = math.prod(shape)
        out[name] = (shape, [0.5 * math.sin(1.7 * i + k) for i in range(count)])
    return out


def dense(x, w, b, rows, cols):
    return [sum(w[r * cols + c] * x[c] for c in range(cols)) + b[r] for r in range(rows)]


def loss(path, csv_path):
    t, _ = read(path)
    w0, b0, w2, b2 = (t[n][1] for n in ("layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"))
    total, right, n = 0.0, 0, 0
    for line in open(csv_path).read().split("\n")[1:]:
        if not line:
            continue
        *x, y = line.split(",")
        x, y = [float(v) for v in x], int(y)
        h = [math.tanh(v) for v in dense(x, w0, b0, 5, 4)]
        z = dense(h, w2, b2, 3, 5)
        m = max(z)
        lse = m + math.log(sum(math.exp(v - m) for v in z))
        total += lse - z[y]
        right += z.index(m) == y
        n += 1
    print("%.8f %.8f" % (total / n, right / n))


def tamper(src, dst, edits):
    raw = open(src, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    for edit in edits:
        if ":=" in edit:
            name, value = edit.split(":=", 1)
            begin, end = header[name]["data_offsets"]
            data = data[:begin] + struct.pack("<q", int(value)) + data[end:]
        else:
            key, value = edit.split("=", 1)
            header["__metadata__"][key] = value
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    if sys.argv[1] == "write":
        t = weights()
        args = sys.argv[3:]
        if "--drop" in args:
            del t[args[args.index("--drop") + 1]]
        if "--reshape" in args:
            name = args[args.index("--reshape") + 1]
            t[name] = (list(reversed(t[name][0])), t[name][1])
        if "--nan" in args:
            name = args[args.index("--nan") + 1]
            t[name] = (t[name][0], [float("nan")] + list(t[name][1][1:]))
        write(sys.argv[2], t)
    elif sys.argv[1] == "loss":
        loss(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "tamper":
        tamper(sys.argv[2], sys.argv[3], sys.argv[4:])


if __name__ == "__main__":
    main()
