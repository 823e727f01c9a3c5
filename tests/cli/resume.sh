#!/usr/bin/env bash
# Resume equivalence: 2 epochs straight == 1 epoch + --resume to 2, byte for
# byte (shuffling and dropout included); and a run stopped by SIGINT in the
# middle of an epoch saves, exits 130, and resumes to the same weights as an
# uninterrupted run.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 200
write_csv_model "$WORK/model.json"
train() { "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.2 "${THREADS[@]}" "$@"; }

expect_exit 0 train --epochs 2 --save "$WORK/straight.safetensors"
expect_exit 0 train --epochs 1 --save "$WORK/resumed.safetensors"
cp "$WORK/resumed.safetensors" "$WORK/epoch1.safetensors"
# No model file: the checkpoint carries it.
expect_exit 0 "$CGRAD" train --resume "$WORK/resumed.safetensors" --data "csv:$WORK/d.csv" \
    --val-split 0.2 --epochs 2 --save "$WORK/resumed.safetensors" "${THREADS[@]}"
expect_in "epoch 2/2" "$WORK/out"
cmp "$WORK/straight.safetensors" "$WORK/resumed.safetensors" \
    || fail "1 epoch + resume differs from 2 epochs straight"
# The same with the model file given again, and --log appending: the
# resumed run adds its epoch to the first run's line.
expect_exit 0 train --epochs 1 --log "$WORK/run.jsonl"
expect_exit 0 train --resume "$WORK/epoch1.safetensors" --epochs 2 --save "$WORK/resumed2.safetensors" \
    --log "$WORK/run.jsonl"
# (Not byte for byte: this run's log is recorded in its checkpoint.)
/usr/bin/python3 "$(dirname "$0")/compare_tensors.py" "$WORK/straight.safetensors" \
    "$WORK/resumed2.safetensors" exact || fail "resume with MODEL.json differs"
[[ $(wc -l <"$WORK/run.jsonl") == 2 ]] || fail "--log should hold epochs 1 and 2 after the resume"
expect_in '"epoch":2,' "$WORK/run.jsonl"
# Nothing left to do.
expect_exit 0 train --resume "$WORK/straight.safetensors" --epochs 2
expect_in "nothing to do" "$WORK/out"

# --- SIGINT in the middle of a long run. cgrad itself runs in the
# background (not a function or subshell, which would ignore SIGINT), with
# a watchdog so that a failure cannot hang the suite.
: >"$WORK/log.jsonl"
"$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.2 "${THREADS[@]}" \
    --epochs 100000 --save "$WORK/int.safetensors" --log "$WORK/log.jsonl" \
    >"$WORK/int.out" 2>"$WORK/int.err" &
pid=$!
(sleep 60 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -9 $pid) >/dev/null 2>&1 &
watchdog=$!
# Wait until training is under way (an epoch logged), then interrupt.
for ((i = 0; i < 600; i++)); do
    [[ -s "$WORK/log.jsonl" ]] && break
    sleep 0.05
done
sleep 0.02
kill -INT $pid
rc=0
wait $pid || rc=$?
kill $watchdog 2>/dev/null || true
[[ $rc == 130 ]] || { cat "$WORK/int.err"; fail "SIGINT: expected exit 130, got $rc"; }
expect_in "interrupted after" "$WORK/int.err"
expect_in "saved $WORK/int.safetensors" "$WORK/int.err"
expect_exit 0 "$CGRAD" info "$WORK/int.safetensors"
expect_in "done of 100000" "$WORK/out"
# Read before the next command overwrites $WORK/out.
done_epochs=$(sed -n 's/.*training: \([0-9]*\) epochs\? done.*/\1/p' "$WORK/out")
[[ -n $done_epochs ]] || fail "info did not say how many epochs were done"

# Stopped inside an epoch (the usual case), its order must be kept.
if grep -q "(interrupted)" "$WORK/out"; then
    expect_exit 2 "$CGRAD" train --resume "$WORK/int.safetensors" --data "csv:$WORK/d.csv" \
        --val-split 0.2 --batch 7 "${THREADS[@]}"
    expect_in "saved inside epoch" "$WORK/err"
fi
# Resume two epochs beyond the interruption and compare with a straight run.
target=$((done_epochs + 2))
expect_exit 0 "$CGRAD" train --resume "$WORK/int.safetensors" --data "csv:$WORK/d.csv" \
    --val-split 0.2 --epochs $target --save "$WORK/int.safetensors" "${THREADS[@]}"
expect_in "note: logging to $WORK/log.jsonl (appending), as the run did" "$WORK/err"
# The same settings (the log is recorded in checkpoints) give the same bytes.
expect_exit 0 train --epochs $target --save "$WORK/ref.safetensors" --log "$WORK/log.jsonl" --log-append
cmp "$WORK/int.safetensors" "$WORK/ref.safetensors" \
    || fail "interrupted + resumed run differs from a straight run of $target epochs"
# Ctrl-C without --save: still exit 130, saying nothing was saved.
: >"$WORK/log2.jsonl"
"$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" "${THREADS[@]}" --epochs 100000 \
    --log "$WORK/log2.jsonl" >"$WORK/int2.out" 2>"$WORK/int2.err" &
pid=$!
(sleep 60 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -9 $pid) >/dev/null 2>&1 &
watchdog=$!
for ((i = 0; i < 600; i++)); do
    [[ -s "$WORK/log2.jsonl" ]] && break
    sleep 0.05
done
kill -INT $pid
rc=0
wait $pid || rc=$?
kill $watchdog 2>/dev/null || true
[[ $rc == 130 ]] || { cat "$WORK/int2.err"; fail "SIGINT without --save: expected exit 130, got $rc"; }
expect_in "nothing saved" "$WORK/int2.err"
echo "ok"
