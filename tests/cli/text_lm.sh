#!/usr/bin/env bash
# A character-level language model through the CLI: text: data (windows of
# the model's input length, the next character at every step, the last 5%
# held out), an embedding -> lstm -> dense model that learns a repeating
# text, `cgrad sample` continuing it, the vocabulary kept in the
# checkpoint, and the bad inputs: an empty or too short file, a character
# the model never saw, a vocabulary larger than the model's classes, and
# token ids outside an embedding's vocabulary in a CSV.
source "$(dirname "$0")/common.bash"
# Steps of a small LSTM are microseconds of work: one thread is fastest.
THREADS=(--threads 1)

# A text whose next character is a function of the last few: learnable to
# (nearly) 100% by a small model, and a check for what sample writes.
for ((i = 0; i < 150; i++)); do printf 'the cat sat on the mat. '; done >"$WORK/cats.txt"
cat >"$WORK/lm.json" <<'JSON'
{"input": [16],
 "layers": [{"type": "embedding", "vocab": 12, "dim": 8},
            {"type": "lstm", "units": 32},
            {"type": "dense", "units": 12}],
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "lr": 0.02},
 "train": {"epochs": 6, "batch": 8, "seed": 2, "clip_grad_norm": 1.0}}
JSON

expect_exit 0 "$CGRAD" train "$WORK/lm.json" --data "text:$WORK/cats.txt" --save "$WORK/lm.safetensors" \
    --log "$WORK/lm.jsonl" "${THREADS[@]}"
expect_in "holding out the last 5% of the text for validation" "$WORK/err"
val_acc=$(tail -1 "$WORK/lm.jsonl" | sed 's/.*"val_accuracy":\([0-9.]*\).*/\1/')
# (Not 100%: training windows start anywhere, so the first characters of a
# window have too little context to place them in the sentence.)
awk -v a="$val_acc" 'BEGIN { exit !(a > 0.93) }' || fail "validation accuracy $val_acc, expected > 0.93"
expect_in '"val_bits_per_char":' "$WORK/lm.jsonl"
expect_in "bits/char)" "$WORK/out"

# The vocabulary (sorted code points: space . a c e h m n o s t) is in the metadata.
expect_exit 0 "$CGRAD" info "$WORK/lm.safetensors"
python3 - "$WORK/lm.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
want = ",".join(str(ord(c)) for c in sorted(set("the cat sat on the mat. ")))
assert meta["text_vocab"] == want, (meta["text_vocab"], want)
PY

# Sampling continues the text; cold sampling is the text itself, and the
# same seed gives the same text.
expect_exit 0 "$CGRAD" sample "$WORK/lm.safetensors" --prime "the cat " --length 40 --temperature 0.05 "${THREADS[@]}"
[[ "$(cat "$WORK/out")" == "the cat sat on the mat. the cat sat on the mat. " ]] ||
    fail "cold sample: $(cat "$WORK/out")"
expect_exit 0 "$CGRAD" sample "$WORK/lm.safetensors" --length 60 --seed 9 "${THREADS[@]}"
cp "$WORK/out" "$WORK/sample1"
expect_exit 0 "$CGRAD" sample "$WORK/lm.safetensors" --length 60 --seed 9 --top-k 3 --threads 1
expect_exit 0 "$CGRAD" sample "$WORK/lm.safetensors" --length 60 --seed 9 "${THREADS[@]}"
cmp -s "$WORK/out" "$WORK/sample1" || fail "same seed, different samples"
expect_exit 2 "$CGRAD" sample "$WORK/lm.safetensors" --prime "the dog"
expect_in "--prime: text: line 1: 'd' (U+0064) is not in the vocabulary of 11 symbols" "$WORK/err"
expect_exit 2 "$CGRAD" sample "$WORK/lm.safetensors" --temperature 0
expect_exit 2 "$CGRAD" sample "$WORK/lm.safetensors" --top-k 0

# Evaluation maps text through the checkpoint's vocabulary.
expect_exit 0 "$CGRAD" eval "$WORK/lm.safetensors" --data "text:$WORK/cats.txt"
expect_in "bits/char)  accuracy" "$WORK/out"
expect_in "/3584)  samples 224" "$WORK/out"   # 224 windows of 16: accuracy counts every step
printf 'the dog sat on the mat. the dog sat on the mat.\n' >"$WORK/dogs.txt"
expect_exit 2 "$CGRAD" eval "$WORK/lm.safetensors" --data "text:$WORK/dogs.txt"
expect_in "line 1: 'd' (U+0064) is not in the vocabulary of 11 symbols the model was trained with" "$WORK/err"

# Resuming keeps the vocabulary and the held-out tail.
expect_exit 0 "$CGRAD" train --resume "$WORK/lm.safetensors" --data "text:$WORK/cats.txt" --epochs 7 "${THREADS[@]}"
expect_in "holding out the last 0.05 of the data for validation, as the run did" "$WORK/err"
expect_exit 0 "$CGRAD" sample "$WORK/lm.safetensors" --prime "the cat " --length 16 --temperature 0.05
expect_in "the cat sat on the mat." "$WORK/out"

# A sample checkpoint that is not a language model.
make_csv "$WORK/tab.csv" 40
write_csv_model "$WORK/tab.json"
expect_exit 0 "$CGRAD" train "$WORK/tab.json" --data "csv:$WORK/tab.csv" --epochs 1 --save "$WORK/tab.safetensors"
expect_exit 2 "$CGRAD" sample "$WORK/tab.safetensors"
expect_in "has no text vocabulary in its metadata" "$WORK/err"

# Bad text files.
: >"$WORK/empty.txt"
expect_exit 2 "$CGRAD" train "$WORK/lm.json" --data "text:$WORK/empty.txt"
expect_in "the file is empty" "$WORK/err"
printf 'the cat sat' >"$WORK/short.txt"
expect_exit 2 "$CGRAD" train "$WORK/lm.json" --data "text:$WORK/short.txt"
expect_in "too short: 11 characters make no window of 16 plus the next character" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/lm.json" --data "text:$WORK/missing.txt"
expect_in "cannot open" "$WORK/err"
# More distinct characters than the model has classes.
for ((i = 0; i < 20; i++)); do printf 'The quick brown fox jumps over the lazy dog! '; done >"$WORK/fox.txt"
expect_exit 2 "$CGRAD" train "$WORK/lm.json" --data "text:$WORK/fox.txt"
expect_in "the text has 29 distinct characters but the model has 12 classes" "$WORK/err"
# text: needs a model of token ids.
expect_exit 2 "$CGRAD" train "$WORK/tab.json" --data "text:$WORK/cats.txt"
expect_in "the text has 11 distinct characters but the model has 3 classes" "$WORK/err"
expect_exit 2 "$CGRAD" train "$CG_SOURCE_DIR/models/fashion_mlp.json" --data "text:$WORK/cats.txt"
expect_in "needs a model whose input is [T] token ids" "$WORK/err"

# Sequence classification from CSV token ids: an id outside the
# embedding's vocabulary names its sample before training starts.
cat >"$WORK/seq.json" <<'JSON'
{"input": [5],
 "layers": [{"type": "embedding", "vocab": 4, "dim": 3},
            {"type": "gru", "units": 6, "return_sequences": false},
            {"type": "dense", "units": 2}],
 "train": {"epochs": 2, "batch": 4}}
JSON
printf 't0,t1,t2,t3,t4,label\n0,1,2,3,0,1\n1,1,2,3,3,0\n3,2,1,0,0,1\n2,2,2,2,2,0\n' >"$WORK/ids.csv"
expect_exit 0 "$CGRAD" train "$WORK/seq.json" --data "csv:$WORK/ids.csv"
printf 't0,t1,t2,t3,t4,label\n0,1,2,3,0,1\n1,1,2,7,3,0\n' >"$WORK/bad_ids.csv"
expect_exit 2 "$CGRAD" train "$WORK/seq.json" --data "csv:$WORK/bad_ids.csv"
expect_in "sample 1, position 3: token id 7 is not in the embedding's vocabulary [0, 4)" "$WORK/err"
printf 't0,t1,t2,t3,t4,label\n0,1,2,3,0,1\n1,1,2.5,3,3,0\n' >"$WORK/frac_ids.csv"
expect_exit 2 "$CGRAD" train "$WORK/seq.json" --data "csv:$WORK/frac_ids.csv"
expect_in "token id 2.5 is not in the embedding's vocabulary" "$WORK/err"
# Truncated backpropagation through time: with windows of 4 characters,
# only a stateful LSTM (its state carried from each window to the next in
# stream order) can know which letter a line began with, 9 characters
# before the capital that repeats it.
python3 -c "
import random
r = random.Random(1)
with open('$WORK/ab.txt', 'w') as f:
    for i in range(600):
        c = r.choice('ab'); f.write(c + '-' * 7 + c.upper() + '\\n')
"
for stateful in false true; do
    cat >"$WORK/ab_$stateful.json" <<JSON
{"input": [4],
 "layers": [{"type": "embedding", "vocab": 6, "dim": 8},
            {"type": "lstm", "units": 24, "stateful": $stateful},
            {"type": "dense", "units": 6}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 8, "batch": 16, "seed": 1, "shuffle": false}}
JSON
    expect_exit 0 "$CGRAD" train "$WORK/ab_$stateful.json" --data "text:$WORK/ab.txt" \
        --save "$WORK/ab_$stateful.safetensors" "${THREADS[@]}"
    expect_exit 0 "$CGRAD" eval "$WORK/ab_$stateful.safetensors" --data "text:$WORK/ab.txt" --json "${THREADS[@]}"
    sed 's/.*"loss":\([0-9.]*\).*/\1/' "$WORK/out" >"$WORK/loss_$stateful"
done
awk -v a="$(cat "$WORK/loss_true")" -v b="$(cat "$WORK/loss_false")" 'BEGIN { exit !(a < 0.7 * b) }' ||
    fail "stateful loss $(cat "$WORK/loss_true") is not well below the stateless $(cat "$WORK/loss_false")"
expect_exit 0 "$CGRAD" info "$WORK/ab_true.json"
expect_in "lstm 24 stateful" "$WORK/out"
sed 's/"shuffle": false/"shuffle": true/' "$WORK/ab_true.json" >"$WORK/ab_shuffled.json"
expect_exit 2 "$CGRAD" train "$WORK/ab_shuffled.json" --data "text:$WORK/ab.txt"
expect_in "a stateful layer carries its state from one batch to the next, so the data must stay in order" "$WORK/err"
sed 's/"stateful": true/"stateful": true, "bidirectional": true/' "$WORK/ab_true.json" >"$WORK/ab_bi.json"
expect_exit 2 "$CGRAD" info "$WORK/ab_bi.json"
expect_in "layers[1].stateful: a stateful layer cannot be bidirectional" "$WORK/err"
echo "text language model: ok"
