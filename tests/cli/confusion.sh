#!/usr/bin/env bash
# eval --confusion: the matrix agrees with a count made independently from
# `cgrad predict`'s classes and the data's labels, and so do precision,
# recall and F1; class names; the heat map (eval --plot); clear refusals.
source "$(dirname "$0")/common.bash"

CHECK=(python3 "$CG_SOURCE_DIR/tests/cli/image_check.py")

# One epoch at a low rate: a model that still makes mistakes, so that the
# off-diagonal cells are tested too.
make_csv "$WORK/data.csv" 240
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/data.csv" --epochs 1 --lr 0.002 \
    --save "$WORK/m.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --out "$WORK/p.csv"
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --confusion --json
cp "$WORK/out" "$WORK/eval.json"

python3 - "$WORK/eval.json" "$WORK/p.csv" "$WORK/data.csv" <<'EOF' || fail "the confusion matrix disagrees with predict"
import csv, json, sys
report = json.load(open(sys.argv[1]))
cm = report["confusion"]
predicted = [int(r["class"]) for r in csv.DictReader(open(sys.argv[2]))]
truth = [int(r["target"]) for r in csv.DictReader(open(sys.argv[3]))]
n = 3
counts = [[0] * n for _ in range(n)]
for t, p in zip(truth, predicted):
    counts[t][p] += 1
assert cm["matrix"] == counts, (cm["matrix"], counts)
assert cm["classes"] == ["0", "1", "2"], cm["classes"]
right = sum(counts[c][c] for c in range(n))
assert abs(report["accuracy"] - right / len(truth)) < 1e-6, report["accuracy"]
assert right < len(truth), "the model should still make mistakes here"
for c in range(n):
    tp, col, row = counts[c][c], sum(counts[k][c] for k in range(n)), sum(counts[c])
    p = tp / col if col else None
    r = tp / row if row else None
    assert (p is None and cm["precision"][c] is None) or abs(cm["precision"][c] - p) < 1e-9, c
    assert abs(cm["recall"][c] - r) < 1e-9, c
    p0 = p or 0
    f1 = 2 * p0 * r / (p0 + r) if p0 + r else 0
    assert abs(cm["f1"][c] - f1) < 1e-9, (c, cm["f1"][c], f1)
EOF

# The text report: the same counts, row by row.
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --confusion
expect_in "confusion matrix (rows: true class, columns: predicted class)" "$WORK/out"
expect_in "precision" "$WORK/out"
expect_in "macro average" "$WORK/out"
row0=$(python3 -c 'import json,sys; print(" ".join(map(str, json.load(open(sys.argv[1]))["confusion"]["matrix"][0])))' "$WORK/eval.json")
[[ $(grep -E '^0 ' "$WORK/out" | head -1 | awk '{print $2, $3, $4}') == "$row0" ]] ||
    fail "text row 0 is not $row0: $(grep -E '^0 ' "$WORK/out")"

# Names from --classes; a file with the wrong number of names is refused.
printf 'low\nmiddle\nhigh\n' >"$WORK/names.txt"
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --confusion \
    --classes "$WORK/names.txt"
expect_in "2 high" "$WORK/out"
printf 'low\nhigh\n' >"$WORK/two.txt"
expect_exit 2 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --confusion \
    --classes "$WORK/two.txt"
expect_in "two.txt has 2 names; the model has 3 classes, one name a line" "$WORK/err"
expect_exit 2 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --classes "$WORK/names.txt"
expect_in "--classes goes with --confusion or --plot" "$WORK/err"

# Regression models have no confusion matrix.
make_csv "$WORK/reg.csv" 60 regression
sed -e 's/"units": 3}/"units": 1}/' -e 's/cross_entropy/mse/' "$WORK/model.json" >"$WORK/reg.json"
expect_exit 0 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/reg.csv" --epochs 1 \
    --save "$WORK/reg.safetensors" "${THREADS[@]}"
expect_exit 2 "$CGRAD" eval "$WORK/reg.safetensors" --data "csv:$WORK/reg.csv" --confusion
expect_in "a confusion matrix needs a classifier (loss cross_entropy" "$WORK/err"

# The heat map, when this cgrad draws images.
if "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --plot "$WORK/cm.png" \
    --size 420x400 >/dev/null 2>"$WORK/plot.err"; then
    "${CHECK[@]}" png "$WORK/cm.png" 420 400 >/dev/null
    expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --plot "$WORK/cm.svg"
    "${CHECK[@]}" svg "$WORK/cm.svg" 900 820 >/dev/null
    expect_exit 2 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --plot "$WORK/none/cm.png"
    expect_in "--plot: cannot create a temporary file next to '$WORK/none/cm.png'" "$WORK/err"
else
    expect_exit 1 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/data.csv" --plot "$WORK/cm.png"
    expect_in "--plot: this cgrad was built without cairo" "$WORK/err"
fi

# Fashion-MNIST's class names for its data (when the data set is installed).
if [[ -e /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]]; then
    cat >"$WORK/fashion.json" <<'JSON'
{"input": [1, 28, 28],
 "layers": [{"type": "flatten"}, {"type": "dense", "units": 10}],
 "loss": "cross_entropy", "train": {"epochs": 1, "batch": 256, "seed": 1}}
JSON
    expect_exit 0 "$CGRAD" train "$WORK/fashion.json" --data fashion-mnist:test \
        --save "$WORK/f.safetensors" "${THREADS[@]}"
    expect_exit 0 "$CGRAD" eval "$WORK/f.safetensors" --data fashion-mnist:test --confusion
    expect_in "9 Ankle boot" "$WORK/out"
    expect_in "0 T-shirt/top" "$WORK/out"
fi
echo "confusion: ok"
