#!/usr/bin/env bash
# The benchmark's tools still run and say what bench/run.sh reads (a smoke
# test with a tiny model; no speed is checked): bench_train in its train and
# inference modes, the GEMM trace and its replay (gemm_limit), summarize.py
# over their output, and that the shell and Python scripts parse.
source "$(dirname "$0")/common.bash"
bin=${CG_BUILD_DIR:?}/bench
[[ -x $bin/bench_train && -x $bin/gemm_limit ]] || { echo "bench programs not built"; exit 77; }

for ((i = 0; i < 60; i++)); do printf 'the cat sat on the mat. '; done >"$WORK/cats.txt"
cat >"$WORK/lm.json" <<'JSON'
{"input": [16],
 "layers": [{"type": "embedding", "vocab": 12, "dim": 8},
            {"type": "lstm", "units": 32},
            {"type": "dense", "units": 12}],
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "lr": 0.02},
 "train": {"epochs": 1, "batch": 8, "seed": 2, "clip_grad_norm": 1.0}}
JSON

# field NAME FILE: the value of a numeric JSON field on FILE's last line.
field() { python3 -c "import json,sys; print(json.loads(open(sys.argv[2]).read().splitlines()[-1])[sys.argv[1]])" "$1" "$2"; }

expect_exit 0 "$bin/bench_train" "$WORK/lm.json" --data "text:$WORK/cats.txt" --warmup 1 --steps 3 \
    --threads 1 --name W4 --heldout 1
cp "$WORK/out" "$WORK/train.json"
[[ $(field timed_steps "$WORK/train.json") == 3 ]] || fail "bench_train timed $(field timed_steps "$WORK/train.json") steps, not 3"
python3 -c "import sys; assert float(sys.argv[1]) > 0" "$(field tokens_per_s "$WORK/train.json")" \
    || fail "no tokens/s"
field val_bits_per_char "$WORK/train.json" >/dev/null || fail "no held-out bits/char"

expect_exit 0 "$bin/bench_train" "$WORK/lm.json" --data "text:$WORK/cats.txt" --mode infer --passes 1 \
    --threads 1 --name W3
[[ $(field passes "$WORK/out") == 1 ]] || fail "bench_train --mode infer: no passes"

expect_exit 2 "$bin/bench_train" "$WORK/lm.json" --data "text:$WORK/cats.txt" --bogus 1
expect_in "unknown option --bogus" "$WORK/err"

# The trace needs LD_PRELOAD, which a sanitizer runtime must come before.
libs=$(ldd "$bin/bench_train")
if [[ -f $bin/libgemm_trace.so && $libs != *libasan* ]]; then
    CG_GEMM_TRACE="$WORK/trace" LD_PRELOAD="$bin/libgemm_trace.so" \
        expect_exit 0 "$bin/bench_train" "$WORK/lm.json" --data "text:$WORK/cats.txt" --warmup 2 --steps 2 \
        --threads 1
    [[ $(grep -c '^S ' "$WORK/trace") == 4 ]] || fail "trace: expected 4 step marks"
    grep -q '^G 0 1 ' "$WORK/trace" || fail "trace: no NT call (the LSTM's input projection)"
    expect_exit 0 "$bin/gemm_limit" "$WORK/trace" --threads 1 --units 128 --name W4 --seconds 0
    sed 's/^{/{"label": "cgrad", /' "$WORK/out" >"$WORK/limits.jsonl"
    # A step's products: the dense layer's 3 and the LSTM's 4 outside its time
    # loop (sgemm), and its per-step ones, 15 forward and 15 backward (the
    # first step's state is zero: no product), which run on ops/panel_gemm.c
    # and reach the trace through its hook.
    [[ $(field calls "$WORK/out") == 37 ]] || fail "gemm_limit replayed $(field calls "$WORK/out") calls, not 37"
    expect_exit 1 "$bin/gemm_limit" "$WORK/cats.txt"
    expect_in "fewer than two step marks" "$WORK/err"
else
    : >"$WORK/limits.jsonl"
fi

sed 's/^{/{"label": "cgrad", /' "$WORK/train.json" >"$WORK/runs.jsonl"
echo '{"date": "today", "CPU": "test"}' >"$WORK/machine.json"
expect_exit 0 python3 "$CG_SOURCE_DIR/bench/summarize.py" "$WORK/runs.jsonl" "$WORK/limits.jsonl" \
    "$WORK/machine.json" "$WORK/results.md"
expect_in "| W4 | tokens/s |" "$WORK/results.md"

bash -n "$CG_SOURCE_DIR/bench/run.sh" || fail "bench/run.sh does not parse"
python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$CG_SOURCE_DIR/bench/torch_bench.py" || fail "bench/torch_bench.py does not parse"
echo "ok"
