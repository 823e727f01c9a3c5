#!/usr/bin/env bash
# --save-best, --early-stop (with --min-delta, --restore-best, across
# --resume, and from the model file's "train": {"early_stop": ...}), and the
# plateau schedule in a real run: its lr falls when val_loss stalls, and a
# resumed run continues its state exactly.
source "$(dirname "$0")/common.bash"

make_csv "$WORK/d.csv" 120
write_csv_model "$WORK/model.json"
# At lr 0.4 this run's val_loss is, epoch by epoch: 1.2234 1.3534 0.4649
# 0.1084 0.1788 0.3157 0.1187 0.1999 0.5660 ...: best at epoch 4.
train() {
    "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.3 --lr 0.4 \
        "${THREADS[@]}" "$@"
}
compare() { /usr/bin/python3 "$(dirname "$0")/compare_tensors.py" "$@"; }
# weights_equal A B: the parameters and buffers (not the optimizer state).
weights_equal() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
def load(p):
    raw = open(p, "rb").read(); (n,) = struct.unpack("<Q", raw[:8]); h = json.loads(raw[8:8 + n])
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in h.items() if k.startswith("layers.")}
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a and a == b else 1)
PY
}
meta() {
    /usr/bin/python3 -c 'import json,struct,sys; r=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",r[:8])[0]; print(json.loads(r[8:8+n])["__metadata__"].get(sys.argv[2], ""))' "$1" "$2"
}

# --- --save-best: the best epoch's checkpoint, equal to a 4-epoch run's.
expect_exit 0 train --epochs 8 --save "$WORK/last.safetensors" --save-best "$WORK/best.safetensors"
expect_exit 0 train --epochs 4 --save "$WORK/e4.safetensors"
compare "$WORK/e4.safetensors" "$WORK/best.safetensors" exact \
    || fail "--save-best does not hold epoch 4 (the best val_loss)"
[[ $(meta "$WORK/best.safetensors" epoch) == 4 && $(meta "$WORK/last.safetensors" epoch) == 8 ]] \
    || fail "best should be epoch 4 and --save epoch 8"
[[ $(meta "$WORK/last.safetensors" best_epoch) == 4 ]] || fail "best_epoch not recorded"
# A maximised monitor: val_accuracy.
expect_exit 0 train --epochs 3 --save-best "$WORK/acc.safetensors" --monitor val_accuracy
[[ -s $WORK/acc.safetensors ]] || fail "--monitor val_accuracy saved nothing"

# --- early stopping: 3 epochs without improvement after epoch 4 -> stops after 7.
expect_exit 0 train --epochs 20 --early-stop 3 --save "$WORK/es.safetensors"
expect_in "stopped early after epoch 7: val_loss did not improve for 3 epochs (best 0.108" "$WORK/out"
expect_in "at epoch 4)" "$WORK/out"
! grep -q "epoch 8/20" "$WORK/out" || fail "trained past the early stop"
[[ $(meta "$WORK/es.safetensors" epoch) == 7 && $(meta "$WORK/es.safetensors" stopped_early) == true ]] \
    || fail "the checkpoint should say: epoch 7, stopped early"
# A larger patience stops later; with min_delta 0.9, epoch 3 (0.4649) does not
# count as beating epoch 1 (1.2234).
expect_exit 0 train --epochs 20 --early-stop 5
expect_in "stopped early after epoch 9:" "$WORK/out"
expect_exit 0 train --epochs 20 --early-stop 2 --min-delta 0.9
expect_in "stopped early after epoch 3: val_loss did not improve by more than 0.9 for 2 epochs (best 1.22336 at epoch 1)" "$WORK/out"

# --- across --resume: 5 epochs, then resumed up to 20, stops where the straight run did.
expect_exit 0 train --epochs 5 --early-stop 3 --save "$WORK/r.safetensors"
[[ $(meta "$WORK/r.safetensors" early_stop_wait) == 1 && $(meta "$WORK/r.safetensors" early_stop_best_epoch) == 4 ]] \
    || fail "early-stop state not in the checkpoint"
expect_exit 0 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --epochs 20 "${THREADS[@]}"
expect_in "stopped early after epoch 7:" "$WORK/out"
compare "$WORK/es.safetensors" "$WORK/r.safetensors" exact || fail "resumed early stop differs"
# A run that stopped early stays stopped.
expect_exit 0 "$CGRAD" train --resume "$WORK/es.safetensors" --data "csv:$WORK/d.csv" --epochs 20 "${THREADS[@]}"
! grep -q "^epoch " "$WORK/out" || fail "a run that stopped early trained on"

# --- --restore-best: ends with epoch 4's weights, in --save too.
expect_exit 0 train --epochs 20 --early-stop 3 --restore-best --save "$WORK/rb.safetensors"
expect_in "restored the weights of epoch 4" "$WORK/out"
weights_equal "$WORK/e4.safetensors" "$WORK/rb.safetensors" || fail "--save lacks the best weights"
weights_equal "$WORK/e4.safetensors" "$WORK/rb.best.safetensors" || fail "OUT.best.safetensors is not epoch 4"

# --- the same from the model file.
sed 's/"train": {/"train": {"early_stop": {"patience": 3, "monitor": "val_loss", "restore_best": true}, /' \
    "$WORK/model.json" >"$WORK/es.json"
expect_exit 0 "$CGRAD" train "$WORK/es.json" --data "csv:$WORK/d.csv" --val-split 0.3 --lr 0.4 \
    --epochs 20 --save "$WORK/mf.safetensors" "${THREADS[@]}"
expect_in "stopped early after epoch 7:" "$WORK/out"
weights_equal "$WORK/e4.safetensors" "$WORK/mf.safetensors" || fail "model-file early_stop differs"
# Flags override it.
expect_exit 0 "$CGRAD" train "$WORK/es.json" --data "csv:$WORK/d.csv" --val-split 0.3 --lr 0.4 \
    --epochs 20 --early-stop 5 --save "$WORK/mf5.safetensors" "${THREADS[@]}"
expect_in "stopped early after epoch 9:" "$WORK/out"

# --- usage errors name the flag.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save-best "$WORK/x.safetensors"
expect_in "--save-best" "$WORK/err"; expect_in "val_loss" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --early-stop 2 --monitor val_accuracy
expect_in "--early-stop" "$WORK/err"; expect_in "val_accuracy" "$WORK/err"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --early-stop 2 --monitor train_loss --epochs 2
expect_exit 2 train --monitor val_los --save-best "$WORK/x.safetensors"
expect_in "--monitor" "$WORK/err"
expect_exit 2 train --min-delta 0.1
expect_in "--min-delta needs --early-stop" "$WORK/err"
expect_exit 2 train --early-stop 3 --restore-best
expect_in "--restore-best needs --save-best" "$WORK/err"
expect_exit 2 train --early-stop 0
expect_in "--early-stop" "$WORK/err"
[[ ! -e $WORK/x.safetensors ]] || fail "a refused run wrote a file"

# --- --help lists the flags.
expect_exit 0 "$CGRAD" train --help
for flag in --save-best --monitor --early-stop --min-delta --restore-best; do expect_in "$flag" "$WORK/out"; done

# --- the plateau schedule: lr halves once val_loss has failed to improve for
# more than 1 epoch (epochs 5 and 6 after the best, epoch 4), so epoch 7 runs
# at 0.2; a run cut after epoch 5 (one bad epoch counted) and resumed does
# the same.
sed 's/"optimizer":/"schedule": {"type": "plateau", "factor": 0.5, "patience": 1}, "optimizer":/' \
    "$WORK/model.json" >"$WORK/pl.json"
pl() { "$CGRAD" train "$WORK/pl.json" --data "csv:$WORK/d.csv" --val-split 0.3 --lr 0.4 "${THREADS[@]}" "$@"; }
expect_exit 0 pl --epochs 8 --save "$WORK/pl8.safetensors"
grep "^epoch 6/8" "$WORK/out" | grep -q "lr 0.4 " || fail "plateau: epoch 6 should run at lr 0.4"
grep "^epoch 7/8" "$WORK/out" | grep -q "lr 0.2 " || fail "plateau: epoch 7 should run at lr 0.2"
expect_exit 0 pl --epochs 5 --save "$WORK/pl.safetensors"
[[ $(meta "$WORK/pl.safetensors" plateau_num_bad_epochs) == 1 ]] || fail "plateau state not saved"
expect_exit 0 "$CGRAD" train --resume "$WORK/pl.safetensors" --data "csv:$WORK/d.csv" --epochs 8 "${THREADS[@]}"
compare "$WORK/pl8.safetensors" "$WORK/pl.safetensors" exact || fail "plateau resume differs"
[[ $(meta "$WORK/pl.safetensors" plateau_lr) == $(meta "$WORK/pl8.safetensors" plateau_lr) ]] \
    || fail "plateau state differs after resume"
# Its validation monitor needs validation data.
expect_exit 2 "$CGRAD" train "$WORK/pl.json" --data "csv:$WORK/d.csv"
expect_in "plateau" "$WORK/err"
# --monitor alone would do nothing: refused.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.2 --monitor val_loss
expect_in "--monitor val_loss has nothing to watch for: give --save-best or --early-stop" "$WORK/err"
# --- monitoring the other validation metrics: val_mae on a regression run
# keeps the epoch with the smallest val_mae (read back from the log).
make_csv "$WORK/r.csv" 120 regression
cat >"$WORK/reg.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 16, "activation": "tanh"}, {"type": "dense", "units": 1}],
 "loss": "mse", "optimizer": {"type": "adam", "lr": 0.05}, "train": {"epochs": 8, "batch": 16, "seed": 3}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/r.csv" --val-split 0.3 --monitor val_mae \
    --save-best "$WORK/mae_best.safetensors" --log "$WORK/mae.jsonl" "${THREADS[@]}"
best_epoch=$(/usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(min(rows, key=lambda r: r["val_mae"])["epoch"])' "$WORK/mae.jsonl")
[[ $(meta "$WORK/mae_best.safetensors" epoch) == "$best_epoch" ]] \
    || fail "the val_mae checkpoint is of epoch $(meta "$WORK/mae_best.safetensors" epoch), the log's best is $best_epoch"
[[ $(meta "$WORK/mae_best.safetensors" best_epoch) == "$best_epoch" ]] || fail "best_epoch not recorded"
# Metrics that a run does not measure are refused.
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.3 \
    --monitor val_r2 --early-stop 2
expect_in "val_r2 is measured for the regression losses (mse, l1); the model's loss is cross_entropy" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.3 \
    --monitor val_top_k_accuracy --early-stop 2
expect_in "val_top_k_accuracy needs --top-k K" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.3 \
    --monitor val_f1 --early-stop 2
expect_in "--monitor: expected val_loss, val_accuracy, val_mae, val_rmse, val_r2, val_top_k_accuracy or the same with train_ instead of val_, got 'val_f1'" "$WORK/err"
# train_mae on the regression run: no validation needed.
expect_exit 0 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/r.csv" --monitor train_mae \
    --save-best "$WORK/tmae_best.safetensors" --log "$WORK/tmae.jsonl" "${THREADS[@]}"
best_epoch=$(/usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(min(rows, key=lambda r: r["train_mae"])["epoch"])' "$WORK/tmae.jsonl")
[[ $(meta "$WORK/tmae_best.safetensors" epoch) == "$best_epoch" ]] || fail "the train_mae checkpoint is not the log's best"
# val_top_k_accuracy with --top-k; a resumed run keeps reporting it.
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --val-split 0.3 --epochs 2 \
    --top-k 2 --monitor val_top_k_accuracy --early-stop 3 --save "$WORK/tk.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" train --resume "$WORK/tk.safetensors" --data "csv:$WORK/d.csv" --epochs 3 "${THREADS[@]}"
expect_in "note: reporting the top-2 accuracy, as the run did" "$WORK/err"
expect_in "top-2" "$WORK/out"
echo "ok"
