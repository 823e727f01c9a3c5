#!/usr/bin/env bash
# Order matters: on scripts/make_motif_data.py's task (does the motif 1 2 3
# occur anywhere in a sequence of token ids?) the LSTM of
# models/motif_lstm.json learns the rule and a dense net of the same size
# (models/motif_dense.json) does not get far past chance, as the README
# says. Shorter sequences and fewer samples than the models' defaults keep
# the test fast; the gap is the same.
source "$(dirname "$0")/common.bash"
THREADS=(--threads 1)

python3 "$CG_SOURCE_DIR/scripts/make_motif_data.py" "$WORK" --length 30 --train 1500 --test 600 --seed 3
for m in lstm dense; do
    sed 's/"input": \[60\]/"input": [30]/' "$CG_SOURCE_DIR/models/motif_$m.json" >"$WORK/$m.json"
done
accuracy() {   # the last epoch's validation accuracy from a --log file
    tail -1 "$1" | sed 's/.*"val_accuracy":\([0-9.]*\).*/\1/'
}
expect_exit 0 "$CGRAD" train "$WORK/lstm.json" --data "csv:$WORK/motif_train.csv" \
    --val "csv:$WORK/motif_test.csv" --epochs 10 --log "$WORK/lstm.jsonl" "${THREADS[@]}"
expect_exit 0 "$CGRAD" train "$WORK/dense.json" --data "csv:$WORK/motif_train.csv" \
    --val "csv:$WORK/motif_test.csv" --epochs 10 --log "$WORK/dense.jsonl" "${THREADS[@]}"
lstm=$(accuracy "$WORK/lstm.jsonl") dense=$(accuracy "$WORK/dense.jsonl")
echo "validation accuracy: lstm $lstm, dense $dense"
awk -v a="$lstm" 'BEGIN { exit !(a >= 0.95) }' || fail "the LSTM reached $lstm, expected >= 0.95"
awk -v a="$dense" 'BEGIN { exit !(a <= 0.75) }' || fail "the dense net reached $dense, expected <= 0.75"
echo "sequence_order: ok"
