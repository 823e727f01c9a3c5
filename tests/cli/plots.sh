#!/usr/bin/env bash
# cgrad plot and train --plot / --log-steps: the images are valid PNG, SVG
# and PDF of the size asked for and hold one curve per run and metric; odd
# logs (one epoch, empty, NaN, nulls, not a log) and unwritable outputs get
# a plot or a clear message, never a damaged file.
source "$(dirname "$0")/common.bash"

CHECK=(python3 "$CG_SOURCE_DIR/tests/cli/image_check.py")
BLUE=31,119,180     # the first run's colour (tab10)
ORANGE=255,127,14   # the second's

make_csv "$WORK/train.csv" 240
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" plot --help
expect_in "usage: cgrad plot" "$WORK/out"

# A build without cairo refuses images with a message saying so, and the
# text reports still work (tests/cli/confusion.sh, layer_graph_dot.sh).
echo '{"epoch":1,"train_loss":1,"train_accuracy":0.5,"val_loss":null,"val_accuracy":null,"lr":0.1}' \
    >"$WORK/one.jsonl"
if ! "$CGRAD" plot "$WORK/one.jsonl" -o "$WORK/probe.png" 2>"$WORK/probe.err"; then
    expect_in "built without cairo" "$WORK/probe.err"
    expect_exit 1 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --plot "$WORK/x.png"
    expect_in "built without cairo" "$WORK/err"
    echo "cgrad was built without cairo: only the refusal was tested"
    exit 0
fi

# --- Two runs: one logging every 3rd step, one only epochs.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 4 --log "$WORK/a.jsonl" --log-steps 3 "${THREADS[@]}"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 5 --lr 0.003 --log "$WORK/b.jsonl" "${THREADS[@]}"
# 180 training samples in batches of 16: 12 steps an epoch, a record every 3.
[[ $(grep -c '"step":' "$WORK/a.jsonl") == 16 ]] || fail "--log-steps 3: expected 16 step records"
[[ $(grep -c '"train_loss":' "$WORK/a.jsonl") == 4 ]] || fail "expected 4 epoch records"
expect_in '{"step":3,"epoch":1,"batch":3,"batches":12,"loss":' "$WORK/a.jsonl"
# The step records' losses, weighted by their batches, give the epoch's mean.
python3 - "$WORK/a.jsonl" <<'EOF' || fail "step records do not average to the epoch loss"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = [r["loss"] for r in rows if "step" in r and r["epoch"] == 1]
epoch = next(r for r in rows if "train_loss" in r and r["epoch"] == 1)
# Batches 1-3, 4-6, 7-9 hold 48 samples; 10-12 hold 16 + 16 + 4.
mean = sum(loss * n for loss, n in zip(steps, [48, 48, 48, 36])) / 180
assert abs(mean - epoch["train_loss"]) < 1e-4 * max(1, epoch["train_loss"]), (mean, epoch)
EOF

# PNG: the size asked for, the first run's colour, not the second's.
expect_exit 0 "$CGRAD" plot "$WORK/a.jsonl" -o "$WORK/a.png" --size 640x360
read -r blue orange < <("${CHECK[@]}" png "$WORK/a.png" 640 360 $BLUE $ORANGE)
((blue > 200 && orange == 0)) || fail "one run: $blue blue and $orange orange pixels"
expect_exit 0 "$CGRAD" plot "$WORK/a.jsonl" "$WORK/b.jsonl" -o "$WORK/ab.png" --size 700x500
read -r blue orange < <("${CHECK[@]}" png "$WORK/ab.png" 700 500 $BLUE $ORANGE)
((blue > 200 && orange > 200)) || fail "two runs: $blue blue and $orange orange pixels"

# SVG: a curve per run and metric. a: train, validation and per-step loss,
# train and validation accuracy, learning rate (6); b: the same without
# steps (5). Validation is dashed (4), two colours.
expect_exit 0 "$CGRAD" plot "$WORK/a.jsonl" "$WORK/b.jsonl" -o "$WORK/ab.svg" --size 800x600
[[ $("${CHECK[@]}" svg "$WORK/ab.svg" 800 600) == '{"curves": 11, "dashed": 4, "colours": 2, "dots": 0}' ]] ||
    fail "ab.svg: $("${CHECK[@]}" svg "$WORK/ab.svg" 800 600)"
expect_exit 0 "$CGRAD" plot "$WORK/b.jsonl" -o "$WORK/b.svg" --size 800x600 --log-scale
[[ $("${CHECK[@]}" svg "$WORK/b.svg" 800 600) == '{"curves": 5, "dashed": 2, "colours": 1, "dots": 0}' ]] ||
    fail "b.svg: $("${CHECK[@]}" svg "$WORK/b.svg" 800 600)"
expect_exit 0 "$CGRAD" plot "$WORK/a.jsonl" -o "$WORK/a.pdf" --size 500x400
"${CHECK[@]}" pdf "$WORK/a.pdf" 500 400

# --- Odd logs.
# One epoch: single values get dots (train loss, train accuracy, lr).
expect_exit 0 "$CGRAD" plot "$WORK/one.jsonl" -o "$WORK/one.svg" --size 600x400
[[ $("${CHECK[@]}" svg "$WORK/one.svg" 600 400) == '{"curves": 0, "dashed": 0, "colours": 0, "dots": 3}' ]] ||
    fail "one.svg: $("${CHECK[@]}" svg "$WORK/one.svg" 600 400)"
# Nulls (what cgrad writes for NaN) leave gaps; the rest is drawn.
sed 's/"val_loss":[0-9.e+-]*/"val_loss":null/' "$WORK/b.jsonl" | sed '3s/"train_loss":[0-9.e+-]*/"train_loss":null/' \
    >"$WORK/gaps.jsonl"
expect_exit 0 "$CGRAD" plot "$WORK/gaps.jsonl" -o "$WORK/gaps.png" --size 600x400
"${CHECK[@]}" png "$WORK/gaps.png" 600 400 >/dev/null
# Values no metric reaches (a hand-edited log; found by fuzz/fuzz_run_log.c)
# are left out instead of overflowing the axes.
sed '2s/"val_loss":[0-9.e+-]*/"val_loss":8e307/' "$WORK/b.jsonl" >"$WORK/huge.jsonl"
expect_exit 0 "$CGRAD" plot "$WORK/huge.jsonl" -o "$WORK/huge.svg" --size 600x400 --log-scale
"${CHECK[@]}" svg "$WORK/huge.svg" 600 400 >/dev/null
# Empty, all null, NaN literals, not a log, missing: a message, exit 2, no file.
: >"$WORK/empty.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/empty.jsonl" -o "$WORK/bad.png"
expect_in "empty.jsonl holds no records" "$WORK/err"
echo '{"epoch":1,"train_loss":null,"train_accuracy":null,"val_loss":null,"val_accuracy":null,"lr":null}' \
    >"$WORK/null.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/null.jsonl" -o "$WORK/bad.png"
expect_in "nothing to draw" "$WORK/err"
sed '2s/"train_loss":[0-9.e+-]*/"train_loss":NaN/' "$WORK/b.jsonl" >"$WORK/nan.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/nan.jsonl" -o "$WORK/bad.png"
expect_in "nan.jsonl:2: not a JSON object (NaN and Infinity are not JSON numbers" "$WORK/err"
echo '{"name":"not a log"}' >"$WORK/other.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/other.jsonl" -o "$WORK/bad.png"
expect_in "other.jsonl:1: neither an epoch record" "$WORK/err"
echo '{"epoch":"one","train_loss":1}' >"$WORK/typed.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/typed.jsonl" -o "$WORK/bad.png"
expect_in 'typed.jsonl:1: "epoch" should be a number or null' "$WORK/err"
echo '{"epoch":-1,"train_loss":1}' >"$WORK/negative.jsonl"
expect_exit 2 "$CGRAD" plot "$WORK/negative.jsonl" -o "$WORK/bad.png"
expect_in 'negative.jsonl:1: "epoch" should be a number from 0 to 1e15' "$WORK/err"
expect_exit 2 "$CGRAD" plot "$WORK/missing.jsonl" -o "$WORK/bad.png"
expect_in "cannot read $WORK/missing.jsonl" "$WORK/err"
[[ ! -e "$WORK/bad.png" ]] || fail "a failed plot left bad.png"

# --- Outputs that cannot be written, and bad options.
expect_exit 2 "$CGRAD" plot "$WORK/b.jsonl" -o "$WORK/no/such/dir/x.png"
expect_in "$WORK/no/such/dir/x.png" "$WORK/err"
expect_exit 2 "$CGRAD" plot "$WORK/b.jsonl" -o "$WORK/b.jsonl/x.png"
expect_in "cannot create a temporary file next to '$WORK/b.jsonl/x.png'" "$WORK/err"
expect_exit 2 "$CGRAD" plot "$WORK/b.jsonl" -o "$WORK/x.jpg"
expect_in "x.jpg: the image format is named by the extension: .png, .svg or .pdf" "$WORK/err"
expect_exit 2 "$CGRAD" plot "$WORK/b.jsonl" -o "$WORK/x.png" --size 12x10000000
expect_in "--size: expected WIDTHxHEIGHT" "$WORK/err"
expect_exit 2 "$CGRAD" plot "$WORK/b.jsonl"
expect_in "-o OUT.png (or .svg, .pdf) is required" "$WORK/err"
expect_exit 2 "$CGRAD" plot -o "$WORK/x.png"
expect_in "no log given" "$WORK/err"
# A failed redraw leaves the old image whole, and no temporary files.
cp "$WORK/a.png" "$WORK/keep.png"
expect_exit 2 "$CGRAD" plot "$WORK/nan.jsonl" -o "$WORK/keep.png"
cmp -s "$WORK/a.png" "$WORK/keep.png" || fail "a failed plot changed keep.png"
if ls -A "$WORK" | grep -q '\.tmp'; then fail "temporary files left: $(ls -A "$WORK")"; fi

# --- train --plot: redrawn every epoch, the whole run after a resume.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --val-split 0.25 \
    --epochs 2 --save "$WORK/r.safetensors" --log "$WORK/r.jsonl" --plot "$WORK/live.svg" "${THREADS[@]}"
"${CHECK[@]}" svg "$WORK/live.svg" 1500 450 >/dev/null
expect_exit 0 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/train.csv" --epochs 5 \
    --plot "$WORK/live.svg" "${THREADS[@]}"
# Five epochs: train and validation loss and accuracy, and the learning rate.
[[ $("${CHECK[@]}" svg "$WORK/live.svg" 1500 450) == '{"curves": 5, "dashed": 2, "colours": 1, "dots": 0}' ]] ||
    fail "live.svg after the resume: $("${CHECK[@]}" svg "$WORK/live.svg" 1500 450)"
# Refused before training: an unwritable --plot, --log-steps with nowhere to go.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" \
    --save "$WORK/never.safetensors" --plot "$WORK/no/dir/live.png"
expect_in "--plot:" "$WORK/err"
[[ ! -e "$WORK/never.safetensors" ]] || fail "training ran despite a bad --plot"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --log-steps 5
expect_in "--log-steps needs --log FILE or --plot FILE" "$WORK/err"
echo "plots: ok"
