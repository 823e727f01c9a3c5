#!/usr/bin/env bash
# Interop with PyTorch, both ways: a cgrad checkpoint loads into the
# equivalent torch.nn model with the same predictions, and training starts
# from a PyTorch-written --init file exactly as torch would continue.
# Skipped (77) when PyTorch is not importable.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TI="$PY $(dirname "$0")/torch_interop.py"

make_csv "$WORK/d.csv" 96
cat >"$WORK/model.json" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dropout", "rate": 0.25},
            {"type": "dense", "units": 8, "bias": false},
            {"type": "tanh"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 5, "batch": 16}}
JSON

# cgrad -> torch: same predictions.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save "$WORK/c.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/c.safetensors" --data "csv:$WORK/d.csv" --out "$WORK/p.csv"
# (torch's weights for the other direction are exported by the same call.)
$TI predict-export "$WORK/c.safetensors" "$WORK/d.csv" "$WORK/p.csv" "$WORK/torch.safetensors" \
    || fail "torch disagrees with cgrad predict"

# torch -> cgrad: --init from torch's weights; one full-batch SGD step (no
# dropout, no shuffle) gives torch's result.
sed -e 's/"rate": 0.25/"rate": 0/' -e 's/"type": "adam", "lr": 0.01/"type": "sgd", "lr": 0.1/' \
    "$WORK/model.json" >"$WORK/sgd.json"
expect_exit 0 "$CGRAD" train "$WORK/sgd.json" --data "csv:$WORK/d.csv" --init "$WORK/torch.safetensors" \
    --epochs 1 --batch 96 --no-shuffle --save "$WORK/step.safetensors" "${THREADS[@]}"
$TI step "$WORK/torch.safetensors" "$WORK/step.safetensors" "$WORK/d.csv" 0.1 || fail "SGD step differs from torch"
# And longer training from torch's initialisation runs and learns.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/torch.safetensors" \
    --epochs 20 --save "$WORK/t.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" eval "$WORK/t.safetensors" --data "csv:$WORK/d.csv" --json
grep -qE '"accuracy":(0\.9|1\.0)' "$WORK/out" || fail "training from torch's init did not learn: $(cat "$WORK/out")"
echo "ok"
