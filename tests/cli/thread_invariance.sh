#!/usr/bin/env bash
# A training step's bits depend on --threads (how work is divided), never on
# how many threads ran it: with --thread-policy alternate every other step
# runs on one thread, and the checkpoints must be byte-identical to a run
# that kept both threads (MLP with dropout, CNN with batch norm, LSTM). The
# layers are sized so that their products are split (ops/gemm.c) and conv
# runs its per-sample parallel passes (also fused with the pooling after it).
source "$(dirname "$0")/common.bash"

# make_wide_csv PATH ROWS: 64 features, 3 classes.
awk -v n=256 'BEGIN { for (k = 0; k < 64; k++) printf "x%d,", k; print "y"
    for (i = 0; i < n; i++) { for (k = 0; k < 64; k++) printf "%.4f,", sin(i * 0.37 + k * 1.3)
                              print i % 3 } }' >"$WORK/wide.csv"
cat >"$WORK/mlp.json" <<'JSON'
{"input": [64],
 "layers": [{"type": "dense", "units": 256, "activation": "relu"},
            {"type": "dropout", "rate": 0.2},
            {"type": "dense", "units": 128, "activation": "tanh"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy", "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 2, "batch": 64, "seed": 3}}
JSON
make_images "$WORK/img.csv" 96
cat >"$WORK/cnn.json" <<'JSON'
{"input": [1, 6, 6],
 "layers": [{"type": "conv2d", "filters": 16, "kernel": 3, "padding": 1},
            {"type": "batchnorm"}, {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy", "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
 "train": {"epochs": 2, "batch": 32, "seed": 4}}
JSON
# conv2d + ReLU + maxpool2d: the pooling fused into the conv's passes (one op, its
# backward per sample), an odd 3x3 left for the second pooling.
cat >"$WORK/cnn_pool.json" <<'JSON'
{"input": [1, 6, 6],
 "layers": [{"type": "conv2d", "filters": 16, "kernel": 3, "padding": 1, "activation": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "activation": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy", "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 2, "batch": 32, "seed": 5}}
JSON
awk 'BEGIN { for (i = 0; i < 400; i++) printf "the quick brown fox %d jumps over the lazy dog. ", i % 7 }' \
    >"$WORK/text.txt"
cat >"$WORK/lstm.json" <<'JSON'
{"input": [16],
 "layers": [{"type": "embedding", "vocab": 40, "dim": 32},
            {"type": "lstm", "units": 64},
            {"type": "dense", "units": 40}],
 "loss": "cross_entropy", "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 1, "steps": 12, "batch": 32, "seed": 5, "clip_grad_norm": 1.0}}
JSON

check() {   # check NAME MODEL DATA
    for policy in fixed alternate; do
        expect_exit 0 "$CGRAD" train "$WORK/$2" --data "$3" --threads 2 --thread-policy "$policy" \
            --save "$WORK/$1-$policy.safetensors"
    done
    cmp -s "$WORK/$1-fixed.safetensors" "$WORK/$1-alternate.safetensors" ||
        fail "$1: one thread every other step changed the result"
}
check mlp mlp.json "csv:$WORK/wide.csv"
check cnn cnn.json "csv:$WORK/img.csv"
check cnn_pool cnn_pool.json "csv:$WORK/img.csv"
check lstm lstm.json "text:$WORK/text.txt"

expect_exit 2 "$CGRAD" train "$WORK/mlp.json" --data "csv:$WORK/wide.csv" --thread-policy sometimes
expect_in "--thread-policy: 'sometimes' is not adapt, fixed or alternate" "$WORK/err"
echo "ok"
