#!/usr/bin/env bash
# Metrics beside the loss: MAE, RMSE and R² for regression losses and the
# top-k accuracy for cross_entropy, in `cgrad eval` (plain and --json) and
# in training's validation (the epoch line and --log),
# checked against an independent computation (awk over `cgrad predict`'s
# outputs and the CSV's targets).
source "$(dirname "$0")/common.bash"

# near A B: |A - B| <= 1e-4 * max(1, |B|)
near() {
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b;
                                     exit !(d <= 1e-4 * (m > 1 ? m : 1)) }' ||
        fail "expected $2, got $1"
}
json_field() {  # json_field KEY FILE
    sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" "$2"
}

# --- regression: mae, rmse, r2
make_csv "$WORK/r.csv" 50 regression
cat >"$WORK/r.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 1}],
 "loss": "mse", "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 5, "batch": 10, "seed": 3}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/r.json" --data "csv:$WORK/r.csv" --save "$WORK/r.safetensors" \
    --val "csv:$WORK/r.csv" --log "$WORK/r.jsonl" "${THREADS[@]}"
grep -qE '^epoch 5/5  train loss [0-9.]+ mae [0-9.]+ rmse [0-9.]+ r2 -?[0-9.]+  val loss [0-9.]+ mae [0-9.]+ rmse [0-9.]+ r2 -?[0-9.]+  lr' \
    "$WORK/out" || { cat "$WORK/out"; fail "no training and validation mae/rmse/r2 in the epoch line"; }
tail -n 1 "$WORK/r.jsonl" >"$WORK/last.json"
expect_in '"samples_per_s":' "$WORK/last.json"
expect_exit 0 "$CGRAD" predict "$WORK/r.safetensors" --data "csv:$WORK/r.csv" "${THREADS[@]}"
cp "$WORK/out" "$WORK/r.pred"
read -r mae rmse r2 < <(awk -F, 'NR == FNR { if (FNR > 1) y[FNR - 2] = $5; next }
    FNR > 1 { p[$1] = $2; n++ }
    END { for (i = 0; i < n; i++) { d = p[i] - y[i]; a += d < 0 ? -d : d; s += d * d; m += y[i] }
          m /= n; for (i = 0; i < n; i++) t += (y[i] - m) ^ 2
          printf "%.9g %.9g %.9g\n", a / n, sqrt(s / n), 1 - s / t }' "$WORK/r.csv" "$WORK/r.pred")
expect_exit 0 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/r.csv" --json "${THREADS[@]}"
expect_in '"accuracy":null,"samples":50,"mae":' "$WORK/out"
near "$(json_field mae "$WORK/out")" "$mae"
near "$(json_field rmse "$WORK/out")" "$rmse"
near "$(json_field r2 "$WORK/out")" "$r2"
# The last epoch's validation (the same data, the saved weights) in --log.
near "$(json_field val_mae "$WORK/last.json")" "$mae"
near "$(json_field val_rmse "$WORK/last.json")" "$rmse"
near "$(json_field val_r2 "$WORK/last.json")" "$r2"
expect_exit 0 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/r.csv" "${THREADS[@]}"
expect_in "$(printf '  mae %.4g  rmse %.4g  r2 %.4f  samples 50' "$mae" "$rmse" "$r2")" "$WORK/out"
# The training batches' metrics: with a learning rate too small to move the
# weights (SGD, 1e-30), one epoch's train_mae/rmse/r2 are the saved model's
# on the same data.
sed 's/"adam", "lr": 0.01/"sgd", "lr": 1e-30/' "$WORK/r.json" >"$WORK/still.json"
expect_exit 0 "$CGRAD" train "$WORK/still.json" --data "csv:$WORK/r.csv" --init "$WORK/r.safetensors" \
    --epochs 1 --log "$WORK/still.jsonl" --save "$WORK/still.safetensors" "${THREADS[@]}"
near "$(json_field train_mae "$WORK/still.jsonl")" "$mae"
near "$(json_field train_rmse "$WORK/still.jsonl")" "$rmse"
near "$(json_field train_r2 "$WORK/still.jsonl")" "$r2"
expect_exit 2 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/r.csv" --top-k 2
expect_in "top-k accuracy needs loss cross_entropy, the model's loss is mse" "$WORK/err"

# --- classification: top-k accuracy
make_csv "$WORK/c.csv" 60
write_csv_model "$WORK/c.json"
expect_exit 0 "$CGRAD" train "$WORK/c.json" --data "csv:$WORK/c.csv" --epochs 1 \
    --val "csv:$WORK/c.csv" --top-k 2 --log "$WORK/c.jsonl" --save "$WORK/c.safetensors" "${THREADS[@]}"
grep -qE '^epoch 1/1  train loss [0-9.]+ acc [0-9.]+% top-2 [0-9.]+%  val loss [0-9.]+ acc [0-9.]+% top-2 [0-9.]+%  lr' \
    "$WORK/out" || { cat "$WORK/out"; fail "no training and validation top-2 accuracy in the epoch line"; }
expect_exit 0 "$CGRAD" predict "$WORK/c.safetensors" --data "csv:$WORK/c.csv" "${THREADS[@]}"
cp "$WORK/out" "$WORK/c.pred"
top2=$(awk -F, 'NR == FNR { if (FNR > 1) y[FNR - 2] = $5; next }
    FNR > 1 { own = $(3 + y[$1]); above = 0
              for (c = 3; c <= 5; c++) above += $c > own
              hits += above < 2; n++ }
    END { print hits }' "$WORK/c.csv" "$WORK/c.pred")
expect_exit 0 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/c.csv" --top-k 2 "${THREADS[@]}"
expect_in "$(printf 'top-2 %.2f%% (%d/60)' "$(awk -v h="$top2" 'BEGIN { print 100 * h / 60 }')" "$top2")" \
    "$WORK/out"
expect_exit 0 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/c.csv" --top-k 2 --json \
    "${THREADS[@]}"
expect_in '"samples":60,"top_k":2,"top_k_accuracy":' "$WORK/out"
near "$(json_field top_k_accuracy "$WORK/out")" "$(awk -v h="$top2" 'BEGIN { print h / 60 }')"
expect_in '"top_k":2,"val_top_k_accuracy":' "$WORK/c.jsonl"
near "$(json_field val_top_k_accuracy "$WORK/c.jsonl")" "$(awk -v h="$top2" 'BEGIN { print h / 60 }')"
expect_exit 2 "$CGRAD" train "$WORK/c.json" --data "csv:$WORK/c.csv" --top-k 2
expect_in "--top-k needs validation data (--val or --val-split)" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/c.json" --data "csv:$WORK/c.csv" --val-split 0.2 --top-k 4
expect_in "--top-k: k must be between 2 and the number of classes (3), got 4" "$WORK/err"
expect_exit 2 "$CGRAD" train "$WORK/r.json" --data "csv:$WORK/r.csv" --val-split 0.2 --top-k 2
expect_in "--top-k needs loss cross_entropy, the model's loss is mse" "$WORK/err"
expect_exit 0 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/c.csv" --top-k 3 --json
expect_in '"top_k":3,"top_k_accuracy":1.000000' "$WORK/out"
expect_exit 2 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/c.csv" --top-k 4
expect_in "top-k: k must be between 2 and the number of classes (3), got 4" "$WORK/err"
expect_exit 2 "$CGRAD" eval "$WORK/c.safetensors" --data "csv:$WORK/c.csv" --top-k 1
expect_in "--top-k" "$WORK/err"
echo ok
