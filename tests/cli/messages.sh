#!/usr/bin/env bash
# Messages that say how to fix the problem: weights of another model, a
# model file where a checkpoint belongs and the reverse, softmax before
# cross_entropy, a NaN stop, --val-split's range.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 48
write_csv_model "$WORK/model.json"
DATA=(--data "csv:$WORK/d.csv")
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --epochs 1 \
    --save "$WORK/ck.safetensors" "${THREADS[@]}"

# --- weights of another model: one more layer shifts the names after it
cat >"$WORK/other.json" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dense", "units": 16},
            {"type": "tanh"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy"}
JSON
hint='  layers.<i> counts every entry of "layers" (flatten and dropout included), so inserting a layer renames the weights after it'
for cmd in "eval $WORK/ck.safetensors --model $WORK/other.json ${DATA[*]}" \
           "train $WORK/other.json ${DATA[*]} --init $WORK/ck.safetensors"; do
    # shellcheck disable=SC2086
    expect_exit 2 "$CGRAD" $cmd
    expect_in 'ck.safetensors: tensor "layers.1.weight" is missing: the weights are from another model' "$WORK/err"
    expect_in '  the file holds (6): layers.0.weight [16, 4], layers.0.bias [16], layers.2.weight [16, 16], layers.2.bias [16], layers.4.weight [3, 16], ... (1 more)' "$WORK/err"
    expect_in '  the model needs (6): layers.0.weight [16, 4], layers.0.bias [16], layers.1.weight [16, 16], layers.1.bias [16], layers.3.weight [3, 16], ... (1 more)' "$WORK/err"
    expect_in "$hint" "$WORK/err"
done
# and a shape that differs
sed 's/"units": 16, "activation": "relu"/"units": 8, "activation": "relu"/' "$WORK/model.json" >"$WORK/narrow.json"
expect_exit 2 "$CGRAD" eval "$WORK/ck.safetensors" --model "$WORK/narrow.json" "${DATA[@]}"
expect_in 'ck.safetensors: tensor "layers.0.weight" has shape [16, 4], the model needs [8, 4]: the weights are from another model' "$WORK/err"
expect_in "$hint" "$WORK/err"

# --- a model file where a checkpoint belongs, and the reverse
expect_exit 2 "$CGRAD" eval "$WORK/model.json" "${DATA[@]}"
expect_in "cgrad eval: $WORK/model.json is a model file (JSON), not a checkpoint: \`cgrad eval\` needs a checkpoint (.safetensors, as \`cgrad train --save\` writes); train the model first: \`cgrad train MODEL.json --data SPEC --save CKPT\`" "$WORK/err"
expect_exit 2 "$CGRAD" predict "$WORK/model.json" "${DATA[@]}"
expect_in "is a model file (JSON), not a checkpoint: \`cgrad predict\` needs a checkpoint" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --init "$WORK/model.json"
expect_in "model.json is a model file (JSON), not a checkpoint: --init needs a checkpoint" "$WORK/err"
expect_exit 2 "$CGRAD" train "${DATA[@]}" --resume "$WORK/model.json"
expect_in "model.json is a model file (JSON), not a checkpoint: --resume needs a checkpoint" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/ck.safetensors" "${DATA[@]}"
expect_in "cgrad train: $WORK/ck.safetensors is a checkpoint (safetensors), not a model file: \`cgrad train\` needs a model file (JSON); to continue the run it saved use --resume CKPT, to start from its weights --init CKPT beside the model file" "$WORK/err"
expect_exit 2 "$CGRAD" eval "$WORK/ck.safetensors" --model "$WORK/ck.safetensors" "${DATA[@]}"
expect_in "ck.safetensors is a checkpoint (safetensors), not a model file: --model needs a model file (JSON)" "$WORK/err"

# --- softmax before cross_entropy
softmax='softmax is not an activation here: the cross_entropy loss takes logits (it applies log-softmax itself, as PyTorch'"'"'s CrossEntropyLoss does), so end with a dense layer without activation; `cgrad predict` prints the softmax probabilities'
printf '%s\n' '{"input": [4], "layers": [{"type": "dense", "units": 3, "activation": "softmax"}]}' >"$WORK/sm.json"
expect_exit 2 "$CGRAD" train "$WORK/sm.json" "${DATA[@]}"
expect_in "sm.json: layers[0].activation: $softmax" "$WORK/err"
printf '%s\n' '{"input": [4], "layers": [{"type": "dense", "units": 3}, {"type": "softmax"}]}' >"$WORK/sm.json"
expect_exit 2 "$CGRAD" train "$WORK/sm.json" "${DATA[@]}"
expect_in "sm.json: layers[1].type: $softmax" "$WORK/err"

# --- NaN/Inf: what helps, and no claim about a file that does not exist
make_csv "$WORK/r.csv" 48 regression
cat >"$WORK/explode.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 1}],
 "loss": "mse", "optimizer": {"type": "adam", "lr": 1e30}, "train": {"epochs": 2, "batch": 8}}
JSON
expect_exit 1 "$CGRAD" train "$WORK/explode.json" --data "csv:$WORK/r.csv" \
    --save "$WORK/never.safetensors" "${THREADS[@]}"
expect_in "; nothing was saved" "$WORK/err"
expect_in '  a lower --lr, or "clip_grad_norm" in the model file'"'"'s "train" section, usually helps' "$WORK/err"
grep -q "left as it was" "$WORK/err" && fail "claims a file that never existed was left as it was"
[[ ! -e "$WORK/never.safetensors" ]] || fail "a NaN run saved a checkpoint"

# --- --val-split: one range, in every message
for v in 0 1 1.5 x; do
    expect_exit 2 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --val-split "$v"
    expect_in "--val-split: expected a number in (0, 1), got \"$v\"" "$WORK/err"
done
expect_exit 0 "$CGRAD" train --help
expect_in "hold out the last fraction F (0 < F < 1) of --data" "$WORK/out"
# --- counts agree in number
expect_exit 0 "$CGRAD" train "$WORK/model.json" "${DATA[@]}" --epochs 1 --batch 48 \
    --save "$WORK/one.safetensors" "${THREADS[@]}"
expect_in "done: 1 epoch, 1 step, " "$WORK/out"
expect_exit 0 "$CGRAD" train --resume "$WORK/one.safetensors" "${DATA[@]}" --epochs 1
expect_in "already trained for 1 epoch (--epochs 1); nothing to do" "$WORK/out"
expect_exit 0 "$CGRAD" info "$WORK/one.safetensors"
expect_in "training: 1 epoch done of 1, 1 step, lr" "$WORK/out"
echo ok
