#!/usr/bin/env bash
# README's CSV walk-through (models/csv_example.json on
# examples/data/spiral.csv) runs as written from the repository root, and
# README's static-library build of the C tutorial compiles and runs.
source "$(dirname "$0")/common.bash"

# A repository root of links, so that the commands' outputs land in $WORK.
mkdir -p "$WORK/root/build"
ln -s "$CGRAD" "$WORK/root/build/cgrad"
ln -s "$CG_SOURCE_DIR/models" "$CG_SOURCE_DIR/examples" "$CG_SOURCE_DIR/include" "$WORK/root/"
sed -n '/<!-- csv-walkthrough:start -->/,/<!-- csv-walkthrough:end -->/p' "$CG_SOURCE_DIR/README.md" |
    grep '^build/cgrad ' >"$WORK/commands"
[[ $(wc -l <"$WORK/commands") == 3 ]] || fail "README: expected 3 commands in the CSV walk-through"
while read -r line; do
    # shellcheck disable=SC2086
    (cd "$WORK/root" && expect_exit 0 $line)
done <"$WORK/commands"
[[ -s $WORK/root/spiral.safetensors && -s $WORK/root/spiral_predictions.csv ]] ||
    fail "the walk-through left no checkpoint or predictions"
(cd "$WORK/root" && build/cgrad eval spiral.safetensors --data csv:examples/data/spiral.csv \
    --top-k 2 >"$WORK/eval.txt")
grep -qE '^loss [0-9.]+  accuracy [0-9.]+% \([0-9]+/300\)  top-2 [0-9.]+% \([0-9]+/300\)  samples 300$' \
    "$WORK/eval.txt" || { cat "$WORK/eval.txt"; fail "unexpected eval line"; }

# The static library, as README builds the tutorial with it.
if [[ -f ${CG_BUILD_DIR:?}/libcgrad.a ]] && ! grep -q '^CG_SANITIZE:BOOL=ON' "$CG_BUILD_DIR/CMakeCache.txt"; then
    sed -n '/<!-- tutorial:start -->/,/<!-- tutorial:end -->/p' "$CG_SOURCE_DIR/README.md" |
        sed '1,/^```c$/d; /^```$/,$d' >"$WORK/root/tutorial.c"
    ln -s "$CG_BUILD_DIR/libcgrad.a" "$WORK/root/build/libcgrad.a"
    awk '/^blas=/ { on = 1 } on { print } on && /-o tutorial/ { exit }' "$CG_SOURCE_DIR/README.md" \
        >"$WORK/static.sh"
    grep -q 'build/libcgrad.a' "$WORK/static.sh" || fail "README: no static-library build command"
    (cd "$WORK/root" && bash -e "$WORK/static.sh" >"$WORK/tutorial.out") ||
        fail "README's static-library build of the tutorial failed"
    expect_in "P(inside | 0.1, 0.2)" "$WORK/tutorial.out"
fi
echo ok
