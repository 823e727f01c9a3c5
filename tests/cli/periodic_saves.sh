#!/usr/bin/env bash
# Periodic checkpoints inside epochs (--save-every, --keep), and a run killed
# with SIGKILL at random moments while it saves a large checkpoint: the file
# is always a whole checkpoint (the previous or the next), and the next
# successful save leaves no temporary file behind.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 200
write_csv_model "$WORK/model.json"

# 200 rows, batch 16: 13 steps an epoch. Every 4 steps, keep 2.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 2 \
    --save "$WORK/p.safetensors" --save-every 4 --keep 2 "${THREADS[@]}"
ls "$WORK" | grep -E '^p\.step-[0-9]+\.safetensors$' | sort >"$WORK/kept"
[[ $(cat "$WORK/kept" | tr '\n' ' ') == "p.step-20.safetensors p.step-24.safetensors " ]] \
    || fail "expected the snapshots of steps 20 and 24, got: $(cat "$WORK/kept" | tr '\n' ' ')"
expect_exit 0 "$CGRAD" info "$WORK/p.step-24.safetensors"
expect_in "24 steps" "$WORK/out"
expect_in "(interrupted)" "$WORK/out"   # inside epoch 2: resumable from there
# A snapshot resumes like any checkpoint, to the same weights.
expect_exit 0 "$CGRAD" train --resume "$WORK/p.step-24.safetensors" --data "csv:$WORK/d.csv" \
    --epochs 2 --save "$WORK/r.safetensors" "${THREADS[@]}"
/usr/bin/python3 "$(dirname "$0")/compare_tensors.py" "$WORK/p.safetensors" "$WORK/r.safetensors" exact \
    || fail "resuming from a snapshot differs"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --keep 2
expect_in "--keep needs --save-every" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save-every 10q --save "$WORK/q.safetensors"
expect_in "--save-every: expected a number of steps (500) or a time (90s, 30m, 2h), got '10q'" "$WORK/err"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 \
    --save "$WORK/t.safetensors" --save-every 1s "${THREADS[@]}"

# --- SIGKILL during saves of a 52 MB checkpoint (13 M float32 weights; SGD
# keeps no optimizer state), saved after every step.
write_big_model "$WORK/big.json"
BIG=("$CGRAD" train "$WORK/big.json" --data "csv:$WORK/d.csv" --save "$WORK/big.safetensors"
     --save-every 1 "${THREADS[@]}")
expect_exit 0 "${BIG[@]}" --epochs 1
size=$(stat -c %s "$WORK/big.safetensors")
((size > 50000000)) || fail "the checkpoint is only $size bytes"

# --save-every by wall time: snapshots inside epochs, named by their step,
# no more than --keep. The epoch-end checkpoint restarts the clock, so only
# an epoch longer than the period has one: 2 epochs of 60 steps. (A run of
# 5 s must have an epoch of 2.5 s; every machine this ran on took longer.)
make_csv "$WORK/long.csv" 3000
t0=$(date +%s%N)
expect_exit 0 "$CGRAD" train "$WORK/big.json" --data "csv:$WORK/long.csv" --epochs 2 \
    --save "$WORK/w.safetensors" --save-every 1s --keep 2 "${THREADS[@]}"
ms=$((($(date +%s%N) - t0) / 1000000))
snaps=$(ls "$WORK" | grep -cE '^w\.step-[0-9]+\.safetensors$' || true)
((ms < 5000 || snaps >= 1)) || fail "a run of $ms ms with --save-every 1s left no snapshot"
((snaps <= 2)) || fail "--keep 2 left $snaps snapshots"
expect_exit 0 "$CGRAD" info "$WORK/w.safetensors"
expect_in "2 epochs" "$WORK/out"
RANDOM=7
for ((k = 1; k <= 20; k++)); do
    # cgrad itself in the background (not a function or subshell), so the
    # signal reaches it.
    "${BIG[@]}" --resume "$WORK/big.safetensors" >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
done
ls -a "$WORK" | grep -q '^\.big\.safetensors\.tmp' || echo "note: no kill landed inside a save"
# The next successful save removes what the killed saves left: one more
# epoch (4 steps, 4 saves), run to its end.
expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
done_epochs=$(sed -n 's/.*training: \([0-9]*\) epochs\? done.*/\1/p' "$WORK/out")
expect_exit 0 "${BIG[@]}" --resume "$WORK/big.safetensors" --epochs $((done_epochs + 1))
! ls -a "$WORK" | grep -q '^\.big\.safetensors\.tmp' || fail "temporary files of killed saves are left"
expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
echo "ok"
