#!/usr/bin/env bash
# Checkpoints of models trained on tables load in PyTorch: the normalize
# layer's buffers (layers.<i>.mean, layers.<i>.var) are ordinary tensors of
# the training data's statistics, the class names are in __metadata__, and
# torch's predictions equal cgrad predict's, class names included
# (tests/cli/torch_graph.py table). Also torch -> cgrad training with a
# normalize layer (its buffers from torch's file, as --init loads them).
# Skipped (77) when PyTorch is not importable.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TG="$PY $(dirname "$0")/torch_graph.py"
MT="$PY $(dirname "$0")/make_tables.py"

$MT flowers "$WORK/flowers.csv" 30
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/flowers.csv" \
    --epochs 10 --save "$WORK/f.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/flowers.csv" --out "$WORK/p.csv"

# torch -> cgrad: torch's initialisation (normalize's buffers included) and
# training with Adam give cgrad's weights; the buffers stay torch's.
sed -e 's/"epochs": 60, "batch": 16/"epochs": 2, "batch": 16/' "$CG_SOURCE_DIR/models/iris.json" >"$WORK/iris2.json"
make_csv "$WORK/d.csv" 64
$TG table "$WORK/f.safetensors" "$WORK/flowers.csv" "$WORK/p.csv" \
    + export "$WORK/iris2.json" "$WORK/torch.safetensors" \
    || fail "torch disagrees with cgrad on the table model"
expect_exit 0 "$CGRAD" train "$WORK/iris2.json" --data "csv:$WORK/d.csv" --init "$WORK/torch.safetensors" \
    --no-shuffle --save "$WORK/t.safetensors" "${THREADS[@]}"
$TG train "$WORK/torch.safetensors" "$WORK/t.safetensors" "$WORK/d.csv" 2 16 2>&1 | tee "$WORK/train.out" |
    grep -q "steps of torch.optim.Adam match" || { cat "$WORK/train.out"; fail "training from torch's state differs"; }
echo ok
