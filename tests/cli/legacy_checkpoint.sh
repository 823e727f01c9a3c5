#!/usr/bin/env bash
# Checkpoints written before layer types became a table (tests/fixtures/legacy)
# still load, evaluate, and resume to the same weights the old code reached.
source "$(dirname "$0")/common.bash"
FIX="$CG_SOURCE_DIR/tests/fixtures/legacy"
DATA="csv:$CG_SOURCE_DIR/examples/data/spiral.csv"

expect_exit 0 "$CGRAD" info "$FIX/spiral_e3.safetensors"
expect_in "training: 3 epochs done of 3" "$WORK/out"
expect_in "dense 64 relu" "$WORK/out"
expect_exit 0 "$CGRAD" eval "$FIX/spiral_e3.safetensors" --data "$DATA"
expect_in "samples 300" "$WORK/out"

cp "$FIX/spiral_e2.safetensors" "$WORK/run.safetensors"
expect_exit 0 "$CGRAD" train --resume "$WORK/run.safetensors" --data "$DATA" --epochs 3 \
    --save "$WORK/run.safetensors" "${THREADS[@]}"
expect_in "epoch 3/3" "$WORK/out"
/usr/bin/python3 "$(dirname "$0")/compare_tensors.py" "$FIX/spiral_e3.safetensors" \
    "$WORK/run.safetensors" Zen || fail "resuming the old checkpoint did not reach the old weights"
echo "ok"
