#!/usr/bin/env bash
# cgrad explain's input gradients against PyTorch's torch.autograd.grad(logit,
# input) for a dense net and a CNN with batch norm (eval mode), both trained
# briefly here on synthetic 8x8 images: saliency (|g|) and grad-x-input
# (x * g) equal torch's within 1e-5 relative (tests/cli/torch_explain.py).
# Skipped (77) when PyTorch is not importable.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }

awk 'BEGIN {
    for (k = 0; k < 64; k++) printf "p%d,", k
    print "class"
    for (i = 0; i < 64; i++) {
        c = (i * 5) % 3; at = (i * 7) % 8
        for (r = 0; r < 8; r++)
            for (q = 0; q < 8; q++) {
                on = (c == 0 && r == at) || (c == 1 && q == at) || (c == 2 && (r + q) % 8 == at)
                printf "%.4f,", on + 0.2 * sin(i * 13 + r * 7 + q * 3) + 0.05
            }
        print c
    }
}' >"$WORK/img.csv"
cat >"$WORK/dense.json" <<'JSON'
{"input": [1, 8, 8], "loss": "cross_entropy",
 "layers": [{"type": "flatten"}, {"type": "dense", "units": 16, "activation": "tanh"},
            {"type": "dense", "units": 12, "activation": "gelu"}, {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 3, "batch": 16, "seed": 4}}
JSON
cat >"$WORK/cnn.json" <<'JSON'
{"input": [1, 8, 8], "loss": "cross_entropy",
 "layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1},
            {"type": "batchnorm"}, {"type": "tanh"}, {"type": "avgpool2d", "kernel": 2},
            {"type": "conv2d", "filters": 3, "kernel": 3}, {"type": "relu"},
            {"type": "flatten"}, {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 3, "batch": 16, "seed": 5}}
JSON
checks=()
for net in dense cnn; do
    expect_exit 0 "$CGRAD" train "$WORK/$net.json" --data "csv:$WORK/img.csv" \
        --save "$WORK/$net.safetensors" "${THREADS[@]}"
    for method in saliency grad-x-input; do
        for target in predicted 1; do
            table="$WORK/$net.$method.$target.json"
            expect_exit 0 "$CGRAD" explain "$WORK/$net.safetensors" --data "csv:$WORK/img.csv" \
                --index 0,7,20,33 --method $method --target $target -o "$table" "${THREADS[@]}"
            checks+=("$WORK/$net.safetensors" "$WORK/img.csv" "$table" $method)
        done
    done
done
$PY "$(dirname "$0")/torch_explain.py" "${checks[@]}"
