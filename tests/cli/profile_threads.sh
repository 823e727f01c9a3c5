#!/usr/bin/env bash
# `train --profile`: a table per step of phases, layer types (forward) and
# ops (backward) whose times add up; the thread count default (OMP_NUM_THREADS,
# else every core); and OpenMP's short-spin default, which a user's own
# setting overrides.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 120
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 2 --batch 8 \
    --threads 1 --profile
prof="$WORK/err"
expect_in "profile: 30 steps" "$prof"     # 120 samples / batch 8, 2 epochs
expect_in ", 1 thread" "$prof"
for row in data forward loss backward checks optimizer; do
    grep -qE "^    $row +[0-9.]+ +[0-9.]+$" "$prof" || fail "no phase row '$row' in the profile"
done
for row in "dense +3.0" "dropout +1.0"; do   # forward, per step (tanh is fused into dense)
    grep -qE "^    $row " "$prof" || fail "no forward row '$row'"
done
grep -qE "^    linear +3.0 " "$prof" || fail "no backward row for linear"
grep -qE "^    cross_entropy +1.0 " "$prof" || fail "no backward row for cross_entropy"
# The phases are the whole step: their shares add to 100%; the forward
# layers add to at most the forward phase.
awk '/^  phase/ { on = 1; next } /^  [a-z]/ { on = 0 }
     on && NF == 3 { pct += $3 }
     END { if (pct < 99.5 || pct > 100.5) { print "phases add to " pct "%"; exit 1 } }' "$prof" ||
    fail "phase shares do not add up"
awk '/^    forward / { fwd = $2 } /^  forward, by layer/ { on = 1; next } /^  backward/ { on = 0 }
     on { sum += $3 } END { if (sum > fwd * 1.001 + 0.001) { print sum " > " fwd; exit 1 } }' "$prof" ||
    fail "forward layers take longer than the forward phase"
# Without --profile, no table.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 --threads 1
if grep -q "profile" "$WORK/err"; then fail "a profile without --profile"; fi

# Threads: OMP_NUM_THREADS when set, else every core; --threads wins.
OMP_NUM_THREADS=1 expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" \
    --epochs 1 --profile
expect_in ", 1 thread" "$WORK/err"
cores=$(nproc)
env -u OMP_NUM_THREADS "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --epochs 1 \
    --profile >/dev/null 2>"$WORK/err" || fail "training failed"
[[ $cores == 1 ]] && want=", 1 thread" || want=", $cores threads"
expect_in "$want" "$WORK/err"
OMP_NUM_THREADS=1 expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" \
    --epochs 1 --threads 2 --profile
expect_in ", 2 threads" "$WORK/err"

# Wait: a short spin (10,000 rounds) unless the user chose (libgomp reports
# its settings).
if env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$CGRAD" info "$WORK/model.json" \
        2>&1 | grep -q "GOMP_SPINCOUNT"; then
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$CGRAD" info "$WORK/model.json" \
        >"$WORK/env" 2>&1 || fail "info failed"
    grep -q "GOMP_SPINCOUNT = '10000'" "$WORK/env" || fail "the default wait is not a short spin"
    env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active OMP_DISPLAY_ENV=verbose "$CGRAD" info \
        "$WORK/model.json" >"$WORK/env" 2>&1 || fail "info failed"
    grep -q "OMP_WAIT_POLICY = 'ACTIVE'" "$WORK/env" || fail "the user's wait policy was overridden"
    grep -q "GOMP_SPINCOUNT = '10000'" "$WORK/env" && fail "the user's wait policy was overridden"
else
    echo "libgomp does not report GOMP_SPINCOUNT: wait policy not checked"
fi
echo "ok"
