#!/usr/bin/env bash
# cgrad eval --per-sample: one row per sample whose losses average to eval's
# loss and whose "correct" column counts eval's correct predictions; the
# confidence is the predicted class's softmax probability (cgrad predict's);
# explain --target loss sees the same loss; a regression model gets
# index,loss,prediction,target; an unwritable file
# is refused (exit 2) before anything is evaluated.
source "$(dirname "$0")/common.bash"
make_csv "$WORK/d.csv" 90
write_csv_model "$WORK/m.json"
expect_exit 0 "$CGRAD" train "$WORK/m.json" --data "csv:$WORK/d.csv" --save "$WORK/m.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/d.csv" --json --per-sample "$WORK/per.csv"
cp "$WORK/out" "$WORK/eval.json"
expect_exit 0 "$CGRAD" predict "$WORK/m.safetensors" --data "csv:$WORK/d.csv" --out "$WORK/preds.csv"
python3 - "$WORK/eval.json" "$WORK/per.csv" "$WORK/preds.csv" "$WORK/d.csv" <<'PY'
import csv, json, sys
ev = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
preds = list(csv.DictReader(open(sys.argv[3])))
labels = [int(r["target"]) for r in csv.DictReader(open(sys.argv[4]))]
assert len(rows) == ev["samples"] == 90, len(rows)
mean = sum(float(r["loss"]) for r in rows) / len(rows)
assert abs(mean - ev["loss"]) < 1e-5, (mean, ev["loss"])
correct = sum(int(r["correct"]) for r in rows)
assert abs(correct / len(rows) - ev["accuracy"]) < 1e-6, (correct, ev["accuracy"])
for r, p, y in zip(rows, preds, labels):
    assert int(r["label"]) == y and r["predicted"] == p["class"], (r, p, y)
    assert abs(float(r["confidence"]) - float(p["p" + p["class"]])) < 1e-5, (r, p)
    assert int(r["correct"]) == (int(r["predicted"]) == y)
print("per-sample: %d rows, mean loss %.6f = eval's, %d correct" % (len(rows), mean, correct))
PY

# explain --target loss explains the same per-sample loss (sample 7).
expect_exit 0 "$CGRAD" explain "$WORK/m.safetensors" --data "csv:$WORK/d.csv" --index 7 \
    --target loss --method smoothgrad -o "$WORK/e.csv"
ours=$(sed -n 's/.*target loss, f(x) \([^ ,]*\).*/\1/p' "$WORK/out")
theirs=$(awk -F, '$1 == 7 { print $5 }' "$WORK/per.csv")
[[ -n $ours && $ours == "$theirs" ]] || fail "explain's loss of sample 7 is '$ours', eval --per-sample's '$theirs'"

# Regression: the loss of each sample and its prediction and target.
make_csv "$WORK/r.csv" 40 regression
sed 's/"cross_entropy"/"mse"/; s/"units": 3}/"units": 1}/' "$WORK/m.json" >"$WORK/r.json"
expect_exit 0 "$CGRAD" train "$WORK/r.json" --data "csv:$WORK/r.csv" --save "$WORK/r.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/r.csv" --per-sample "$WORK/rper.csv"
expect_in "index,loss,prediction,target" "$WORK/rper.csv"
awk -F, 'NR > 1 { d = $3 - $4; if ((d * d - $2) ^ 2 > 1e-8) bad++ } END { exit bad > 0 }' "$WORK/rper.csv" ||
    fail "an mse row's loss is not (prediction - target)^2"

expect_exit 2 "$CGRAD" eval "$WORK/m.safetensors" --data "csv:$WORK/d.csv" --per-sample "$WORK/no/dir/p.csv"
expect_in "--per-sample:" "$WORK/err"
echo "per_sample: ok"
