#!/usr/bin/env bash
# A small CNN (conv2d -> relu -> conv2d -> flatten -> dense) trained through
# the CLI on tiny synthetic images from a CSV, whose 36 features are reshaped
# to the model's [1, 6, 6] input: it learns, info describes it, runs are
# deterministic, and, when PyTorch is importable, the checkpoint loads into
# torch.nn.Conv2d with the same predictions and one SGD step from torch's
# initialisation gives torch's weights.
source "$(dirname "$0")/common.bash"


make_images "$WORK/train.csv" 180
make_images "$WORK/small.csv" 48
cat >"$WORK/cnn.json" <<'JSON'
{"input": [1, 6, 6],
 "layers": [{"type": "conv2d", "filters": 6, "kernel": 3, "padding": "same", "activation": "relu"},
            {"type": "conv2d", "filters": 6, "kernel": 3, "stride": 2, "groups": 2},
            {"type": "relu"},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.02},
 "train": {"epochs": 12, "batch": 16, "seed": 3}}
JSON

expect_exit 0 "$CGRAD" info "$WORK/cnn.json"
expect_in "conv2d 6 3x3 pad same relu" "$WORK/out"
expect_in "conv2d 6 3x3 stride 2 groups 2" "$WORK/out"
expect_in "[6, 2, 2]" "$WORK/out"
expect_in "parameters: 303 trainable" "$WORK/out"   # 6*9+6 + 6*3*9+6 + 24*3+3

expect_exit 0 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/train.csv" --save "$WORK/c.safetensors" \
    "${THREADS[@]}"
expect_in "epoch 12/12" "$WORK/out"
expect_exit 0 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/train.csv" --json
grep -qE '"accuracy":(0\.9[5-9][0-9]*|1\.0+),"samples":180\}' "$WORK/out" \
    || { cat "$WORK/out"; fail "the CNN should have learned the images (accuracy >= 0.95)"; }
expect_exit 0 "$CGRAD" info "$WORK/c.safetensors"
expect_in "conv2d 6 3x3 pad same relu" "$WORK/out"
expect_in "12 epochs done of 12" "$WORK/out"

# Same seed and threads: the same checkpoint, byte for byte.
expect_exit 0 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/train.csv" --save "$WORK/c2.safetensors" \
    "${THREADS[@]}"
cmp "$WORK/c.safetensors" "$WORK/c2.safetensors" || fail "two equal CNN runs differ"

# Data that does not fit the model's input is refused, naming both shapes.
make_csv "$WORK/flat.csv" 20
expect_exit 2 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/flat.csv" "${THREADS[@]}"
expect_in "flat.csv" "$WORK/err"

# A flat input is the model file's mistake, named with its path.
sed 's/"input": \[1, 6, 6\]/"input": [36]/' "$WORK/cnn.json" >"$WORK/flat.json"
expect_exit 2 "$CGRAD" info "$WORK/flat.json"
expect_in "layers[0]: conv2d needs [channels, height, width] input, got [36]" "$WORK/err"

PY=/usr/bin/python3
if [[ -x $PY ]] && $PY -c "import torch" 2>/dev/null; then
    TG="$PY $(dirname "$0")/torch_graph.py"
    # cgrad -> torch: the checkpoint loads into nn.Conv2d (strict names and
    # layouts) with the same predictions.
    expect_exit 0 "$CGRAD" predict "$WORK/c.safetensors" --data "csv:$WORK/train.csv" --out "$WORK/p.csv"
    # torch -> cgrad: one full-batch SGD step from torch's initialisation.
    sed 's/"type": "adam", "lr": 0.02/"type": "sgd", "lr": 0.1/' "$WORK/cnn.json" >"$WORK/sgd.json"
    $TG predict "$WORK/c.safetensors" "$WORK/train.csv" "$WORK/p.csv" \
        + export "$WORK/sgd.json" "$WORK/torch.safetensors" 4 >"$WORK/torch.out" \
        || { cat "$WORK/torch.out"; fail "torch disagrees with cgrad predict"; }
    expect_exit 0 "$CGRAD" train "$WORK/sgd.json" --data "csv:$WORK/small.csv" --init "$WORK/torch.safetensors" \
        --epochs 1 --batch 48 --no-shuffle --save "$WORK/step.safetensors" "${THREADS[@]}"
    $TG step "$WORK/torch.safetensors" "$WORK/step.safetensors" "$WORK/small.csv" 0.1 \
        || fail "the SGD step differs from torch"
else
    echo "PyTorch not importable: torch comparisons skipped"
fi
echo "conv_train: ok"
