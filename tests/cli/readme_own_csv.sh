#!/usr/bin/env bash
# README's "Your own CSV" runs as written from the repository root: a table
# with a header and text labels trains, and predict on a table without the
# target writes the class names the README shows.
source "$(dirname "$0")/common.bash"

mkdir -p "$WORK/root/build"
ln -s "$CGRAD" "$WORK/root/build/cgrad"
ln -s "$CG_SOURCE_DIR/models" "$CG_SOURCE_DIR/examples" "$WORK/root/"
sed -n '/<!-- own-csv:start -->/,/<!-- own-csv:end -->/p' "$CG_SOURCE_DIR/README.md" |
    grep '^build/cgrad ' >"$WORK/commands"
[[ $(wc -l <"$WORK/commands") == 2 ]] || fail "README: expected 2 commands in Your own CSV"
read -r train <"$WORK/commands"
predict=$(sed -n 2p "$WORK/commands")
# shellcheck disable=SC2086
(cd "$WORK/root" && expect_exit 0 $train "${THREADS[@]}")
expect_in "'species' (target)" "$WORK/err"
expect_in "note: 3 classes: 0 'setosa', 1 'versicolor', 2 'virginica'" "$WORK/err"
# shellcheck disable=SC2086
(cd "$WORK/root" && expect_exit 0 $predict)
[[ $(head -1 "$WORK/out") == "index,class,setosa,versicolor,virginica" ]] || fail "predict header: $(head -1 "$WORK/out")"
[[ $(grep -cE '^[0-5],(setosa|versicolor|virginica),' "$WORK/out") == 6 ]] || fail "expected 6 named predictions"
# The rows README quotes (the regenerated example data must not drift from them).
for row in "0,versicolor," "1,setosa," "2,virginica,"; do
    sed -n '/^index,class,setosa/,/^\.\.\./p' "$CG_SOURCE_DIR/README.md" | grep -q "^$row" || fail "README lacks $row"
    expect_in "$row" "$WORK/out"
done
(cd "$CG_SOURCE_DIR/examples/data" && /usr/bin/python3 make_flowers.py --check) ||
    fail "examples/data/flowers*.csv differ from what make_flowers.py writes"
echo ok
