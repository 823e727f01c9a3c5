#!/usr/bin/env python3
"""Compares the tensors of two checkpoints, ignoring their metadata.

  compare_tensors.py EXPECTED.safetensors GOT.safetensors exact
      every tensor equal bit for bit
  compare_tensors.py EXPECTED.safetensors GOT.safetensors KERNEL
      bit for bit when this machine's OpenBLAS runs KERNEL (the one the
      expected file was written with); otherwise within float32 rounding,
      since OpenBLAS's kernels for other CPUs sum in another order

  compare_tensors.py EXPECTED.safetensors GOT.safetensors rel=TOL
      every float tensor within TOL relative to its own scale
      (max |expected - got| / max |expected|), the others equal; for runs
      that sum the same numbers in another order (data-parallel ranks)

Same tensor names either way.
"""
import ctypes
import glob
import struct
import sys


def tensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    import json
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    return {k: (v["dtype"], raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in header.items()}


def openblas_core():
    for lib in sorted(glob.glob("/usr/lib/*/openblas-openmp/libopenblas.so.0")):
        blas = ctypes.CDLL(lib)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_corename().decode()
    return "unknown"


def within(want, got, tol):
    worst, where = 0.0, None
    for k, (dtype, blob) in want.items():
        if dtype != "F32":
            if blob != got[k][1]:
                sys.exit("%s differs" % k)
            continue
        a = struct.unpack("<%df" % (len(blob) // 4), blob)
        b = struct.unpack("<%df" % (len(blob) // 4), got[k][1])
        scale = max([abs(x) for x in a] + [1e-30])
        diff = max([abs(x - y) for x, y in zip(a, b)] + [0.0]) / scale
        if diff > worst:
            worst, where = diff, k
    if worst > tol:
        sys.exit("tensors differ by %g relative (%s), more than %g" % (worst, where, tol))
    print("within %g: worst relative difference %g (%s)" % (tol, worst, where))


def main():
    want, got, kernel = tensors(sys.argv[1]), tensors(sys.argv[2]), sys.argv[3]
    if sorted(want) != sorted(got):
        sys.exit("tensor names differ: %s vs %s" % (sorted(want), sorted(got)))
    exact = all(want[k] == got[k] for k in want)
    if kernel.startswith("rel="):
        return within(want, got, float(kernel[4:]))
    if kernel == "exact":
        if not exact:
            sys.exit("tensors differ: %s" % [k for k in want if want[k] != got[k]])
        print("bit-identical")
        return
    core = openblas_core()
    if core == kernel:
        if not exact:
            sys.exit("same OpenBLAS kernel (%s) but the tensors are not bit-identical" % core)
        print("bit-identical (OpenBLAS %s)" % core)
        return
    worst = 0.0
    for k, (dtype, blob) in want.items():
        if dtype != "F32":
            if blob != got[k][1]:
                sys.exit("%s differs" % k)
            continue
        a = struct.unpack("<%df" % (len(blob) // 4), blob)
        b = struct.unpack("<%df" % (len(blob) // 4), got[k][1])
        for x, y in zip(a, b):
            worst = max(worst, abs(x - y) / max(1e-3, abs(x)))
    if worst > 1e-4:
        sys.exit("tensors differ by %g (relative) on OpenBLAS %s" % (worst, core))
    print("%s (OpenBLAS %s, not %s): worst relative difference %g"
          % ("bit-identical" if exact else "close", core, kernel, worst))


main()
