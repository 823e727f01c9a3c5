#!/usr/bin/env bash
# The main workflow on small data: train on CSV and IDX, evaluate, predict,
# inspect; logs; determinism; every subcommand's --help.
source "$(dirname "$0")/common.bash"

for cmd in train eval predict info; do
    expect_exit 0 "$CGRAD" "$cmd" --help
    expect_in "usage: cgrad $cmd" "$WORK/out"
done
expect_exit 0 "$CGRAD" --help
expect_exit 2 "$CGRAD"
expect_exit 2 "$CGRAD" frobnicate

# --- CSV classification, validation split, JSONL log, checkpoint.
make_csv "$WORK/train.csv" 240
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 4 --save "$WORK/m.safetensors" --log "$WORK/log.jsonl" "${THREADS[@]}"
expect_in "epoch 4/4" "$WORK/out"
expect_in "val loss" "$WORK/out"
expect_in "done: 4 epochs" "$WORK/out"
[[ $(wc -l <"$WORK/log.jsonl") == 4 ]] || fail "log should have 4 lines"
expect_in '"epoch":4,"train_loss":' "$WORK/log.jsonl"
expect_in '"val_accuracy":' "$WORK/log.jsonl"
expect_in '"samples_per_s":' "$WORK/log.jsonl"

# The data set is easy: the model must have learned it.
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/train.csv" --json
grep -qE '^\{"loss":[0-9.]+,"accuracy":0\.9[0-9]*|1\.0+,"samples":240\}$' "$WORK/out" \
    || { cat "$WORK/out"; fail "eval --json: expected accuracy >= 0.9 over 240 samples"; }
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/train.csv"
expect_in "accuracy" "$WORK/out"

expect_exit 0 "$CGRAD" predict "$WORK/m.safetensors" --data "csv:$WORK/train.csv" --out "$WORK/p.csv"
[[ $(head -1 "$WORK/p.csv") == "index,class,p0,p1,p2" ]] || fail "predict header: $(head -1 "$WORK/p.csv")"
[[ $(wc -l <"$WORK/p.csv") == 241 ]] || fail "predict: expected 240 rows"
# Predicted classes agree with the labels for most rows.
right=$(paste -d, <(tail -n +2 "$WORK/p.csv" | cut -d, -f2) <(tail -n +2 "$WORK/train.csv" | cut -d, -f5) |
        awk -F, '$1 == $2' | wc -l)
((right >= 216)) || fail "predict: only $right of 240 classes right"

expect_exit 0 "$CGRAD" info "$WORK/m.safetensors"
expect_in "dense 16 relu" "$WORK/out"
expect_in "4 epochs done of 4" "$WORK/out"
expect_in "parameters: 403" "$WORK/out"      # 4*16+16 + 16*16+16 + 16*3+3
expect_exit 0 "$CGRAD" info "$WORK/model.json"
expect_in "dropout 0.25" "$WORK/out"

# --- determinism: same seed and threads -> the same file, byte for byte
# (the log is part of the run's settings, recorded in the checkpoint; an
# existing log is refused unless --force replaces it).
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 4 --save "$WORK/m2.safetensors" --log "$WORK/log.jsonl" "${THREADS[@]}"
expect_in "--log: $WORK/log.jsonl exists; --log-append adds to it, --force replaces it" "$WORK/err"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 4 --save "$WORK/m2.safetensors" --log "$WORK/log.jsonl" --force "${THREADS[@]}"
cmp "$WORK/m.safetensors" "$WORK/m2.safetensors" || fail "two equal runs differ"
[[ $(wc -l <"$WORK/log.jsonl") == 4 ]] || fail "--force should have replaced the log"
# A different seed gives different weights.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --epochs 1 \
    --seed 6 --save "$WORK/m3.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --epochs 1 \
    --save "$WORK/m4.safetensors" "${THREADS[@]}"
! cmp -s "$WORK/m3.safetensors" "$WORK/m4.safetensors" || fail "--seed had no effect"

# --- IDX images through flatten + dropout, with a separate validation set.
make_idx "$WORK/img.idx" "$WORK/lbl.idx" 64
cat >"$WORK/img.json" <<'JSON'
{"input": [1, 4, 4],
 "layers": [{"type": "flatten"}, {"type": "dense", "units": 8, "activation": "relu"},
            {"type": "dropout", "rate": 0.1}, {"type": "dense", "units": 2}],
 "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
 "schedule": {"type": "step", "step_size": 2, "gamma": 0.5},
 "train": {"epochs": 5, "batch": 8}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/img.json" --data "idx:$WORK/img.idx,$WORK/lbl.idx" \
    --val "idx:$WORK/img.idx,$WORK/lbl.idx" --save "$WORK/img.safetensors" "${THREADS[@]}"
expect_in "epoch 5/5" "$WORK/out"
expect_in "lr 0.025" "$WORK/out"   # 0.1 halved at epochs 3 and 5
expect_exit 0 "$CGRAD" eval "$WORK/img.safetensors" --data "idx:$WORK/img.idx,$WORK/lbl.idx" --json
expect_in '"accuracy":1.000000,"samples":64' "$WORK/out"
expect_exit 0 "$CGRAD" info "$WORK/img.safetensors"
expect_in "tensors: 9 (4 model, 5 optimizer state)" "$WORK/out"

# --- regression: mse, predictions are values, accuracy is null.
make_csv "$WORK/reg.csv" 120 regression
cat >"$WORK/reg.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 16, "activation": "tanh"}, {"type": "dense", "units": 1}],
 "loss": "mse", "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 30, "batch": 16}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/reg.csv" --save "$WORK/reg.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" eval "$WORK/reg.safetensors" --data "csv:$WORK/reg.csv" --json
expect_in '"accuracy":null' "$WORK/out"
expect_exit 0 "$CGRAD" predict "$WORK/reg.safetensors" --data "csv:$WORK/reg.csv"
[[ $(head -1 "$WORK/out") == "index,value" ]] || fail "regression predict header"

# --- binary classification with bce_with_logits: 0/1 targets, accuracy by threshold.
awk -F, 'NR == 1 { print; next } { $5 = ($5 == 2); print }' OFS=, "$WORK/train.csv" >"$WORK/bin.csv"
cat >"$WORK/bin.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "gelu"}, {"type": "dense", "units": 1}],
 "loss": "bce_with_logits", "optimizer": {"type": "rmsprop", "lr": 0.01}, "train": {"epochs": 10, "batch": 16}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/bin.csv" --save "$WORK/bin.safetensors" "${THREADS[@]}"
expect_in "acc" "$WORK/out"
expect_exit 0 "$CGRAD" eval "$WORK/bin.safetensors" --data "csv:$WORK/bin.csv" --json
grep -qE '"accuracy":(0\.9|1\.0)' "$WORK/out" || fail "bce: did not learn: $(cat "$WORK/out")"
expect_exit 0 "$CGRAD" predict "$WORK/bin.safetensors" --data "csv:$WORK/bin.csv"
[[ $(head -1 "$WORK/out") == "index,class,p" ]] || fail "bce predict header"

# --- the shipped CSV example trains as documented.
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/csv_example.json" \
    --data "csv:$CG_SOURCE_DIR/examples/data/spiral.csv" --epochs 3 "${THREADS[@]}"
echo "ok"
