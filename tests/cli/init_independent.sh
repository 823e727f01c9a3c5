#!/usr/bin/env bash
# safetensors interoperability without PyTorch: weights written by an
# independent writer (Python's struct + json) are read by --init and eval,
# and cgrad's checkpoints pass an independent reader that recomputes the
# model's loss. Skipped (77) without python3.
source "$(dirname "$0")/common.bash"
PY=$(command -v python3 || true)
[[ -n $PY ]] || { echo "python3 not found: skipped"; exit 77; }
ST="$PY $(dirname "$0")/safetensors_py.py"

make_csv "$WORK/d.csv" 60
cat >"$WORK/model.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 5, "activation": "tanh"}, {"type": "dropout", "rate": 0.5},
                          {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch": 8}}
JSON
$ST write "$WORK/w.safetensors"

# Python's loss and accuracy for those weights == cgrad's.
read -r py_loss py_acc < <($ST loss "$WORK/w.safetensors" "$WORK/d.csv")
expect_exit 0 "$CGRAD" eval "$WORK/w.safetensors" --model "$WORK/model.json" --data "csv:$WORK/d.csv" --json
cg_loss=$(sed 's/.*"loss":\([^,]*\),.*/\1/' "$WORK/out")
cg_acc=$(sed 's/.*"accuracy":\([^,]*\),.*/\1/' "$WORK/out")
awk -v a="$py_loss" -v b="$cg_loss" -v c="$py_acc" -v d="$cg_acc" \
    'BEGIN { exit !((a - b < 1e-5 && b - a < 1e-5) && (c - d < 1e-6 && d - c < 1e-6)) }' \
    || fail "loss/accuracy: python $py_loss/$py_acc, cgrad $cg_loss/$cg_acc"
# Without --model a plain weights file cannot be evaluated: the message says why.
expect_exit 2 "$CGRAD" eval "$WORK/w.safetensors" --data "csv:$WORK/d.csv"
expect_in "--model" "$WORK/err"

# --init from it: training starts from exactly those weights.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/w.safetensors" \
    --epochs 1 --lr 1e-30 --save "$WORK/t.safetensors" "${THREADS[@]}"
read -r t_loss _ < <($ST loss "$WORK/t.safetensors" "$WORK/d.csv")
[[ $t_loss == "$py_loss" ]] || fail "--init with lr ~0 changed the weights: $t_loss vs $py_loss"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/w.safetensors" \
    --save "$WORK/t.safetensors" "${THREADS[@]}"

# cgrad's checkpoint passes the independent reader (format, padding,
# contiguity), and its loss as recomputed in Python matches cgrad eval.
read -r py_loss _ < <($ST loss "$WORK/t.safetensors" "$WORK/d.csv")
expect_exit 0 "$CGRAD" eval "$WORK/t.safetensors" --data "csv:$WORK/d.csv" --json
cg_loss=$(sed 's/.*"loss":\([^,]*\),.*/\1/' "$WORK/out")
awk -v a="$py_loss" -v b="$cg_loss" 'BEGIN { exit !(a - b < 1e-5 && b - a < 1e-5) }' \
    || fail "checkpoint loss: python $py_loss, cgrad $cg_loss"

# Missing or mis-shaped tensors are named.
$ST write "$WORK/missing.safetensors" --drop layers.2.bias
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/missing.safetensors"
expect_in 'tensor "layers.2.bias" is missing' "$WORK/err"
$ST write "$WORK/shape.safetensors" --reshape layers.0.weight
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/shape.safetensors"
expect_in 'tensor "layers.0.weight" has shape [4, 5], the model needs [5, 4]' "$WORK/err"
$ST write "$WORK/nan.safetensors" --nan layers.2.weight
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/nan.safetensors"
expect_in 'tensor "layers.2.weight" holds a non-finite value (nan) at element 0' "$WORK/err"
expect_exit 2 "$CGRAD" eval "$WORK/nan.safetensors" --model "$WORK/model.json" --data "csv:$WORK/d.csv"
expect_in "non-finite" "$WORK/err"
echo "ok"
