#!/usr/bin/env bash
# A resumed run continues the run it resumes (save path, validation, log),
# refuses other data, SIGTERM and SIGHUP save and exit like Ctrl-C, and a
# save removes the temporary files of earlier saves that were killed.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 200
write_csv_model "$WORK/model.json"
DATA=(--data "csv:$WORK/d.csv")

# --- README's resume line after a run with --save, --val-split and --log.
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --val-split 0.2 --epochs 2 \
    --save "$WORK/run.safetensors" --log "$WORK/run.jsonl" "${THREADS[@]}"
expect_in "done: 2 epochs, 20 steps" "$WORK/out"      # 160 training rows, batch 16
expect_exit 0 "$CGRAD" train --resume "$WORK/run.safetensors" "${DATA[@]}" --epochs 3 "${THREADS[@]}"
expect_in "note: saving to $WORK/run.safetensors, the checkpoint resumed from" "$WORK/err"
expect_in "note: holding out the last 0.2 of the data for validation, as the run did" "$WORK/err"
expect_in "note: logging to $WORK/run.jsonl (appending), as the run did" "$WORK/err"
expect_in "done: 3 epochs, 30 steps" "$WORK/out"      # the held-out rows stayed held out
expect_in "val loss" "$WORK/out"
[[ $(wc -l <"$WORK/run.jsonl") == 3 ]] || fail "the log should hold epochs 1-3"
expect_exit 0 "$CGRAD" info "$WORK/run.safetensors"
expect_in "training: 3 epochs done of 3" "$WORK/out"
# It matches a run that went straight to 3 epochs.
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --val-split 0.2 --epochs 3 \
    --save "$WORK/straight.safetensors" --log "$WORK/run.jsonl" --log-append "${THREADS[@]}"
cmp "$WORK/run.safetensors" "$WORK/straight.safetensors" || fail "resumed run differs from a straight one"
# A flag given again overrides, and the change is reported.
expect_exit 0 "$CGRAD" train --resume "$WORK/straight.safetensors" "${DATA[@]}" --epochs 4 \
    --val-split 0.25 --save "$WORK/other.safetensors" "${THREADS[@]}"
expect_in "note: validation changed: the run used --val-split 0.2" "$WORK/err"

# A run validated on --val data goes on validating on it.
make_csv "$WORK/v.csv" 60
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --val "csv:$WORK/v.csv" --epochs 1 \
    --save "$WORK/val.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" train --resume "$WORK/val.safetensors" "${DATA[@]}" --epochs 2 "${THREADS[@]}"
expect_in "note: validating on csv:$WORK/v.csv, as the run did" "$WORK/err"
expect_in "epoch 2/2  train loss" "$WORK/out"
grep "epoch 2/2" "$WORK/out" | grep -q "val loss" || fail "the resumed run did not validate on --val"

# --- resuming on other data (same sample count) is refused, unless asked.
make_csv "$WORK/e.csv" 200 && sed -i '2s/^[^,]*/9.5/' "$WORK/e.csv"
expect_exit 2 "$CGRAD" train --resume "$WORK/run.safetensors" --data "csv:$WORK/e.csv" --epochs 4 \
    --save "$WORK/x.safetensors"
expect_in "was trained on other data (200 samples, crc32 " "$WORK/err"
expect_in "pass --allow-data-change" "$WORK/err"
[[ ! -e "$WORK/x.safetensors" ]] || fail "a refused resume wrote a checkpoint"
expect_exit 0 "$CGRAD" train --resume "$WORK/run.safetensors" --data "csv:$WORK/e.csv" --epochs 4 \
    --save "$WORK/x.safetensors" --allow-data-change "${THREADS[@]}"
expect_in "differs from the run's data" "$WORK/err"

# --- SIGTERM / SIGHUP in the middle of an epoch: save, exit 128+signal,
# and the resumed run ends where an uninterrupted one does. Epochs of 1,250
# steps (20,000 rows), so that a signal sent once the first epoch is logged
# lands inside the second; the small data's epochs are so short that it
# landed at an epoch's end 9 times in 10.
make_csv "$WORK/long.csv" 20000
LONG=(--data "csv:$WORK/long.csv")
stop_with() {  # stop_with SIGNAL: a long run stopped by SIGNAL once an epoch is logged
    rm -f "$WORK/sig.jsonl" "$WORK/sig.safetensors"
    "$CGRAD" train "$WORK/model.json" "${LONG[@]}" --epochs 100000 "${THREADS[@]}" \
        --save "$WORK/sig.safetensors" --log "$WORK/sig.jsonl" >"$WORK/sig.out" 2>"$WORK/sig.err" &
    local pid=$! rc=0
    (sleep 60 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -9 $pid) >/dev/null 2>&1 &
    local watchdog=$!
    for ((i = 0; i < 600; i++)); do
        [[ -s "$WORK/sig.jsonl" ]] && break
        sleep 0.05
    done
    kill "-$1" $pid
    wait $pid || rc=$?
    kill $watchdog 2>/dev/null || true
    echo $rc
}
# stop_mid_epoch SIGNAL STATUS: stop_with until the signal lands inside an
# epoch (info says "(interrupted)"; a busy machine may delay it past the
# epoch's end), at most 5 tries; $WORK/out then holds info's output.
stop_mid_epoch() {
    local try rc
    for ((try = 1; try <= 5; try++)); do
        rc=$(stop_with "$1")
        [[ $rc == "$2" ]] || { cat "$WORK/sig.err"; fail "SIG$1: expected exit $2, got $rc"; }
        expect_in "by SIG$1; saved $WORK/sig.safetensors" "$WORK/sig.err"
        expect_exit 0 "$CGRAD" info "$WORK/sig.safetensors"
        grep -q "(interrupted)" "$WORK/out" && return 0
    done
    fail "SIG$1 never landed inside an epoch in 5 tries"
}
stop_mid_epoch TERM 143
done_epochs=$(sed -n 's/.*training: \([0-9]*\) epochs\? done.*/\1/p' "$WORK/out")
target=$((done_epochs + 2))
expect_exit 0 "$CGRAD" train --resume "$WORK/sig.safetensors" "${LONG[@]}" --epochs $target "${THREADS[@]}"
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${LONG[@]}" --epochs $target "${THREADS[@]}" \
    --save "$WORK/ref.safetensors" --log "$WORK/sig.jsonl" --log-append
cmp "$WORK/sig.safetensors" "$WORK/ref.safetensors" \
    || fail "SIGTERM mid-epoch + resume differs from a straight run of $target epochs"
stop_mid_epoch HUP 129

# --- temporary files of killed saves to the same path are removed by the
# next save; other files are left alone.
touch "$WORK/.clean.safetensors.tmpAb12Cd" "$WORK/.clean.safetensors.tmpZZZZZZ" \
      "$WORK/.clean.safetensors.tmp12" "$WORK/.other.safetensors.tmpAb12Cd"
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --epochs 1 --save "$WORK/clean.safetensors"
[[ ! -e "$WORK/.clean.safetensors.tmpAb12Cd" && ! -e "$WORK/.clean.safetensors.tmpZZZZZZ" ]] \
    || fail "stale temporary files of clean.safetensors were left"
[[ -e "$WORK/.clean.safetensors.tmp12" && -e "$WORK/.other.safetensors.tmpAb12Cd" ]] \
    || fail "a file that is not a temporary of this save was removed"
echo "ok"
