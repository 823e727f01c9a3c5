#!/usr/bin/env bash
# CNNs with batch normalisation against PyTorch, on tiny synthetic 1x8x8
# images from a CSV (64 features reshaped to the model's [1, 8, 8] input):
#  a. conv2d -> batchnorm -> relu -> maxpool2d -> conv2d -> batchnorm -> relu
#     -> avgpool2d -> global_avgpool -> dense -> batchnorm (1d) -> dense,
#     trained by cgrad from a PyTorch state_dict (--init, with non-initial
#     running statistics and an I64 num_batches_tracked), unshuffled, with
#     SGD and with Adam, ends with torch's weights, running statistics and
#     num_batches_tracked (tests/cli/torch_graph.py trains the same way);
#  b. a small ResNet in the graph form (identity and 1x1-conv shortcuts
#     merged by add, stride 2), trained with augmentation: its checkpoint
#     loads into the torch module with strict=True (buffers included) and
#     torch's eval-mode predictions are cgrad predict's;
#  c. an --init file without the buffers is loaded with a note per missing
#     buffer, which keeps its initial value (torch agrees after training);
#     a num_batches_tracked stored as F32 is refused.
# Skipped (77) when PyTorch is not importable.
source "$(dirname "$0")/common.bash"
PY=/usr/bin/python3
[[ -x $PY ]] && $PY -c "import torch" 2>/dev/null || { echo "PyTorch not importable: skipped"; exit 77; }
TG="$PY $(dirname "$0")/torch_graph.py"

# make_images PATH ROWS: 8x8 images of 3 classes, a horizontal bar, a
# vertical bar or an anti-diagonal at a position that varies, plus noise.
make_images() {
    awk -v n="$2" 'BEGIN {
        for (k = 0; k < 64; k++) printf "p%d,", k
        print "class"
        for (i = 0; i < n; i++) {
            c = (i * 5) % 3; at = (i * 7) % 8
            for (r = 0; r < 8; r++)
                for (q = 0; q < 8; q++) {
                    on = (c == 0 && r == at) || (c == 1 && q == at) || (c == 2 && (r + q) % 8 == at)
                    printf "%.4f,", on + 0.2 * sin(i * 13 + r * 7 + q * 3)
                }
            print c
        }
    }' >"$1"
}
make_images "$WORK/img.csv" 96

# No bias before a batch norm (the usual pattern, and with Adam a bias whose
# gradient is only rounding noise would move by lr either way). Dropout 0:
# training is compared step by step.
cat >"$WORK/cnn.json" <<'JSON'
{"input": [1, 8, 8],
 "layers": [{"type": "conv2d", "filters": 6, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "dropout2d", "rate": 0},
            {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm", "momentum": 0.2, "eps": 0.001},
            {"type": "relu"},
            {"type": "avgpool2d", "kernel": 3, "stride": 1, "padding": 1},
            {"type": "global_avgpool"},
            {"type": "dense", "units": 12, "bias": false},
            {"type": "batchnorm", "affine": false},
            {"type": "relu"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005},
 "train": {"epochs": 3, "batch": 20, "seed": 2}}
JSON
sed 's/"optimizer": {[^}]*}/"optimizer": {"type": "adam", "lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.001}/' \
    "$WORK/cnn.json" >"$WORK/adam.json"
grep -q '"adam"' "$WORK/adam.json" || fail "sed did not edit the model"

# The ResNet: stem conv-BN-relu; block 1 conv-BN-relu-conv-BN + the stem
# (identity shortcut), relu; block 2 with stride 2, its shortcut a 1x1 conv
# with stride 2 + BN; dropout2d, global average pooling, dense.
cat >"$WORK/resnet.json" <<'JSON'
{"input": [1, 8, 8],
 "layers": [{"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm"},
            {"type": "relu", "name": "stem"},
            {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm", "name": "b1_main"},
            {"type": "add", "inputs": ["stem", "b1_main"]},
            {"type": "relu", "name": "block1"},
            {"type": "conv2d", "filters": 16, "kernel": 3, "stride": 2, "padding": 1, "bias": false},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "conv2d", "filters": 16, "kernel": 3, "padding": 1, "bias": false},
            {"type": "batchnorm", "name": "b2_main"},
            {"type": "conv2d", "filters": 16, "kernel": 1, "stride": 2, "bias": false, "inputs": ["block1"]},
            {"type": "batchnorm", "name": "b2_short"},
            {"type": "add", "inputs": ["b2_main", "b2_short"]},
            {"type": "relu"},
            {"type": "dropout2d", "rate": 0.1},
            {"type": "global_avgpool"},
            {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01},
 "augment": {"random_crop": {"padding": 1}, "hflip": true},
 "train": {"epochs": 3, "batch": 16, "seed": 4}}
JSON

# torch's initialisation, exported once: with running statistics and
# num_batches_tracked = 2 from two forward passes in training mode; the
# parameters alone; num_batches_tracked as F32.
$TG export "$WORK/cnn.json" "$WORK/init.safetensors" 3 2 \
    + export "$WORK/cnn.json" "$WORK/params.safetensors" 3 0 no-buffers \
    + export "$WORK/cnn.json" "$WORK/f32.safetensors" 3 0 f32-count >"$WORK/torch.out" \
    || { cat "$WORK/torch.out"; fail "torch could not export the CNN"; }

# a. cgrad trains from torch's state: SGD (5 batches an epoch, the last one
# partial), then Adam with other epochs and batch.
expect_exit 0 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/img.csv" --init "$WORK/init.safetensors" \
    --no-shuffle --save "$WORK/sgd.safetensors" "${THREADS[@]}"
expect_in "done: 3 epochs, 15 steps" "$WORK/out"
! grep -v 'is a header' "$WORK/err" || fail "a complete --init file should load without notes"
expect_exit 0 "$CGRAD" train "$WORK/adam.json" --data "csv:$WORK/img.csv" --init "$WORK/init.safetensors" \
    --no-shuffle --epochs 4 --batch 16 --save "$WORK/adam.safetensors" "${THREADS[@]}"
expect_in "done: 4 epochs, 24 steps" "$WORK/out"

# c. No buffers in the --init file: one note per buffer, and training goes on.
expect_exit 0 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/img.csv" --init "$WORK/params.safetensors" \
    --no-shuffle --save "$WORK/nobuf.safetensors" "${THREADS[@]}"
expect_in "done: 3 epochs, 15 steps" "$WORK/out"
for layer in 1 6 11; do
    for buffer in running_mean running_var num_batches_tracked; do
        expect_in "cgrad train: note: $WORK/params.safetensors has no buffer \"layers.$layer.$buffer\"; it keeps PyTorch's initial value" "$WORK/err"
    done
done
[[ $(grep -c 'note: .* has no buffer' "$WORK/err") == 9 ]] || { cat "$WORK/err"; fail "expected one note per missing buffer"; }
# A count of the wrong dtype is an error, not a note.
expect_exit 2 "$CGRAD" train "$WORK/cnn.json" --data "csv:$WORK/img.csv" --init "$WORK/f32.safetensors" \
    "${THREADS[@]}"
expect_in "f32.safetensors: tensor \"layers.1.num_batches_tracked\" must be I64, the file has F32" "$WORK/err"

# b. The ResNet, trained with augmentation, then predicted.
expect_exit 0 "$CGRAD" train "$WORK/resnet.json" --data "csv:$WORK/img.csv" --save "$WORK/resnet.safetensors" \
    "${THREADS[@]}"
expect_in "done: 3 epochs, 18 steps" "$WORK/out"
expect_exit 0 "$CGRAD" info "$WORK/resnet.safetensors"
expect_in "augment: random crop (padding 1), horizontal flip" "$WORK/out"
expect_exit 0 "$CGRAD" predict "$WORK/resnet.safetensors" --data "csv:$WORK/img.csv" --out "$WORK/resnet.csv"

# One torch import for every comparison: the training runs (a, c), the
# counts, and the ResNet's predictions in eval mode (b).
$TG train "$WORK/init.safetensors" "$WORK/sgd.safetensors" "$WORK/img.csv" 3 20 \
    + train "$WORK/init.safetensors" "$WORK/adam.safetensors" "$WORK/img.csv" 4 16 \
    + train "$WORK/params.safetensors" "$WORK/nobuf.safetensors" "$WORK/img.csv" 3 20 \
    + buffers "$WORK/sgd.safetensors" 17 \
    + buffers "$WORK/nobuf.safetensors" 15 \
    + buffers "$WORK/resnet.safetensors" 18 \
    + predict "$WORK/resnet.safetensors" "$WORK/img.csv" "$WORK/resnet.csv" \
    || fail "torch disagrees with cgrad"
echo "torch_cnn: ok"
