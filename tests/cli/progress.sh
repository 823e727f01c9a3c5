#!/usr/bin/env bash
# Progress display: on a terminal a live bar (batch/total, samples/s, running
# loss, ETA) redrawn in place; otherwise one plain line per epoch, no control
# characters; and a final summary line either way.
source "$(dirname "$0")/common.bash"
command -v script >/dev/null || { echo "script(1) not found: skipped"; exit 77; }

make_csv "$WORK/d.csv" 120
write_csv_model "$WORK/model.json"
cmd=("$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 2 --batch 8 "${THREADS[@]}")

# Not a terminal.
expect_exit 0 "${cmd[@]}"
[[ $(grep -c '^epoch [12]/2 ' "$WORK/out") == 2 ]] || fail "expected one line per epoch"
expect_in "done: 2 epochs" "$WORK/out"
if grep -q $'\r\|\e' "$WORK/out"; then fail "control characters in non-terminal output"; fi

# A terminal, through script(1).
printf -v line '%q ' "${cmd[@]}"
script -qec "$line" /dev/null >"$WORK/tty" 2>&1 || fail "training under a terminal failed"
grep -q $'\r' "$WORK/tty" || fail "no in-place redraw on a terminal"
expect_in "[#" "$WORK/tty"
expect_in "/15" "$WORK/tty"          # batch/total: 120 samples / batch 8
expect_in "ETA" "$WORK/tty"
expect_in "samples/s" "$WORK/tty"
expect_in "done: 2 epochs" "$WORK/tty"
echo "ok"
