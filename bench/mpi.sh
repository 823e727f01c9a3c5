#!/usr/bin/env bash
# Data-parallel scaling on one machine (docs/distributed.md): training
# samples/s of W1 and W2 (../shared/WORKLOADS.md: Fashion-MNIST, Adam 1e-3,
# global batch 64) as one process with 2 threads and as 2 ranks under mpirun
# with 1 thread each, the gradient allreduce time per step, and the scaling
# efficiency (2 ranks / 1 process at the same core count). The 2-rank runs
# are made twice: with one allreduce after the backward pass
# (CGRAD_BUCKET_KB=0) and with the default buckets that overlap it (or the
# sizes in BUCKETS_KB, space-separated). Runs alternate so machine noise
# hits all alike; medians are reported. Never part of the tests. Needs
# mpirun and a cgrad built with MPI.
#   bench/mpi.sh [RUNS] [W2_STEPS] [W1_STEPS]   (defaults 3, 150, a whole epoch)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
w2_steps=${2:-150}
w1_steps=${3:-}
read -ra buckets <<<"${BUCKETS_KB:-0 default}"
cgrad=${BUILD:-build}/cgrad
command -v mpirun >/dev/null || { echo "bench/mpi.sh: mpirun not found; skipped" >&2; exit 0; }
mpirun=(mpirun --oversubscribe -np 2 -x CGRAD_BUCKET_KB)
[[ $(id -u) == 0 ]] && mpirun+=(--allow-run-as-root)
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# one WORKLOAD NP [BUCKET_KB]: a JSON line with samples/s and allreduce
# ms/step ("default": the library's bucket size).
one() {
    local w=$1 np=$2 bucket=${3:-} out extra=()
    [[ $w == W2 ]] && extra=(--steps "$w2_steps")
    [[ $w == W1 && -n $w1_steps ]] && extra=(--steps "$w1_steps")
    local model=bench/models/$(tr W w <<<"$w").json   # make bench's W1, W2
    if [[ $np == 1 ]]; then
        out=$(OMP_NUM_THREADS=2 "$cgrad" train "$model" --data fashion-mnist:train --threads 2 \
              "${extra[@]}" 2>&1)
    else
        [[ $bucket == default ]] && export CGRAD_BUCKET_KB= || export CGRAD_BUCKET_KB=$bucket
        out=$(OMP_NUM_THREADS=1 "${mpirun[@]}" "$cgrad" train "$model" --data fashion-mnist:train \
              --threads 1 "${extra[@]}" 2>&1)
    fi
    local sps ms
    sps=$(sed -n 's/.* \([0-9][0-9]*\) samples\/s.*/\1/p' <<<"$out" | tail -1)
    ms=$(sed -n 's/.*gradient allreduce \([0-9.]*\) ms\/step.*/\1/p' <<<"$out")
    [[ -n $sps ]] || { echo "$out" >&2; echo "bench/mpi.sh: no samples/s from $w np=$np" >&2; exit 1; }
    echo "{\"workload\":\"$w\",\"np\":$np,\"bucket_kb\":\"${bucket:--}\",\"threads_per_rank\":$((np == 1 ? 2 : 1)),\"samples_per_s\":$sps,\"allreduce_ms_per_step\":${ms:-0}}"
}

results=$work/results
echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg);" \
     "runs=$runs; W1: ${w1_steps:-938} steps, W2: $w2_steps steps; buckets: ${buckets[*]}"
for w in ${WORKLOADS:-W1 W2}; do
    for ((r = 1; r <= runs; r++)); do
        sleep 1
        one "$w" 1 | tee -a "$results"
        for b in "${buckets[@]}"; do
            sleep 1
            one "$w" 2 "$b" | tee -a "$results"
        done
    done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("\n| workload | np x threads | buckets (KiB) | median samples/s | min-max | allreduce ms/step | efficiency |")
print("|---|---|---|---|---|---|---|")
for w in dict.fromkeys(r["workload"] for r in rows):
    base = None
    for key in dict.fromkeys((r["np"], r["bucket_kb"]) for r in rows if r["workload"] == w):
        rs = [r for r in rows if r["workload"] == w and (r["np"], r["bucket_kb"]) == key]
        sps = [r["samples_per_s"] for r in rs]
        med = statistics.median(sps)
        base = med if key[0] == 1 else base
        ms = statistics.median(r["allreduce_ms_per_step"] for r in rs)
        eff = "" if key[0] == 1 or not base else f"{med / base:.2f}"
        label = {"-": "", "0": "0 (one allreduce)"}.get(key[1], key[1])
        print(f"| {w} | {key[0]} x {2 // key[0]} | {label} | {med:,.0f} | {min(sps):,.0f}-{max(sps):,.0f} | "
              f"{ms:.3f} | {eff} |")
PY
