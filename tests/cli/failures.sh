#!/usr/bin/env bash
# Failures and their exit codes: bad model files and flags (2, naming the
# JSON path or flag), bad data (2, naming line and column), NaN/Inf (1, the
# last checkpoint left as it was), failed saves (the old file survives).
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 64
write_csv_model "$WORK/model.json"

# --- model files
bad_model() {  # bad_model JSON EXPECTED-MESSAGE
    printf '%s\n' "$1" >"$WORK/bad.json"
    expect_exit 2 "$CGRAD" train "$WORK/bad.json" --data "csv:$WORK/d.csv"
    expect_in "$2" "$WORK/err"
}
bad_model '{"input": [4], "layers": [{"type": "dense", "units": 8}, {"type": "dropout", "rate": 0.1},
            {"type": "dense", "units": "ten"}]}' \
    'bad.json: layers[2].units: expected a positive integer, got "ten"'
bad_model '{"input": [4], "layers": [{"type": "dense", "unit": 8}]}' 'layers[0]: unknown key "unit"'
bad_model '{"input": [4], "layers": [{"type": "dense", "units": 3}], "optimizer": {"type": "adam", "lr": "fast"}}' \
    'optimizer.lr: expected a number > 0, got "fast"'
bad_model '{"input": [2, 2, 2], "layers": [{"type": "dense", "units": 3}]}' \
    'layers[0]: dense needs a flat input or a [time, features] sequence, got [2, 2, 2]'
bad_model '{"input": [4], "layers": [{"type": "dense", "units": 3}' 'invalid JSON at line 2, column 1'
bad_model '{"input": [1000000000], "layers": [{"type": "dense", "units": 100000000}, {"type": "dense", "units": 2}]}' \
    'model too large: training it needs'
expect_exit 2 "$CGRAD" train "$WORK/missing.json" --data "csv:$WORK/d.csv"
expect_in "missing.json" "$WORK/err"
expect_exit 2 "$CGRAD" info "$WORK/bad.json"

# --- files that are not regular files: a clear error, never a blocked read
mkfifo "$WORK/fifo"
for cmd in "train $WORK/fifo --data csv:$WORK/d.csv" "train $WORK/model.json --data csv:$WORK/fifo" \
           "train $WORK/model.json --data idx:$WORK/fifo" "eval $WORK/fifo --data csv:$WORK/d.csv" \
           "info $WORK/fifo"; do
    # shellcheck disable=SC2086
    expect_exit 2 timeout 10 "$CGRAD" $cmd
    expect_in "cannot read '$WORK/fifo': not a regular file" "$WORK/err"
done
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK"
expect_in "cannot read '$WORK': it is a directory" "$WORK/err"

# --- flags
expect_exit 2 "$CGRAD" train "$WORK/model.json"
expect_in "--data SPEC is required" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs zero
expect_in "--epochs: expected an integer" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --batch 0
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --seed 1152921504606846977
expect_in "--seed" "$WORK/err"   # beyond 2^53 a checkpoint could not store it
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --lr -1
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --frobnicate
expect_in 'unknown option "--frobnicate"' "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 1.5
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init a --resume b
expect_exit 2 "$CGRAD" eval
expect_exit 2 "$CGRAD" eval "$WORK/nothing.safetensors" --data "csv:$WORK/d.csv"
expect_exit 2 "$CGRAD" train --resume "$WORK/nothing.safetensors" --data "csv:$WORK/d.csv"

# --- data
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/nope.csv"
expect_in "nope.csv" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "nonsense:x"
printf 'a,b,c,d,y\n1,2,3,4,0\n1,2,3,0\n' >"$WORK/ragged.csv"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/ragged.csv"
expect_in "ragged.csv:3" "$WORK/err"
printf '1,2,3,4,0\n1,2,x,4,1\n' >"$WORK/word.csv"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/word.csv"
expect_in "word.csv:2:5" "$WORK/err"
printf '1,2,3,4,0\n1,2,nan,4,1\n' >"$WORK/nan.csv"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/nan.csv"
expect_in "nan.csv:2" "$WORK/err"
printf '1,2,3,4,0\n1,2,3,4,7\n' >"$WORK/label.csv"    # the model has 3 classes
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/label.csv"
expect_in "label.csv:2:9: class label 7 is outside the model's 3 classes" "$WORK/err"
printf '1,2,3,0\n' >"$WORK/narrow.csv"                 # 3 features for an input of 4
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/narrow.csv"

# --- NaN: lr explodes in epoch 2 (step schedule with a huge gamma). The
# checkpoint of epoch 1 must stay byte-identical.
cat >"$WORK/explode.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "dense", "units": 3}],
 "optimizer": {"type": "sgd", "lr": 0.1},
 "schedule": {"type": "step", "step_size": 1, "gamma": 1e30},
 "train": {"epochs": 1, "batch": 8}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/explode.json" --data "csv:$WORK/d.csv" --save "$WORK/good.safetensors" "${THREADS[@]}"
cp "$WORK/good.safetensors" "$WORK/good.copy"
expect_exit 1 "$CGRAD" train --resume "$WORK/good.safetensors" --data "csv:$WORK/d.csv" --epochs 3 \
    --save "$WORK/good.safetensors" "${THREADS[@]}"
expect_in "epoch 2" "$WORK/err"
grep -qE "step [0-9]+ \(epoch 2, batch [0-9]+\): the (loss is (NaN|infinite)|gradient of \"layers\.[0-9]\.(weight|bias)\" is not finite)" "$WORK/err" \
    || { cat "$WORK/err"; fail "NaN message should name the step and the tensor"; }
expect_in "was left as it was" "$WORK/err"
cmp "$WORK/good.safetensors" "$WORK/good.copy" || fail "NaN stop modified the last checkpoint"
ls "$WORK" | grep -q '\.tmp' && fail "temporary file left behind"
# Finite loss and gradients can still carry the weights to Inf: regression
# targets of 1e15 give gradients ~1e16, and epoch 2's lr of 1e28 makes the
# update overflow. With one batch per epoch that step is the epoch's last,
# right before its save; the checkpoint of epoch 1 must survive it.
for i in $(seq 16); do echo "$((i % 3)),$((i % 5)),1,$((i % 2)),1e15"; done >"$WORK/huge.csv"
cat >"$WORK/overflow.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 1}], "loss": "mse",
 "optimizer": {"type": "sgd", "lr": 1e-10},
 "schedule": {"type": "step", "step_size": 1, "gamma": 1e38},
 "train": {"epochs": 1, "batch": 16}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/overflow.json" --data "csv:$WORK/huge.csv" \
    --save "$WORK/one.safetensors" "${THREADS[@]}"
cp "$WORK/one.safetensors" "$WORK/one.copy"
expect_exit 1 "$CGRAD" train --resume "$WORK/one.safetensors" --data "csv:$WORK/huge.csv" \
    --epochs 2 --save "$WORK/one.safetensors" "${THREADS[@]}"
expect_in 'the weights of "layers.0.' "$WORK/err"
expect_in "was left as it was" "$WORK/err"
cmp "$WORK/one.safetensors" "$WORK/one.copy" || fail "exploded weights replaced the last checkpoint"

# --- saving: an impossible path is refused before training; a save that
# fails half-way (file size limit) leaves the old checkpoint intact.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save "$WORK/no/such/dir/m.safetensors"
expect_in "--save" "$WORK/err"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 --save "$WORK/old.safetensors" "${THREADS[@]}"
cp "$WORK/old.safetensors" "$WORK/old.copy"
rc=0
# SIGXFSZ ignored: writes past the limit fail with EFBIG instead of killing.
(trap '' XFSZ; ulimit -f 4; exec "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 2 \
    --seed 9 --save "$WORK/old.safetensors" "${THREADS[@]}") >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc == 1 ]] || { cat "$WORK/err"; fail "failed save: expected exit 1, got $rc"; }
expect_in "old.safetensors" "$WORK/err"
cmp "$WORK/old.safetensors" "$WORK/old.copy" || fail "a failed save damaged the old checkpoint"
[[ -z $(find "$WORK" -name '*.tmp*') ]] || fail "temporary file left behind: $(find "$WORK" -name '*.tmp*')"

# --- --init: every parameter needed, with its shape.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/nothing.safetensors"
cat >"$WORK/other.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 3}]}
JSON
expect_exit 0 "$CGRAD" train "$WORK/other.json" --data "csv:$WORK/d.csv" --epochs 1 --save "$WORK/other.safetensors"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/other.safetensors"
expect_in 'tensor "layers.2.weight"' "$WORK/err"
# A checkpoint of the same model works as --init (its optimizer state is ignored).
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 --init "$WORK/old.safetensors"
# --- corrupt checkpoints and data files: exit 2 naming the file, no crash.
head -c 200 "$WORK/old.safetensors" >"$WORK/truncated.safetensors"
for cmd in "eval $WORK/truncated.safetensors --data csv:$WORK/d.csv" "info $WORK/truncated.safetensors" \
           "predict $WORK/truncated.safetensors --data csv:$WORK/d.csv"; do
    # shellcheck disable=SC2086
    expect_exit 2 "$CGRAD" $cmd
    expect_in "truncated.safetensors" "$WORK/err"
done
expect_exit 2 "$CGRAD" train --resume "$WORK/truncated.safetensors" --data "csv:$WORK/d.csv"
expect_in "truncated.safetensors" "$WORK/err"
printf 'not a checkpoint at all' >"$WORK/garbage.safetensors"
expect_exit 2 "$CGRAD" eval "$WORK/garbage.safetensors" --data "csv:$WORK/d.csv"
expect_in "garbage.safetensors" "$WORK/err"
printf '\x00\x00\x08\x03\x00\x00\x00\x05' >"$WORK/short-idx"   # claims 5 images, has none
expect_exit 2 "$CGRAD" eval "$WORK/old.safetensors" --data "idx:$WORK/short-idx"
expect_in "short-idx" "$WORK/err"
echo "ok"
