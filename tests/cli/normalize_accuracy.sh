#!/usr/bin/env bash
# The normalize layer on a raw table whose features lie on scales from 1e-3
# to 1e4 (breast-cancer-like, made by make_tables.py) reaches the
# validation accuracy of the same model trained on features standardised
# outside cgrad by the training rows' statistics (within 1 point), and
# clearly beats the model without it (README records the figures).
source "$(dirname "$0")/common.bash"
MT="/usr/bin/python3 $(dirname "$0")/make_tables.py"

$MT cancer "$WORK/raw.csv"
# --val-split 0.2 holds out the last 114 of 569 rows: standardise by the first 455.
$MT standardise "$WORK/raw.csv" "$WORK/std.csv" 455
cat >"$WORK/plain.json" <<'JSON'
{"input": [30],
 "layers": [{"type": "dense", "units": 32, "activation": "relu"}, {"type": "dense", "units": 2}],
 "optimizer": {"type": "adam", "lr": 0.001},
 "train": {"epochs": 50, "batch": 32, "seed": 1}}
JSON
sed 's/"layers": \[/"layers": [{"type": "normalize"}, /' "$WORK/plain.json" >"$WORK/normalize.json"
grep -q normalize "$WORK/normalize.json" || fail "sed did not add the normalize layer"

val_accuracy() {  # MODEL DATA -> the last epoch's validation accuracy, in percent
    expect_exit 0 "$CGRAD" train "$1" --data "csv:$2" --val-split 0.2 "${THREADS[@]}"
    sed -n 's/^done: .*val loss [0-9.]* acc \([0-9.]*\)%.*/\1/p' "$WORK/out"
}
normalized=$(val_accuracy "$WORK/normalize.json" "$WORK/raw.csv")
standardised=$(val_accuracy "$WORK/plain.json" "$WORK/std.csv")
raw=$(val_accuracy "$WORK/plain.json" "$WORK/raw.csv")
echo "validation accuracy: raw $raw%, normalize layer $normalized%, pre-standardised $standardised%"
awk -v n="$normalized" -v s="$standardised" -v r="$raw" 'BEGIN {
    d = n - s; if (d < 0) d = -d
    exit !(n != "" && s != "" && d <= 1 && n >= 90 && n - r >= 5) }' ||
    fail "normalize should match pre-standardised features within 1 point and beat raw ones"
echo ok
