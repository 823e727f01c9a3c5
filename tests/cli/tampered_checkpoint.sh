#!/usr/bin/env bash
# A checkpoint whose __metadata__ or step count was edited: --resume (and
# info) refuse it with exit 2 naming the file and the value, instead of
# training from a position the file does not describe. Skipped (77)
# without python3, which does the editing.
source "$(dirname "$0")/common.bash"
PY=$(command -v python3 || true)
[[ -n $PY ]] || { echo "python3 not found: skipped"; exit 77; }
ST="$PY $(dirname "$0")/safetensors_py.py"

make_csv "$WORK/d.csv" 64
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 \
    --save "$WORK/ck.safetensors" "${THREADS[@]}"

# tampered EXPECTED-MESSAGE EDIT...: resuming the edited copy exits 2 with
# the message.
tampered() {
    local want=$1
    shift
    $ST tamper "$WORK/ck.safetensors" "$WORK/t.safetensors" "$@"
    expect_exit 2 "$CGRAD" train --resume "$WORK/t.safetensors" --data "csv:$WORK/d.csv" --epochs 3 \
        "${THREADS[@]}"
    expect_in "t.safetensors: $want" "$WORK/err"
}
# The optimizer's step count: negative (was ignored, Adam restarted its bias
# correction), past int64 on the next step, or not the run's step.
tampered 'optimizer step count "optim.step" is -5' optim.step:=-5
tampered 'optimizer step count "optim.step" is 9223372036854775807' optim.step:=9223372036854775807
tampered 'optimizer step count "optim.step" is 4 but __metadata__ step is 5' step=5
# Counts: negative, huge (step + 1 overflowed), fewer steps than epochs.
tampered '__metadata__ "epoch" is missing or not an integer' epoch=-1
tampered '__metadata__ "step" is missing or not an integer' step=9223372036854775807
tampered '__metadata__ "epoch_correct" is missing or not an integer' epoch_correct=-7
tampered '__metadata__ step 4 is less than the 1000000 epochs' epoch=1000000
# More epochs than the run's total (was "already trained; nothing to do",
# exit 0), and a mid-epoch position that does not match the samples seen.
tampered 'the training state in __metadata__ (epoch 3, batch 0' epoch=3 step=4 optim.step:=4
tampered 'the training state in __metadata__ (epoch 0, batch 2, 64 samples' epoch=0 batch_in_epoch=2 epoch_seen=64 epoch_seconds=1
# 4 of 4 batches done yet still inside the epoch (was: the epoch finished
# with no step and its figures made up).
$ST tamper "$WORK/ck.safetensors" "$WORK/t.safetensors" epoch=0 batch_in_epoch=4 epoch_seen=64 epoch_seconds=1
expect_exit 2 "$CGRAD" train --resume "$WORK/t.safetensors" --data "csv:$WORK/d.csv" --epochs 3 "${THREADS[@]}"
expect_in "t.safetensors was saved inside epoch 1" "$WORK/err"
# Sums and the RNG.
tampered '__metadata__ "epoch_loss_sum" is missing or not a finite number' epoch_loss_sum=nan
tampered '__metadata__ "rng_state" or "rng_inc" is missing or not a PCG state' rng_inc=4

$ST tamper "$WORK/ck.safetensors" "$WORK/t.safetensors" step=-3
expect_exit 2 "$CGRAD" info "$WORK/t.safetensors"
expect_in 't.safetensors: __metadata__ "step"' "$WORK/err"

# The untouched checkpoint still resumes.
expect_exit 0 "$CGRAD" train --resume "$WORK/ck.safetensors" --data "csv:$WORK/d.csv" --epochs 2 "${THREADS[@]}"
# A model description altered into a large model (its weights cannot be in
# the file) is refused before the model is built, for --resume and eval.
big='{"input":[4],"layers":[{"type":"dense","units":50000000},{"type":"dense","units":3}],"loss":"cross_entropy","train":{"epochs":3,"batch":16,"seed":5}}'
tampered "the file holds 403 weight values (F32 layers.* tensors), the model it is loaded into needs 400000003 parameters" "model=$big"
expect_exit 2 "$CGRAD" eval "$WORK/t.safetensors" --data "csv:$WORK/d.csv"
expect_in "t.safetensors: the file holds 403 weight values" "$WORK/err"
echo "ok"
