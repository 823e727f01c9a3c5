#!/usr/bin/env bash
# The benchmark command (`make bench`): cgrad and PyTorch side by side on the
# MLP workloads of WORKLOADS.md (W1: batch 64, W1b: batch 256), same data,
# same thread count, same OpenBLAS (the OpenMP build, its autodetected
# kernel), runs alternating so machine noise hits both alike. Prints every
# run as JSON and a table of medians. Never part of the tests.
#   bench/run.sh [RUNS] [THREADS]      (defaults 3 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
threads=${2:-2}
build=${BUILD:-build}
openblas_dir=/usr/lib/x86_64-linux-gnu/openblas-openmp
# OpenBLAS must pick its best kernel for this CPU on both sides.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS=$threads

have_torch=1
LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 -c "import torch" 2>/dev/null || have_torch=0
[[ $have_torch == 1 ]] || echo "bench: PyTorch not importable by /usr/bin/python3 (install python3-torch); cgrad only" >&2

results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads; runs=$runs"
echo "# OpenBLAS kernel: $(LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 -c 'import ctypes;l=ctypes.CDLL("libopenblas.so.0");l.openblas_get_corename.restype=ctypes.c_char_p;print(l.openblas_get_corename().decode())' 2>/dev/null || echo unknown)"
for batch in 64 256; do
  for ((r = 1; r <= runs; r++)); do
    sleep 1   # let the previous process's threads wind down
    "$build/bench/bench_mlp" --batch "$batch" --threads "$threads" --seed "$r" | tee -a "$results"
    if [[ $have_torch == 1 ]]; then
      sleep 1
      LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 bench/torch_mlp.py --batch "$batch" \
        --threads "$threads" --seed "$r" | tee -a "$results"
    fi
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("\n| workload | impl | median samples/s | min–max | test acc (median) | peak RSS MB |")
print("|---|---|---|---|---|---|")
med = {}
for batch, name in ((64, "W1"), (256, "W1b")):
    for impl in sorted({r["impl"] for r in rows}):
        rs = [r for r in rows if r["batch"] == batch and r["impl"] == impl]
        if not rs:
            continue
        sps = [r["samples_per_s"] for r in rs]
        med[(name, impl.split("-")[0])] = statistics.median(sps)
        print(f"| {name} (batch {batch}) | {impl} | {statistics.median(sps):,.0f} | "
              f"{min(sps):,.0f}–{max(sps):,.0f} | {statistics.median(r['test_accuracy'] for r in rs):.4f} | "
              f"{max(r.get('peak_rss_mb', 0) for r in rs):.0f} |")
for name in ("W1", "W1b"):
    if (name, "cgrad") in med and (name, "pytorch") in med:
        print(f"{name}: cgrad / PyTorch = {med[(name, 'cgrad')] / med[(name, 'pytorch')]:.2f}x")
PY

# Data-parallel scaling (W1, W2: 1 process x 2 threads vs 2 ranks x 1
# thread) when MPI is installed; see bench/mpi.sh.
if command -v mpirun >/dev/null; then
  echo
  BUILD=$build bench/mpi.sh "$runs"
fi
