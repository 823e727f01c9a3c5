#!/usr/bin/env bash
# Real tables (issue 11): CSV with a header and named columns, text class
# labels, categorical features, missing cells, the normalize layer's learned
# statistics, and eval/predict reading new tables the way the model was
# trained. Every table is made here (tests/cli/make_tables.py, awk, printf).
source "$(dirname "$0")/common.bash"
MT="/usr/bin/python3 $(dirname "$0")/make_tables.py"

# same_stats A B: two "mean var" listings agree (relative 1e-5: float32 vs double).
same_stats() {
    paste -d' ' "$1" "$2" | awk '
        function near(a, b) { d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; return d <= 1e-5 * (s > 1 ? s : 1) }
        { n++; if (!near($1, $3) || !near($2, $4)) { print "feature " NR ": " $0; bad = 1 } }
        END { exit bad || n == 0 }' || fail "learned statistics differ from the independent computation"
}

# ---- 1. text class labels: learned sorted, stored, predicted as names.
$MT flowers "$WORK/flowers.csv" 40
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/flowers.csv" \
    --save "$WORK/f.safetensors" "${THREADS[@]}"
expect_in "line 1 is a header (no field is a number): 'sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', 'petal width (cm)', 'species' (target)" "$WORK/err"
expect_in "note: 3 classes: 0 'setosa', 1 'versicolor', 2 'virginica'" "$WORK/err"
[[ $($MT meta "$WORK/f.safetensors" classes) == '["setosa","versicolor","virginica"]' ]] ||
    fail "the checkpoint's __metadata__ classes are not the sorted labels"
# The normalize layer's buffers are the training table's statistics.
$MT stats "$WORK/flowers.csv" 120 >"$WORK/want.txt"
$MT buffers "$WORK/f.safetensors" 0 >"$WORK/got.txt"
same_stats "$WORK/got.txt" "$WORK/want.txt"

expect_exit 0 "$CGRAD" eval "$WORK/f.safetensors" --data "csv:$WORK/flowers.csv" --json
acc=$(sed 's/.*"accuracy":\([0-9.]*\).*/\1/' "$WORK/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "flowers: accuracy $acc below 0.9"

# eval --confusion names the classes.
expect_exit 0 "$CGRAD" eval "$WORK/f.safetensors" --data "csv:$WORK/flowers.csv" --confusion
grep -qE '^1 versicolor +[0-9]+ +[0-9]+ +[0-9]+$' "$WORK/out" || { cat "$WORK/out"; fail "eval --confusion: no row for versicolor"; }

# predict writes the label and a probability column per label name, with or
# without the target column in the file, columns matched by name.
expect_exit 0 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/flowers.csv" --out "$WORK/p.csv"
[[ $(head -1 "$WORK/p.csv") == "index,class,setosa,versicolor,virginica" ]] || fail "predict header: $(head -1 "$WORK/p.csv")"
# Predicted names agree with the labels (as often as eval says).
paste -d, <(tail -n +2 "$WORK/flowers.csv" | cut -d, -f5) <(tail -n +2 "$WORK/p.csv" | cut -d, -f2) |
    awk -F, -v a="$acc" '{ n++; ok += $1 == $2 } END { exit !(n == 120 && ok == int(a * n + 0.5)) }' ||
    fail "predicted class names do not match the labels as eval counts them"
awk -F, 'BEGIN { OFS = "," } { print $4, $2, $1, $3 }' "$WORK/flowers.csv" >"$WORK/inputs.csv"  # no target, other order
expect_exit 0 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/inputs.csv" --out "$WORK/p2.csv"
cmp -s "$WORK/p.csv" "$WORK/p2.csv" || fail "predict on reordered columns without the target differs"
# Without a header, by position: all columns, or all but the target.
tail -n +2 "$WORK/flowers.csv" | cut -d, -f1-4 >"$WORK/bare.csv"
expect_exit 0 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/bare.csv" --out "$WORK/p3.csv"
cmp -s "$WORK/p.csv" "$WORK/p3.csv" || fail "predict on a header-less table without the target differs"
tail -n +2 "$WORK/flowers.csv" | cut -d, -f1-3 >"$WORK/short.csv"
expect_exit 2 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/short.csv"
expect_in "short.csv has 3 columns; the model reads 4 inputs from a table of 5 columns: give all 5, or the 4 without the target (column 5)" "$WORK/err"
cut -d, -f1,2,3,5 "$WORK/flowers.csv" >"$WORK/no_petal.csv"
expect_exit 2 "$CGRAD" predict "$WORK/f.safetensors" --data "csv:$WORK/no_petal.csv"
expect_in "no column 'petal width (cm)', which the model reads; the file's columns are 'sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', 'species'" "$WORK/err"
# eval needs the target; an unseen label names its line and the known ones.
expect_exit 2 "$CGRAD" eval "$WORK/f.safetensors" --data "csv:$WORK/inputs.csv"
expect_in "has no target column ('species')" "$WORK/err"
sed '4s/,[a-z]*$/,rose/' "$WORK/flowers.csv" >"$WORK/rose.csv"
expect_exit 2 "$CGRAD" eval "$WORK/f.safetensors" --data "csv:$WORK/rose.csv"
col=$(($(sed -n 4p "$WORK/rose.csv" | wc -c) - 4))
expect_in "rose.csv:4:$col: unknown class label 'rose'; the model knows 'setosa', 'versicolor', 'virginica'" "$WORK/err"

# --classes FILE fixes the order (the checkpoint and predict follow it).
printf 'virginica\nsetosa\n\nversicolor\n' >"$WORK/classes.txt"
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/flowers.csv" \
    --classes "$WORK/classes.txt" --epochs 2 --save "$WORK/c.safetensors" "${THREADS[@]}"
expect_in "note: 3 classes: 0 'virginica', 1 'setosa', 2 'versicolor'" "$WORK/err"
expect_exit 0 "$CGRAD" predict "$WORK/c.safetensors" --data "csv:$WORK/inputs.csv"
[[ $(head -1 "$WORK/out") == "index,class,virginica,setosa,versicolor" ]] || fail "--classes order not kept: $(head -1 "$WORK/out")"
printf 'setosa\nversicolor\n' >"$WORK/two.txt"
cat >"$WORK/out2.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 2}], "train": {"epochs": 1}}
JSON
expect_exit 2 "$CGRAD" train "$WORK/out2.json" --data "csv:$WORK/flowers.csv" --classes "$WORK/two.txt"
expect_in "unknown class label 'virginica'; the model knows 'setosa', 'versicolor'" "$WORK/err"
sed 's/"units": 2/"units": 4/' "$WORK/out2.json" >"$WORK/out4.json"
expect_exit 2 "$CGRAD" train "$WORK/out4.json" --data "csv:$WORK/flowers.csv"
expect_in "the target has 3 class names ('setosa', 'versicolor', 'virginica') but the model's output has 4 classes" "$WORK/err"

# cgrad info shows the table; a resumed run reads the columns as the run did.
expect_exit 0 "$CGRAD" info "$WORK/f.safetensors"
expect_in "table: 5 columns with a header; 4 features (0 categorical, one-hot), target 'species': classes 'setosa', 'versicolor', 'virginica'" "$WORK/out"
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/flowers.csv" \
    --epochs 2 --save "$WORK/r.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/flowers.csv" --epochs 3 "${THREADS[@]}"
expect_in "done: 3 epochs" "$WORK/out"
expect_exit 2 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/flowers.csv" --epochs 4 --target species
expect_in "--target: a resumed run reads the columns as the run did" "$WORK/err"
# --init from weights without normalize's buffers keeps the statistics learned from --data.
$MT weights "$WORK/f.safetensors" "$WORK/no_stats.safetensors" layers.0.
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/flowers.csv" \
    --init "$WORK/no_stats.safetensors" --epochs 1 --save "$WORK/i.safetensors" "${THREADS[@]}"
expect_in "no_stats.safetensors has no buffer \"layers.0.var\"; it keeps the statistics of the training data" "$WORK/err"
$MT buffers "$WORK/i.safetensors" 0 >"$WORK/got.txt"
$MT stats "$WORK/flowers.csv" 120 >"$WORK/want.txt"
same_stats "$WORK/got.txt" "$WORK/want.txt"
# pandas' to_csv writes the row index first, without a name: not a feature.
awk -F, 'BEGIN { OFS = "," } NR == 1 { print "", $0; next } { print NR - 2, $0 }' "$WORK/flowers.csv" >"$WORK/pandas.csv"
expect_exit 0 "$CGRAD" train "$CG_SOURCE_DIR/models/iris.json" --data "csv:$WORK/pandas.csv" --epochs 1 "${THREADS[@]}"
expect_in "line 1 is a header (no field is a number): '' (not used), 'sepal length (cm)'" "$WORK/err"

# ---- 2. header detection, header=yes|no, --target/--features.
awk 'BEGIN { print "0.1,0.2,O.3,0.4,1"; for (i = 0; i < 20; i++) printf "%.2f,%.2f,%.2f,%.2f,%d\n", i / 20, sin(i), cos(i), i % 3, i % 2 }' >"$WORK/typo.csv"
cat >"$WORK/bin.json" <<'JSON'
{"input": [4], "layers": [{"type": "normalize"}, {"type": "dense", "units": 2}], "train": {"epochs": 2, "batch": 8}}
JSON
expect_exit 2 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/typo.csv"
expect_in "typo.csv:1:9: 'O.3' is not a number (line 1 has numbers, so it was read as data; if it is a header, say so: csv:PATH,header=yes)" "$WORK/err"
# A header of numbers is a header when the spec says so; header=no reads a text line as data.
{ echo "2019,2020,2021,2022,label"; tail -n +2 "$WORK/typo.csv"; } >"$WORK/years.csv"
expect_exit 0 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/years.csv,header=yes" "${THREADS[@]}"
expect_in "done: 2 epochs" "$WORK/out"
! grep -q "is a header" "$WORK/err" || fail "a declared header was reported as detected"
{ echo "a,b,c,d,label"; tail -n +2 "$WORK/typo.csv"; } >"$WORK/named.csv"
expect_exit 2 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/named.csv,header=no"
expect_in "named.csv:1:1: 'a' is not a number" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/named.csv,header=maybe"
expect_in "header=maybe; expected header=yes or header=no" "$WORK/err"
# The target by name in the middle, features by name and index.
awk -F, 'BEGIN { OFS = "," } { print $5, $1, $2, $3, $4 }' "$WORK/named.csv" >"$WORK/first.csv"
expect_exit 0 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/first.csv" --target label --save "$WORK/t.safetensors" "${THREADS[@]}"
expect_in "'label' (target), 'a', 'b', 'c', 'd'" "$WORK/err"
cat >"$WORK/two.json" <<'JSON'
{"input": [2], "layers": [{"type": "dense", "units": 2}], "train": {"epochs": 1}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/two.json" --data "csv:$WORK/first.csv" --target 1 --features "d,3" "${THREADS[@]}"
expect_exit 2 "$CGRAD" train "$WORK/two.json" --data "csv:$WORK/first.csv" --target label --features "d,e"
expect_in "--features: no column 'e'; the columns are 'label', 'a', 'b', 'c', 'd'" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/two.json" --data "csv:$WORK/first.csv" --target klass
expect_in "--target: no column 'klass'; the columns are 'label', 'a', 'b', 'c', 'd'" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/bin.json" --data "csv:$WORK/first.csv"
expect_in "first.csv:4:19: class label 2 is outside the model's 2 classes (0..1)" "$WORK/err"  # the default target: the last column

# ---- 3. categorical features, quoted fields with commas, CRLF and a BOM.
awk 'BEGIN {
    printf "\xef\xbb\xbf\"size, cm\",city,\"kind\"\r\n"
    split("Paris|\"New York, NY\"|Lagos", cities, "|")
    for (i = 0; i < 60; i++) { c = i % 3; printf "%.2f,%s,%s\r\n", 1 + c + 0.3 * sin(i), cities[c + 1], (c == 1 ? "big" : "small") }
}' >"$WORK/cities.csv"
cat >"$WORK/city.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "dense", "units": 2}],
 "optimizer": {"type": "adam", "lr": 0.05}, "train": {"epochs": 20, "batch": 10}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/city.json" --data "csv:$WORK/cities.csv" --save "$WORK/city.safetensors" "${THREADS[@]}"
expect_in "'size, cm', 'city', 'kind' (target)" "$WORK/err"
expect_in "note: 2 classes: 0 'big', 1 'small'" "$WORK/err"
table=$($MT meta "$WORK/city.safetensors" table)
[[ $table == *'"features":[{"column":0},{"column":1,"categories":["Lagos","New York, NY","Paris"]}]'* ]] ||
    fail "the checkpoint's table lacks the city vocabulary: $table"
expect_exit 0 "$CGRAD" eval "$WORK/city.safetensors" --data "csv:$WORK/cities.csv" --json
expect_in '"accuracy":1.000000' "$WORK/out"
printf 'size, cm,city\r\n2.0,"New York, NY"\r\n1.0,Oslo\r\n' | sed 's/^size, cm/"size, cm"/' >"$WORK/oslo.csv"
expect_exit 2 "$CGRAD" predict "$WORK/city.safetensors" --data "csv:$WORK/oslo.csv"
expect_in "oslo.csv:3:5: 'Oslo' is not a category of column 2 seen in training ('Lagos', 'New York, NY', 'Paris')" "$WORK/err"
sed 's/"train"/"data": {"unknown": "ignore"}, "train"/' "$WORK/city.json" >"$WORK/city_ignore.json"
expect_exit 0 "$CGRAD" info "$WORK/city_ignore.json"
expect_in "data: a category not seen in training reads as none of them" "$WORK/out"
expect_exit 0 "$CGRAD" train "$WORK/city_ignore.json" --data "csv:$WORK/cities.csv" --save "$WORK/ci.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/ci.safetensors" --data "csv:$WORK/oslo.csv"
[[ $(grep -c '^[01],\(big\|small\),' "$WORK/out") == 2 ]] || fail "unknown: ignore: expected two predictions"
[[ $($MT meta "$WORK/ci.safetensors" model) == *'"data":{"unknown":"ignore"}'* ]] || fail "the model file's data section was not kept"

# ---- 4. missing cells, impute, a constant column.
awk 'BEGIN { print "x,const,y,t"; for (i = 0; i < 40; i++) printf "%s,7,%.3f,%d\n", (i == 5 ? "" : (i == 9 ? "NA" : sprintf("%.3f", i * 0.25))), sin(i), i % 2 }' >"$WORK/gaps.csv"
cat >"$WORK/gaps.json" <<'JSON'
{"input": [3], "layers": [{"type": "normalize"}, {"type": "dense", "units": 2}], "train": {"epochs": 2, "batch": 8}}
JSON
expect_exit 2 "$CGRAD" train "$WORK/gaps.json" --data "csv:$WORK/gaps.csv"
expect_in "gaps.csv:7:1: empty field, expected a number (a normalize layer with \"impute\": \"mean\" fills in missing values)" "$WORK/err"
sed 's/{"type": "normalize"}/{"type": "normalize", "impute": "mean"}/' "$WORK/gaps.json" >"$WORK/impute.json"
expect_exit 0 "$CGRAD" train "$WORK/impute.json" --data "csv:$WORK/gaps.csv" --save "$WORK/g.safetensors" "${THREADS[@]}"
$MT stats "$WORK/gaps.csv" 40 >"$WORK/want.txt"
$MT buffers "$WORK/g.safetensors" 0 >"$WORK/got.txt"
same_stats "$WORK/got.txt" "$WORK/want.txt"
[[ $(sed -n 2p "$WORK/got.txt") == "7 1" ]] || fail "a constant column should get mean 7, variance 1: $(sed -n 2p "$WORK/got.txt")"
expect_exit 0 "$CGRAD" eval "$WORK/g.safetensors" --data "csv:$WORK/gaps.csv"

# ---- 5. bce_with_logits: targets in [0, 1], or two class names.
awk 'BEGIN { print "a,b,p"; for (i = 0; i < 20; i++) printf "%.2f,%.2f,%s\n", sin(i), cos(i), (i == 13 ? "1.5" : i % 2) }' >"$WORK/prob.csv"
cat >"$WORK/bce.json" <<'JSON'
{"input": [2], "layers": [{"type": "dense", "units": 1}], "loss": "bce_with_logits", "train": {"epochs": 2}}
JSON
expect_exit 2 "$CGRAD" train "$WORK/bce.json" --data "csv:$WORK/prob.csv"
expect_in "prob.csv:15:11: target 1.5 is outside [0, 1], which bce_with_logits needs" "$WORK/err"
sed -e '15s/1.5$/yes/' -e '2,$s/,1$/,yes/' -e '2,$s/,0$/,no/' "$WORK/prob.csv" >"$WORK/yesno.csv"
expect_exit 0 "$CGRAD" train "$WORK/bce.json" --data "csv:$WORK/yesno.csv" --save "$WORK/yn.safetensors" "${THREADS[@]}"
expect_in "note: 2 classes: 0 'no', 1 'yes'" "$WORK/err"
expect_exit 0 "$CGRAD" predict "$WORK/yn.safetensors" --data "csv:$WORK/yesno.csv"
[[ $(head -1 "$WORK/out") == "index,class,no,yes" ]] || fail "bce predict header: $(head -1 "$WORK/out")"
awk -F, 'NR > 1 { p = $3 + $4; if (p < 0.9999 || p > 1.0001 || ($2 == "yes") != ($4 > 0.5)) bad = 1 } END { exit bad }' "$WORK/out" ||
    fail "bce predict: probabilities of no and yes must add to 1 and pick the class"
echo ok
