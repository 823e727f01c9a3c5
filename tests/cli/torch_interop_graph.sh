#!/usr/bin/env bash
# Interop with PyTorch for graph models (layers with "name" and "inputs",
# add and concat merges): a cgrad checkpoint loads into the equivalent
# torch.nn module (tests/cli/torch_graph.py builds it from the checkpoint's
# model) with the same predictions, and one SGD step from torch's
# initialisation is torch's step. Also models/residual_mlp.json, on a small
# synthetic 784-feature CSV. Skipped (77) when PyTorch is not importable.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TG="$PY $(dirname "$0")/torch_graph.py"

make_csv "$WORK/d.csv" 96
# h feeds three layers (a, res, side): a skip connection (add), a concat of
# three branches (one straight from the input), a dense with leaky_relu 0.2
# fused, a dense that absorbs the standalone activation after it, one that
# cannot (its output has a second user), dropout and a layer norm.
cat >"$WORK/model.json" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 12, "activation": "tanh", "name": "h"},
            {"type": "dense", "units": 12, "activation": "leaky_relu", "negative_slope": 0.2, "name": "a"},
            {"type": "dropout", "rate": 0.25},
            {"type": "dense", "units": 12, "name": "b"},
            {"type": "add", "inputs": ["h", "b"], "name": "res"},
            {"type": "dense", "units": 6, "inputs": ["h"], "name": "side"},
            {"type": "gelu", "name": "side_act"},
            {"type": "elu", "alpha": 0.5, "inputs": ["input"], "name": "raw"},
            {"type": "dense", "units": 5, "inputs": ["res"], "name": "p"},
            {"type": "sigmoid", "name": "p_act"},
            {"type": "add", "inputs": ["p", "p_act"], "name": "p_sum"},
            {"type": "concat", "inputs": ["res", "side_act", "raw", "p_sum"], "name": "cat"},
            {"type": "layernorm", "eps": 1e-4},
            {"type": "softplus"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 5, "batch": 16}}
JSON

# cgrad -> torch: same predictions.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save "$WORK/c.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/c.safetensors" --data "csv:$WORK/d.csv" --out "$WORK/p.csv"

# torch -> cgrad: --init from torch's weights; one full-batch SGD step (no
# dropout, no shuffle) gives torch's result.
sed -e 's/"rate": 0.25/"rate": 0/' -e 's/"type": "adam", "lr": 0.01/"type": "sgd", "lr": 0.1/' \
    "$WORK/model.json" >"$WORK/sgd.json"
grep -q '"rate": 0}' "$WORK/sgd.json" && grep -q '"sgd"' "$WORK/sgd.json" || fail "sed did not edit the model"

# residual_mlp.json on 64 synthetic 784-value samples of 10 classes (the CSV's
# 784 features are reshaped to the model's [1, 28, 28]).
awk 'BEGIN {
    for (j = 0; j < 784; j++) printf "p%d,", j
    print "label"
    for (i = 0; i < 64; i++) {
        c = (i * 3) % 10
        for (j = 0; j < 784; j++) printf "%.4f,", 0.5 + 0.4 * sin(0.01 * j * (c + 1) + 0.37 * i) * (j % 10 == c ? 1.5 : 1)
        print c
    }
}' >"$WORK/fm.csv"
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/residual_mlp.json" --data "csv:$WORK/fm.csv" \
    --epochs 1 --batch 16 --save "$WORK/r.safetensors" "${THREADS[@]}"
expect_in "done: 1 epoch, 4 steps" "$WORK/out"
expect_exit 0 "$CGRAD" predict "$WORK/r.safetensors" --data "csv:$WORK/fm.csv" --out "$WORK/rp.csv"

# One torch import for both directions' first halves: check the predictions
# of both checkpoints and export torch's initialisation of the graph model.
$TG predict "$WORK/c.safetensors" "$WORK/d.csv" "$WORK/p.csv" \
    + predict "$WORK/r.safetensors" "$WORK/fm.csv" "$WORK/rp.csv" \
    + export "$WORK/model.json" "$WORK/torch.safetensors" \
    || fail "torch disagrees with cgrad predict"

expect_exit 0 "$CGRAD" train "$WORK/sgd.json" --data "csv:$WORK/d.csv" --init "$WORK/torch.safetensors" \
    --epochs 1 --batch 96 --no-shuffle --save "$WORK/step.safetensors" "${THREADS[@]}"
$TG step "$WORK/torch.safetensors" "$WORK/step.safetensors" "$WORK/d.csv" 0.1 || fail "SGD step differs from torch"
echo "ok"
