#!/usr/bin/env bash
# Row 99 of docs/robustness.md: a second SIGTERM while the first one's save
# is being written. The first signal asks for a save and an exit; the second
# stops the process at once (the handler restores the default action).
# Either way the checkpoint on disk is whole, the previous one or the new
# one, and it loads; the next complete save removes what a killed save left.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 200
# 13 M float32 weights: a 52 MB checkpoint, whose save takes long enough for
# the second signal to land inside it now and then.
write_big_model "$WORK/big.json"
BIG=("$CGRAD" train "$WORK/big.json" --data "csv:$WORK/d.csv" --save "$WORK/big.safetensors"
     "${THREADS[@]}")
expect_exit 0 "${BIG[@]}" --epochs 1
RANDOM=11
inside=0
for ((k = 1; k <= 8; k++)); do
    # cgrad itself in the background (not a function or subshell), so the
    # signals reach it.
    "${BIG[@]}" --resume "$WORK/big.safetensors" >/dev/null 2>"$WORK/sig.err" &
    pid=$!
    sleep "1.$((RANDOM % 10))"
    kill -TERM $pid 2>/dev/null || true
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    kill -TERM $pid 2>/dev/null || true
    rc=0
    wait $pid || rc=$?
    [[ $rc == 143 ]] || { cat "$WORK/sig.err" >&2; fail "round $k: expected exit 143, got $rc"; }
    if ls -a "$WORK" | grep -q '^\.big\.safetensors\.tmp'; then inside=$((inside + 1)); fi
    expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
done
echo "second signals that cut a save short: $inside of 8"
expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
done_epochs=$(sed -n 's/.*training: \([0-9]*\) epochs\? done.*/\1/p' "$WORK/out")
expect_exit 0 "${BIG[@]}" --resume "$WORK/big.safetensors" --epochs $((done_epochs + 1))
! ls -a "$WORK" | grep -q '^\.big\.safetensors\.tmp' || fail "temporary files of killed saves are left"
expect_exit 0 "$CGRAD" info "$WORK/big.safetensors"
echo "ok"
