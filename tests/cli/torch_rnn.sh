#!/usr/bin/env bash
# Recurrent models trained by cgrad from PyTorch's initial state end with
# PyTorch's weights: an LSTM (2 layers, bidirectional) and a GRU (a dense
# layer on every step) sequence classifier on a CSV whose rows are [T, F]
# sequences, an Elman RNN with relu (last step), and an embedding -> LSTM
# (last step) model on CSV token ids. (A bidirectional layer's last step
# has seen one step of its reverse direction, from a zero state: its
# weight_hh_reverse gets no gradient, so those models return every step.) cgrad trains with --no-shuffle --init; torch_graph.py
# trains torch.nn.LSTM/GRU/RNN/Embedding the same way (file order, Adam or
# SGD) and compares every tensor (relative difference <= 1e-3), then checks
# cgrad predict's probabilities against torch's.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TG="$PY $(dirname "$0")/torch_graph.py"

# make_sequences PATH ROWS: 6 steps of 2 features; the class says where in
# the sequence a bump in feature 0 is (early, middle, late).
make_sequences() {
    awk -v n="$2" 'BEGIN {
        for (t = 0; t < 6; t++) printf "x%d_0,x%d_1,", t, t
        print "class"
        for (i = 0; i < n; i++) {
            c = (i * 7) % 3
            for (t = 0; t < 6; t++)
                printf "%.4f,%.4f,", (int(t / 2) == c) + 0.3 * sin(i * 3.1 + t), 0.5 * cos(i + t * 1.7)
            print c
        }
    }' >"$1"
}
# make_ids PATH ROWS: 5 token ids in [0, 6); class 1 when id 5 comes before id 0.
make_ids() {
    awk -v n="$2" 'BEGIN {
        print "t0,t1,t2,t3,t4,class"
        for (i = 0; i < n; i++) {
            first = -1
            for (t = 0; t < 5; t++) {
                v = (i * 7 + t * t * 3 + int(i / 3)) % 6
                if (first < 0 && (v == 5 || v == 0)) first = v
                printf "%d,", v
            }
            print (first == 5) ? 1 : 0
        }
    }' >"$1"
}
make_sequences "$WORK/seq.csv" 70
make_ids "$WORK/ids.csv" 60

cat >"$WORK/lstm.json" <<'JSON'
{"input": [6, 2],
 "layers": [{"type": "lstm", "units": 8, "num_layers": 2, "bidirectional": true},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 16, "seed": 2}}
JSON
cat >"$WORK/gru.json" <<'JSON'
{"input": [6, 2],
 "layers": [{"type": "gru", "units": 5},
            {"type": "dense", "units": 4, "activation": "tanh"},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.02, "betas": [0.8, 0.99]},
 "train": {"epochs": 4, "batch": 20, "seed": 3}}
JSON
cat >"$WORK/rnn.json" <<'JSON'
{"input": [6, 2],
 "layers": [{"type": "rnn", "units": 6, "nonlinearity": "relu", "return_sequences": false},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
 "train": {"epochs": 3, "batch": 16, "seed": 4}}
JSON
cat >"$WORK/emb.json" <<'JSON'
{"input": [5],
 "layers": [{"type": "embedding", "vocab": 6, "dim": 4},
            {"type": "lstm", "units": 6, "return_sequences": false},
            {"type": "dense", "units": 2}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 12, "seed": 5}}
JSON

$TG export "$WORK/lstm.json" "$WORK/lstm0.safetensors" 1 \
    + export "$WORK/gru.json" "$WORK/gru0.safetensors" 2 \
    + export "$WORK/rnn.json" "$WORK/rnn0.safetensors" 3 \
    + export "$WORK/emb.json" "$WORK/emb0.safetensors" 4 >"$WORK/torch.out" \
    || { cat "$WORK/torch.out"; fail "torch could not export the models"; }

for m in lstm gru rnn; do
    expect_exit 0 "$CGRAD" train "$WORK/$m.json" --data "csv:$WORK/seq.csv" --init "$WORK/${m}0.safetensors" \
        --no-shuffle --save "$WORK/$m.safetensors" "${THREADS[@]}"
    ! grep -v "is a header" "$WORK/err" || fail "$m: torch's state should load without notes"
done
expect_in "done: 3 epochs, 15 steps" "$WORK/out"
expect_exit 0 "$CGRAD" train "$WORK/emb.json" --data "csv:$WORK/ids.csv" --init "$WORK/emb0.safetensors" \
    --no-shuffle --save "$WORK/emb.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/lstm.safetensors" --data "csv:$WORK/seq.csv" --out "$WORK/lstm.csv"
expect_exit 0 "$CGRAD" predict "$WORK/emb.safetensors" --data "csv:$WORK/ids.csv" --out "$WORK/emb.csv"

$TG train "$WORK/lstm0.safetensors" "$WORK/lstm.safetensors" "$WORK/seq.csv" 3 16 \
    + train "$WORK/gru0.safetensors" "$WORK/gru.safetensors" "$WORK/seq.csv" 4 20 \
    + train "$WORK/rnn0.safetensors" "$WORK/rnn.safetensors" "$WORK/seq.csv" 3 16 \
    + train "$WORK/emb0.safetensors" "$WORK/emb.safetensors" "$WORK/ids.csv" 3 12 \
    + predict "$WORK/lstm.safetensors" "$WORK/seq.csv" "$WORK/lstm.csv" \
    + predict "$WORK/emb.safetensors" "$WORK/ids.csv" "$WORK/emb.csv" \
    || fail "torch disagrees with cgrad"
echo "torch_rnn: ok"
