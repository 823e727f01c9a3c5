#!/usr/bin/env bash
# Attention models trained by cgrad from PyTorch's initial state end with
# PyTorch's weights: a pre-norm transformer_block (causal, 2 heads) on a CSV
# whose rows are [T, F] sequences, under AdamW with "no_decay": ["bias",
# "norm"] (torch: two parameter groups) and a per-step warm-up + cosine
# schedule (torch: LinearLR then CosineAnnealingLR over the remaining
# steps, stepped after every optimizer step), and an embedding + learned
# positions + non-causal block + key padding model on CSV token ids.
# torch_graph.py builds nn.MultiheadAttention / LayerNorm / Linear and
# trains them as `cgrad train --no-shuffle --init` does (file order, the
# last partial batch kept), then compares every tensor (relative difference
# <= 1e-3) and cgrad predict's probabilities.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TG="$PY $(dirname "$0")/torch_graph.py"

# make_sequences PATH ROWS: 6 steps of 4 features; the class says where in
# the sequence a bump in feature 0 is (early, middle, late).
make_sequences() {
    awk -v n="$2" 'BEGIN {
        for (t = 0; t < 6; t++) printf "x%d_0,x%d_1,x%d_2,x%d_3,", t, t, t, t
        print "class"
        for (i = 0; i < n; i++) {
            c = (i * 7) % 3
            for (t = 0; t < 6; t++)
                printf "%.4f,%.4f,%.4f,%.4f,", (int(t / 2) == c) + 0.3 * sin(i * 3.1 + t),
                    0.5 * cos(i + t * 1.7), 0.2 * sin(i * 0.3 - t), 0.1 * t
            print c
        }
    }' >"$1"
}
# make_ids PATH ROWS: 6 token ids in [1, 6) then padding (id 0) to the end;
# class 1 when id 5 comes before id 1.
make_ids() {
    awk -v n="$2" 'BEGIN {
        print "t0,t1,t2,t3,t4,t5,class"
        for (i = 0; i < n; i++) {
            len = 2 + i % 5; first = -1
            for (t = 0; t < 6; t++) {
                v = t < len ? 1 + (i * 7 + t * t * 3 + int(i / 3)) % 5 : 0
                if (first < 0 && (v == 5 || v == 1)) first = v
                printf "%d,", v
            }
            print (first == 5) ? 1 : 0
        }
    }' >"$1"
}
make_sequences "$WORK/seq.csv" 70
make_ids "$WORK/ids.csv" 60

cat >"$WORK/block.json" <<'JSON'
{"input": [6, 4],
 "layers": [{"type": "transformer_block", "name": "b", "heads": 2, "causal": true, "mlp": 12},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adamw", "lr": 0.01, "weight_decay": 0.1, "no_decay": ["bias", "norm"]},
 "schedule": {"type": "cosine", "per": "step", "warmup_steps": 4, "warmup_start_factor": 0.1,
              "eta_min": 0.001},
 "train": {"epochs": 3, "batch": 16, "seed": 2}}
JSON
cat >"$WORK/ids.json" <<'JSON'
{"input": [6],
 "layers": [{"type": "embedding", "name": "tok", "vocab": 6, "dim": 8},
            {"type": "position_embedding", "max_len": 6},
            {"type": "layernorm", "name": "ln", "normalized_shape": 8},
            {"type": "attention", "name": "att", "heads": 2, "padding_id": 0,
             "inputs": ["ln", "input"]},
            {"type": "add", "inputs": ["ln", "att"]},
            {"type": "flatten"},
            {"type": "dense", "units": 2}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 12, "seed": 5}}
JSON

$TG export "$WORK/block.json" "$WORK/block0.safetensors" 1 \
    + export "$WORK/ids.json" "$WORK/ids0.safetensors" 2 >"$WORK/torch.out" \
    || { cat "$WORK/torch.out"; fail "torch could not export the models"; }

expect_exit 0 "$CGRAD" train "$WORK/block.json" --data "csv:$WORK/seq.csv" --init "$WORK/block0.safetensors" \
    --no-shuffle --save "$WORK/block.safetensors" "${THREADS[@]}"
! grep -v "is a header" "$WORK/err" || fail "block: torch's state should load without notes"
expect_in "done: 3 epochs, 15 steps" "$WORK/out"
expect_exit 0 "$CGRAD" train "$WORK/ids.json" --data "csv:$WORK/ids.csv" --init "$WORK/ids0.safetensors" \
    --no-shuffle --save "$WORK/ids.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" predict "$WORK/block.safetensors" --data "csv:$WORK/seq.csv" --out "$WORK/block.csv"
expect_exit 0 "$CGRAD" predict "$WORK/ids.safetensors" --data "csv:$WORK/ids.csv" --out "$WORK/ids.csv.out"

$TG train "$WORK/block0.safetensors" "$WORK/block.safetensors" "$WORK/seq.csv" 3 16 \
    + train "$WORK/ids0.safetensors" "$WORK/ids.safetensors" "$WORK/ids.csv" 3 12 \
    + predict "$WORK/block.safetensors" "$WORK/seq.csv" "$WORK/block.csv" \
    + predict "$WORK/ids.safetensors" "$WORK/ids.csv" "$WORK/ids.csv.out" \
    || fail "torch disagrees with cgrad"
echo "torch_attention: ok"
