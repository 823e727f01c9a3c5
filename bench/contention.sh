#!/usr/bin/env bash
# Threads under contention: W1 (batch 64, one epoch's first STEPS steps) by
# `cgrad train` with 1 thread, and with 2 threads under each OpenMP wait
# policy, first on an otherwise idle machine, then next to BUSY busy-loop
# processes (what a shared machine or a second job looks like). Runs
# alternate; medians of RUNS. Not a test: it measures.
#   bench/contention.sh [RUNS] [STEPS] [BUSY]      (defaults 3, 900, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
steps=${2:-900}
busy=${3:-1}
cgrad=${BUILD:-build}/cgrad
model=$(mktemp --suffix=.json)
burners=()
cleanup() {
    ((${#burners[@]})) && kill "${burners[@]}" 2>/dev/null
    rm -f "$model"
}
trap cleanup EXIT
cat >"$model" <<'JSON'
{"input": [784],
 "layers": [{"type": "dense", "units": 256, "activation": "relu"},
            {"type": "dense", "units": 128, "activation": "relu"},
            {"type": "dense", "units": 10}],
 "loss": "cross_entropy", "optimizer": {"type": "adam", "lr": 0.001},
 "train": {"epochs": 1, "batch": 64, "seed": 1}}
JSON

# one "ENV" "FLAGS": samples/s of one run
one() {
    # shellcheck disable=SC2086
    env $1 "$cgrad" train "$model" --data fashion-mnist:train --steps "$steps" $2 2>/dev/null |
        sed -n 's/.* \([0-9]*\) samples\/s$/\1/p' | head -1
}

# Each entry: label|environment|cgrad flags. cgrad's defaults: a short spin
# (GOMP_SPINCOUNT=10000, cli/wait_policy.c) and --thread-policy adapt.
configs=("1 thread|OMP_NUM_THREADS=1|"
         "2 threads: cgrad's defaults (short spin, adapt)|OMP_NUM_THREADS=2|"
         "2 threads: passive, adapt|OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive|"
         "2 threads: passive, fixed|OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive|--thread-policy fixed"
         "2 threads: libgomp's default spin, fixed|OMP_NUM_THREADS=2 GOMP_SPINCOUNT=300000|--thread-policy fixed"
         "2 threads: libgomp's default spin, adapt|OMP_NUM_THREADS=2 GOMP_SPINCOUNT=300000|")

measure() {
    local label=$1
    declare -A all=()
    for ((r = 1; r <= runs; r++)); do
        for c in "${configs[@]}"; do
            local name=${c%%|*} rest=${c#*|}
            all[$name]+="$(one "${rest%%|*}" "${rest#*|}") "
            sleep 1
        done
    done
    for c in "${configs[@]}"; do
        local name=${c%%|*}
        # shellcheck disable=SC2086
        printf '| %s | %s | %s |\n' "$label" "$name" \
            "$(printf '%s\n' ${all[$name]} | sort -n | awk '{v[NR]=$1} END {printf "%s (%s–%s)", v[int((NR+1)/2)], v[1], v[NR]}')"
    done
}

echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| machine | setting | W1 samples/s, median (min–max) |"
echo "|---|---|---|"
measure "as it is"
for ((b = 0; b < busy; b++)); do
    (while :; do :; done) &
    burners+=($!)
done
measure "$busy busy process(es)"
