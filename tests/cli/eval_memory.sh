#!/usr/bin/env bash
# Evaluation of a sequence model runs in chunks: its peak memory stays near
# training's instead of holding every activation of a 1,024-window batch.
# A 256-character Transformer evaluated on ~1,000 windows peaked at 480 MB
# in one batch (each window's layer outputs) and 75 MB in chunks (2026-11-30);
# the held-out loss is the same whatever the batch.
source "$(dirname "$0")/common.bash"
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time missing: skipped"; exit 77; }
THREADS=(--threads 1)

awk 'BEGIN { srand(3); for (i = 0; i < 270000; i++) printf "%c", 97 + int(rand() * 8) }' >"$WORK/t.txt"
cat >"$WORK/gpt.json" <<'JSON'
{"input": [256],
 "layers": [{"type": "embedding", "vocab": 8, "dim": 32},
            {"type": "position_embedding", "max_len": 256},
            {"type": "transformer_block", "heads": 4, "causal": true, "mlp": 64},
            {"type": "dense", "units": 8}],
 "loss": "cross_entropy",
 "train": {"epochs": 1, "steps": 1, "batch": 2, "seed": 1}}
JSON

expect_exit 0 "$CGRAD" train "$WORK/gpt.json" --data "text:$WORK/t.txt" --val-split 0.001 \
    --save "$WORK/gpt.safetensors" "${THREADS[@]}"
peak_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
/usr/bin/time -v "$CGRAD" eval "$WORK/gpt.safetensors" --data "text:$WORK/t.txt" "${THREADS[@]}" \
    >"$WORK/eval.out" 2>"$WORK/eval.err" || { cat "$WORK/eval.err"; fail "eval failed"; }
kb=$(peak_kb "$WORK/eval.err"); echo "eval peak $kb kB"
[[ $kb -lt 250000 ]] || fail "eval of ~1,000 windows peaked at $kb kB (chunked: under 250 MB)"
loss=$(grep -o 'loss [0-9.]*' "$WORK/eval.out" | head -1)
expect_exit 0 "$CGRAD" eval "$WORK/gpt.safetensors" --data "text:$WORK/t.txt" --batch 5 "${THREADS[@]}"
expect_in "$loss" "$WORK/out"
