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

# W5: the character-level GPT (models/char_gpt.json) on the fortunes text,
# training tokens/s over W5_STEPS optimizer steps (default 30), cgrad vs
# PyTorch (bench/torch_gpt.py, the same torch.nn model), alternating.
fortunes=/usr/share/games/fortunes
if [[ -d $fortunes ]]; then
  text=$(mktemp)
  trap 'rm -f "$results" "$text"' EXIT
  cat $(ls -d "$fortunes"/* | grep -v '\.dat$\|\.u8$') >"$text"
  w5=$(mktemp)
  for ((r = 1; r <= runs; r++)); do
    sleep 1
    "$build/cgrad" train models/char_gpt.json --data "text:$text" --steps "${W5_STEPS:-30}" \
      --threads "$threads" --seed "$r" --val-split 0.001 2>/dev/null \
      | sed -n 's/.* \([0-9.]*\) samples\/s.*/{"impl": "cgrad", "samples_per_s": \1}/p' | tee -a "$w5"
    if [[ $have_torch == 1 ]]; then
      sleep 1
      LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 bench/torch_gpt.py models/char_gpt.json "$text" \
        --steps "${W5_STEPS:-30}" --threads "$threads" --seed "$r" | tee -a "$w5"
    fi
  done
  python3 - "$w5" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
T = 64
med = {}
for impl in ("cgrad", "pytorch"):
    v = [r["samples_per_s"] * T if "samples_per_s" in r else r["train_tokens_per_s"]
         for r in rows if r["impl"].startswith(impl)]
    if v:
        med[impl] = statistics.median(v)
        print(f"W5 (char GPT, batch 32 x 64) | {impl} | median {med[impl]:,.0f} tokens/s | {min(v):,.0f}–{max(v):,.0f}")
if len(med) == 2:
    print(f"W5: cgrad / PyTorch = {med['cgrad'] / med['pytorch']:.2f}x")
PY
  rm -f "$w5"
  # What the step would reach if it were only its GEMMs at OpenBLAS's rate.
  LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 bench/gemm_limit.py --threads "$threads" 2>/dev/null \
    || echo "bench: numpy not importable by /usr/bin/python3: no GEMM limit" >&2
else
  echo "bench: $fortunes missing (apt-get install fortunes): W5 skipped" >&2
fi
