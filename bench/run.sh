#!/usr/bin/env bash
# The benchmark command (`make bench`): cgrad and PyTorch side by side on the
# workloads of WORKLOADS.md, same data, same thread count, runs alternating so
# machine noise hits every side alike; medians and spread; the GEMM limit of
# every training workload; the machine. Prints each run as JSON and the
# tables, and writes them to bench/results-latest.md. Never part of the tests.
#   bench/run.sh [RUNS] [THREADS]      (defaults 3 and 2)
# Environment (make bench passes these through):
#   TORCH=pypi  also PyTorch from PyPI, in bench/.venv (installed on first use,
#               ~6 GB with its CUDA libraries)
#   BLAS=mkl    also cgrad built with -DCG_BLAS=mkl (in build-mkl; MKL from
#               PyPI's mkl and mkl-include, installed into bench/.venv)
#   FULL=1      also time to accuracy (W1 to 88%, W2 to 91% test accuracy)
#               and W4's held-out bits/char after 2,000 steps; slow
#   SHORT=1     fewer steps (W1 200, W1b 50, W2 20, W4 20, W5 10; for a loaded machine)
#   QUICK=1     a few steps of everything, one run: checks that it all works
#   NO_W5_MPI=1 skip W5 (the char GPT) and bench/mpi.sh
#   ONLY=W1,W5  only these workloads (names as in the tables), no MPI part;
#               the tables then go to build/bench/results-only.md unless OUT
# OMP_WAIT_POLICY, when set, applies to every side (and is reported): on a
# loaded machine libgomp's spinning threads slow 2-thread runs many times.
#   OUT=FILE    where the tables go (default bench/results-latest.md; QUICK:
#               build/bench/results-quick.md)
#
# What each side times (bench/bench_train.c, bench/torch_bench.py):
#   W1, W1b, W2, W4, W5: optimizer steps after a warm-up (W1/W1b: steps
#     2-901 / 2-221 of epoch 1, W2: 6-105, W4: 11-110, W5: 6-45), the clock read after every
#     step. cgrad: everything cg_train does (batch gather, forward, loss,
#     backward, NaN check, clipping, optimizer). PyTorch: forward, loss,
#     zero_grad, backward, clipping, step; its images are permuted before
#     the timer (its strongest setup), its W4/W5 windows gathered inside it.
#   W3: evaluation-mode passes over test images in batches of 256 (forward,
#     loss, argmax), one untimed pass first. Weights are the initial ones.
#   start-up: process start (/proc/self/stat) to the end of the first step.
#   peak RSS: the whole process, data sets included.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
threads=${2:-2}
build=${BUILD:-build}
quick=${QUICK:-}
[[ -n $quick ]] && runs=1
out_md=${OUT:-bench/results-latest.md}
[[ -n $quick ]] && out_md=${OUT:-$build/bench/results-quick.md}
only=${ONLY:-}
[[ -n $only && -z $quick ]] && out_md=${OUT:-$build/bench/results-only.md}
venv=bench/.venv
openblas_dir=/usr/lib/x86_64-linux-gnu/openblas-openmp
# OpenBLAS must pick its best kernel for this CPU on every side.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_NUM_THREADS=$threads

have_torch=1
LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 -c "import torch" 2>/dev/null || have_torch=0
[[ $have_torch == 1 ]] || echo "bench: PyTorch not importable by /usr/bin/python3 (install python3-torch)" >&2

# A virtual environment for PyPI's torch and MKL, made on first use.
venv_install() {
    [[ -x $venv/bin/python ]] || /usr/bin/python3 -m venv "$venv"
    echo "bench: pip install $* into $venv" >&2
    nice -n 10 "$venv/bin/python" -m pip install --quiet "$@" >&2
}
have_pypi=0
if [[ ${TORCH:-} == pypi ]]; then
    "$venv/bin/python" -c "import torch, numpy" 2>/dev/null || venv_install torch numpy || true
    "$venv/bin/python" -c "import torch, numpy" 2>/dev/null && have_pypi=1 \
        || echo "bench: TORCH=pypi: torch could not be installed into $venv" >&2
fi
mkl_build=build-mkl
have_mkl=0
if [[ ${BLAS:-} == mkl ]]; then
    ls "$venv"/lib/libmkl_rt.so* >/dev/null 2>&1 || venv_install mkl mkl-include || true
    if cmake -S . -B "$mkl_build" -DCMAKE_BUILD_TYPE=Release -DCG_BLAS=mkl -DCG_BUILD_TESTS=OFF >/dev/null &&
       cmake --build "$mkl_build" -j "${JOBS:-2}" --target bench_train gemm_limit gemm_trace >/dev/null; then
        have_mkl=1
    else
        echo "bench: BLAS=mkl: the MKL build failed; OpenBLAS only" >&2
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/runs.jsonl
limits=$work/limits.jsonl
fortunes=/usr/share/games/fortunes
text=$work/fortunes.txt
if [[ -d $fortunes ]]; then
    # WORKLOADS.md W4: the text files sorted by name, concatenated.
    cat $(LC_ALL=C ls -d "$fortunes"/* | grep -v '\.dat$\|\.u8$') >"$text"
else
    echo "bench: $fortunes missing (apt-get install fortunes): W4 and W5 skipped" >&2
fi

# label CMD...: runs CMD, tags its JSON line with the label, keeps it. A
# side that fails is reported and left out; the others go on.
label() {
    local l=$1
    shift
    sleep 1   # let the previous process's threads wind down
    "$@" | sed "s/^{/{\"label\": \"$l\", /" | tee -a "$results" ||
        echo "bench: $l failed: $*" >&2
}
cgrad_side() { label cgrad "$build/bench/bench_train" "$@" --threads "$threads"; }
mkl_side() {
    MKL_THREADING_LAYER=GNU label cgrad-mkl "$mkl_build/bench/bench_train" "$@" --threads "$threads"
}
torch_debian() {
    LD_LIBRARY_PATH=$openblas_dir label torch-debian /usr/bin/python3 bench/torch_bench.py "$@" \
        --threads "$threads"
}
torch_pypi() { label torch-pypi "$venv/bin/python" bench/torch_bench.py "$@" --threads "$threads"; }

# Workload table: name | cgrad model and data | torch model | step options |
# samples (W4: tokens) per step or pass | options of the traced run.
if [[ -n ${SHORT:-} ]]; then
    s1="--warmup 1 --steps 200" s1b="--warmup 1 --steps 50" s2="--warmup 3 --steps 20"
    s4="--warmup 5 --steps 20" s5="--warmup 2 --steps 10" p3m="--passes 3" p3c="--passes 1 --samples 1024"
elif [[ -n $quick ]]; then
    s1="--warmup 1 --steps 5" s1b="--warmup 1 --steps 3" s2="--warmup 1 --steps 2" s4="--warmup 1 --steps 2"
    s5="--warmup 1 --steps 2"
    p3m="--passes 1 --samples 512" p3c="--passes 1 --samples 256"
else
    s1="--warmup 1 --steps 900" s1b="--warmup 1 --steps 220" s2="--warmup 5 --steps 100"
    s4="--warmup 10 --steps 100" s5="--warmup 5 --steps 40" p3m="--passes 20" p3c="--passes 2 --samples 2560"
fi
fm=fashion-mnist
n3m=$( [[ $p3m == *--samples* ]] && echo "${p3m##*--samples }" || echo 10000)
n3c=${p3c##*--samples }
tr="--warmup 3 --steps 2"
workloads=(
    "W1|bench/models/w1.json --data $fm:train|W1|$s1 --batch 64|64|$tr --batch 64"
    "W1b|bench/models/w1.json --data $fm:train|W1|$s1b --batch 256|256|$tr --batch 256"
    "W2|bench/models/w2.json --data $fm:train|W2|$s2 --batch 64|64|$tr --batch 64"
    "W3-MLP|bench/models/w1.json --data $fm:test --mode infer|W1 --mode infer|$p3m --batch 256|$n3m|--passes 2 --samples $n3m --batch 256"
    "W3-CNN|bench/models/w2.json --data $fm:test --mode infer|W2 --mode infer|$p3c --batch 256|$n3c|--passes 2 --samples $n3c --batch 256"
    "W4|models/char_lstm.json --data text:$text|W4 --text $text|$s4 --batch 32|2048|$tr --batch 32"
    "W5|models/char_gpt.json --data text:$text|W5 --text $text --model-file models/char_gpt.json|$s5 --batch 32|2048|$tr --batch 32"
)

machine() {
    local flags corename torch_d="" torch_p="" mkl_v=""
    flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|avx512vnni|amx_tile)$' | tr '\n' ' ')
    [[ $flags == *avx512f* ]] || flags+="(no AVX-512)"
    corename=$(LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 -c 'import ctypes;l=ctypes.CDLL("libopenblas.so.0");l.openblas_get_corename.restype=ctypes.c_char_p;l.openblas_get_config.restype=ctypes.c_char_p;print(l.openblas_get_config().decode(), "kernel", l.openblas_get_corename().decode())' 2>/dev/null || echo unknown)
    [[ $have_torch == 1 ]] && torch_d=$(LD_LIBRARY_PATH=$openblas_dir /usr/bin/python3 -c 'import torch;print(torch.__version__)')
    [[ $have_pypi == 1 ]] && torch_p=$("$venv/bin/python" -c 'import torch;print(torch.__version__)')
    [[ $have_mkl == 1 ]] && mkl_v=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mkl"))' 2>/dev/null || echo unknown)
    python3 - "$@" <<PY
import json
print(json.dumps({
 "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
 "CPU": "$(lscpu | sed -n 's/^Model name: *//p') (family $(sed -n 's/^cpu family\s*: //p' /proc/cpuinfo | head -1), model $(sed -n 's/^model\s*: //p' /proc/cpuinfo | head -1)), $(nproc) cores, L2 $(lscpu | sed -n 's/^L2 cache: *//p'), L3 $(lscpu | sed -n 's/^L3 cache: *//p'); flags: ${flags:-no AVX2}",
 "load average before / after": "$load_before / $(cut -d' ' -f1-3 /proc/loadavg)",
 "threads": $threads, "runs per side": $runs,
 "steps": "${SHORT:+SHORT=1 (fewer steps)}${quick:+QUICK=1 (a few steps)}" or "default",
 "OMP_WAIT_POLICY": "${OMP_WAIT_POLICY:-unset (libgomp: spin, then sleep)}",
 "OpenBLAS": "Debian $(dpkg-query -W -f '${Version}' libopenblas0-openmp 2>/dev/null) (OpenMP build): $corename",
 "MKL": "${mkl_v:+PyPI mkl $mkl_v (libmkl_rt, GNU OpenMP threading)}" or "not used",
 "compiler": "$(cc --version | head -1); -O3 -march=native -fno-math-errno -fno-trapping-math (CMake Release)",
 "PyTorch": "; ".join(x for x in ["${torch_d:+Debian $torch_d (OpenBLAS via LD_LIBRARY_PATH=$openblas_dir)}",
                                   "${torch_p:+PyPI $torch_p (MKL + oneDNN) in $venv}"] if x) or "none",
 "cgrad": "$(git describe --always --dirty 2>/dev/null) on branch $(git rev-parse --abbrev-ref HEAD 2>/dev/null)",
}))
PY
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads; runs=$runs; load $load_before"
for entry in "${workloads[@]}"; do
    IFS='|' read -r name cg tm opts units trace_opts <<<"$entry"
    [[ $name == W[45] && ! -s $text ]] && continue
    [[ $name == W5 && -n ${NO_W5_MPI:-} ]] && continue
    [[ -n $only && ",$only," != *",$name,"* ]] && continue
    for ((r = 1; r <= runs; r++)); do
        cgrad_side $cg $opts --seed "$r" --name "$name"
        [[ $have_torch == 1 ]] && torch_debian $tm $opts --seed "$r" --name "$name"
        [[ $have_pypi == 1 ]] && torch_pypi $tm $opts --seed "$r" --name "$name"
        [[ $have_mkl == 1 ]] && mkl_side $cg $opts --seed "$r" --name "$name"
    done
    # The GEMM limit: trace one short run's sgemm calls, replay its last
    # step (W3: its last pass).
    for side in cgrad cgrad-mkl; do
        b=$build env=()
        if [[ $side == cgrad-mkl ]]; then
            [[ $have_mkl == 1 ]] || continue
            b=$mkl_build env=(MKL_THREADING_LAYER=GNU)
        fi
        sleep 1
        env "${env[@]}" CG_GEMM_TRACE="$work/trace" LD_PRELOAD="$PWD/$build/bench/libgemm_trace.so" \
            "$b/bench/bench_train" $cg $trace_opts --threads "$threads" >/dev/null
        env "${env[@]}" "$b/bench/gemm_limit" "$work/trace" --threads "$threads" --units "$units" \
            --name "$name" | sed "s/^{/{\"label\": \"$side\", /" | tee -a "$limits"
    done
done

if [[ -n ${FULL:-} && -z $quick ]]; then
    for side in cgrad torch-debian torch-pypi cgrad-mkl; do
        case $side in
            torch-debian) [[ $have_torch == 1 ]] || continue ;;
            torch-pypi) [[ $have_pypi == 1 ]] || continue ;;
            cgrad-mkl) [[ $have_mkl == 1 ]] || continue ;;
        esac
        run_side() {
            case $side in
                cgrad) cgrad_side "$@" ;;
                cgrad-mkl) mkl_side "$@" ;;
                torch-debian) torch_debian "$@" ;;
                torch-pypi) torch_pypi "$@" ;;
            esac
        }
        if [[ $side == cgrad* ]]; then
            run_side bench/models/w1.json --data $fm:train --mode acc --target 0.88 --max-epochs 15 --name W1
            run_side bench/models/w2.json --data $fm:train --mode acc --target 0.91 --max-epochs 8 --name W2
            [[ -s $text ]] && run_side models/char_lstm.json --data text:$text --warmup 10 --steps 1990 \
                --heldout 1 --name W4
        else
            run_side W1 --mode acc --target 0.88 --max-epochs 15 --name W1
            run_side W2 --mode acc --target 0.91 --max-epochs 8 --name W2
            [[ -s $text ]] && run_side W4 --text "$text" --warmup 10 --steps 1990 --heldout --name W4
        fi
    done
fi

machine >"$work/machine.json"
echo
python3 bench/summarize.py "$results" "$limits" "$work/machine.json" "$out_md"
echo "bench: tables written to $out_md"
rm -rf "$work"
[[ -n $quick || -n ${NO_W5_MPI:-} || -n $only ]] && exit 0

# Data-parallel scaling (W1, W2: 1 process x 2 threads vs 2 ranks x 1
# thread) when MPI is installed; see bench/mpi.sh.
if command -v mpirun >/dev/null; then
  echo
  BUILD=$build bench/mpi.sh "$runs"
fi
