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

# --- SIGTERM / SIGHUP in the middle of a long run: save, exit 128+signal,
# and the resumed run ends where an uninterrupted one does.
stop_with() {  # stop_with SIGNAL NAME: a long run stopped by SIGNAL once an epoch is logged
    rm -f "$WORK/sig.jsonl" "$WORK/sig.safetensors"
    "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --epochs 100000 "${THREADS[@]}" \
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
rc=$(stop_with TERM)
[[ $rc == 143 ]] || { cat "$WORK/sig.err"; fail "SIGTERM: expected exit 143, got $rc"; }
expect_in "by SIGTERM; saved $WORK/sig.safetensors" "$WORK/sig.err"
expect_exit 0 "$CGRAD" info "$WORK/sig.safetensors"
done_epochs=$(sed -n 's/.*training: \([0-9]*\) epochs\? done.*/\1/p' "$WORK/out")
target=$((done_epochs + 2))
expect_exit 0 "$CGRAD" train --resume "$WORK/sig.safetensors" "${DATA[@]}" --epochs $target "${THREADS[@]}"
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --epochs $target "${THREADS[@]}" \
    --save "$WORK/ref.safetensors" --log "$WORK/sig.jsonl" --log-append
cmp "$WORK/sig.safetensors" "$WORK/ref.safetensors" \
    || fail "SIGTERM + resume differs from a straight run of $target epochs"
rc=$(stop_with HUP)
[[ $rc == 129 ]] || { cat "$WORK/sig.err"; fail "SIGHUP: expected exit 129, got $rc"; }
expect_in "by SIGHUP; saved" "$WORK/sig.err"

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
