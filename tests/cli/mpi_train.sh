#!/usr/bin/env bash
# Data-parallel training under mpirun (2 ranks on this machine): the same
# weights as one process with the same global batch (dense net and CNN, SGD
# with momentum and Adam; gradient buckets against one allreduce; tied and
# recurrent weights; dropout; synchronised batch norm), one checkpoint written by rank 0 that resumes on
# another number of ranks, eval split over the ranks, and failures on one
# rank (a missing file, a non-finite loss, a killed process, a batch that
# does not divide) ending the whole job with a message naming the rank.
# Skipped (77) without mpirun or when cgrad was built without MPI.
source "$(dirname "$0")/common.bash"

if ! command -v mpirun >/dev/null; then
    echo "SKIP: mpirun not found (install openmpi-bin and libopenmpi-dev, then rebuild)"
    exit 77
fi
MPIRUN=(mpirun --oversubscribe)
[[ $(id -u) == 0 ]] && MPIRUN+=(--allow-run-as-root)
ONE=(--threads 1)  # each rank single-threaded: 2 ranks share 2 cores

# mpi NP ARGS...: cgrad ARGS on NP ranks, never allowed to hang the suite.
# OpenMPI keeps some memory until exit by design: under `make sanitize` its
# allocations are not cgrad's leaks.
# CGRAD_BUCKET_KB, when set, goes to every rank.
mpi() {
    local np=$1 pass=()
    shift
    [[ -n ${CGRAD_BUCKET_KB-} ]] && pass=(-x CGRAD_BUCKET_KB)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        timeout 120 "${MPIRUN[@]}" -x ASAN_OPTIONS "${pass[@]}" -np "$np" "$@"
}

make_csv "$WORK/d.csv" 200
expect_exit 0 "$CGRAD" --version
# A build without MPI says so as soon as it is launched by mpirun.
mpi 2 "$CGRAD" eval "$WORK/none.safetensors" --data "csv:$WORK/d.csv" >"$WORK/out" 2>"$WORK/err" || true
if grep -q "built without MPI" "$WORK/err"; then
    echo "SKIP: this cgrad was built without MPI"
    exit 77
fi

dense_model() {  # PATH OPTIMIZER
    cat >"$1" <<JSON
{"input": [4],
 "layers": [{"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dense", "units": 16},
            {"type": "tanh"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy",
 "optimizer": $2,
 "train": {"epochs": 5, "batch": 16, "seed": 5}}
JSON
}


cnn_model() {  # PATH OPTIMIZER
    cat >"$1" <<JSON
{"input": [1, 6, 6],
 "layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "activation": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 3}],
 "optimizer": $2,
 "train": {"epochs": 4, "batch": 16, "seed": 3}}
JSON
}
make_images "$WORK/img.csv" 120

SGD='{"type": "sgd", "lr": 0.05, "momentum": 0.9}'
ADAM='{"type": "adam", "lr": 0.01}'

# train_one_and_two NAME MODEL DATA_SPEC: NAME.1.safetensors by 1 process
# (its stdout kept as NAME.1.out), NAME.2.safetensors by 2 ranks (rank 0's
# output left in $WORK/out and $WORK/err).
train_one_and_two() {
    local name=$1 model=$2 data=$3
    expect_exit 0 "$CGRAD" train "$model" --data "$data" --save "$WORK/$name.1.safetensors" "${ONE[@]}"
    cp "$WORK/out" "$WORK/$name.1.out"
    expect_exit 0 mpi 2 "$CGRAD" train "$model" --data "$data" --save "$WORK/$name.2.safetensors" \
        "${ONE[@]}"
}

# ends_alike NAME WHAT: the two runs' tensors agree within 1e-5.
ends_alike() {
    python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/$1.1.safetensors" \
        "$WORK/$1.2.safetensors" rel=1e-5 || fail "$2: 2 ranks end with other weights"
}

# same_weights NAME MODEL DATA: 1 process vs 2 ranks, global batch 16 (the
# last batch of 200 and 120 samples is partial: 8 samples, 4 a rank).
same_weights() {
    local name=$1 model=$2 data=$3
    train_one_and_two "$name" "$model" "csv:$data"
    expect_in "data-parallel over 2 ranks: each takes 8 samples of every batch of 16" "$WORK/err"
    expect_in "data-parallel: 2 ranks, gradient allreduce" "$WORK/out"
    # Only rank 0 prints: one line per epoch, the same figures as one process.
    [[ $(grep -c "^epoch 1/" "$WORK/out") == 1 ]] || { cat "$WORK/out"; fail "$name: epoch lines from more than one rank"; }
    diff <(grep -o "train loss [0-9.]* acc [0-9.]*%" "$WORK/$name.1.out") \
         <(grep -o "train loss [0-9.]* acc [0-9.]*%" "$WORK/out") ||
        fail "$name: 2 ranks report other losses than 1 process"
    ends_alike "$name" "$name"
}

dense_model "$WORK/dense_sgd.json" "$SGD"
dense_model "$WORK/dense_adam.json" "$ADAM"
cnn_model "$WORK/cnn_sgd.json" "$SGD"
cnn_model "$WORK/cnn_adam.json" "$ADAM"
same_weights dense_sgd "$WORK/dense_sgd.json" "$WORK/d.csv"
same_weights dense_adam "$WORK/dense_adam.json" "$WORK/d.csv"
same_weights cnn_sgd "$WORK/cnn_sgd.json" "$WORK/img.csv"
same_weights cnn_adam "$WORK/cnn_adam.json" "$WORK/img.csv"

# The gradients are averaged in buckets started during the backward pass
# (CGRAD_BUCKET_KB, default 1024): one bucket per parameter must give the
# same sums as one allreduce after the backward pass, bit for bit, also
# with a weight tied to an earlier layer (its gradient is final only after
# the embedding's backward, not the head's) and recurrent weights (one node
# for every time step). Dropout (between the LSTM's layers and after it)
# draws what one process draws, so 2 ranks end where 1 process does.
for ((i = 0; i < 40; i++)); do printf 'the cat sat on the mat. '; done >"$WORK/cats.txt"
cat >"$WORK/tied.json" <<'JSON'
{"input": [12],
 "layers": [{"type": "embedding", "name": "tok", "vocab": 12, "dim": 8},
            {"type": "lstm", "units": 8, "num_layers": 2, "dropout": 0.2},
            {"type": "dropout", "rate": 0.3},
            {"type": "dense", "units": 8, "activation": "tanh"},
            {"type": "dense", "name": "head", "units": 12, "tie_to": "tok", "bias": false}],
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 8, "seed": 4}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/tied.json" --data "text:$WORK/cats.txt" --save "$WORK/tied.1.safetensors" \
    "${ONE[@]}"
for kb in 0 0.001; do
    export CGRAD_BUCKET_KB=$kb
    expect_exit 0 mpi 2 "$CGRAD" train "$WORK/tied.json" --data "text:$WORK/cats.txt" \
        --save "$WORK/tied.$kb.safetensors" "${ONE[@]}"
done
python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/tied.0.safetensors" \
    "$WORK/tied.0.001.safetensors" exact || fail "buckets sum otherwise than one allreduce"
python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/tied.1.safetensors" \
    "$WORK/tied.0.001.safetensors" rel=1e-5 || fail "tied/recurrent/dropout: 2 ranks end elsewhere"
# Attention's dropout on its weights counts heads from the whole batch's
# first one: 2 ranks draw what 1 process draws there too. (SGD, not Adam:
# the key bias's gradient is zero up to rounding, and Adam would scale that
# rounding noise up to full-size steps that differ from run to run.)
cat >"$WORK/attn.json" <<'JSON'
{"input": [12],
 "layers": [{"type": "embedding", "vocab": 12, "dim": 8},
            {"type": "position_embedding", "max_len": 12},
            {"type": "attention", "heads": 2, "causal": true, "dropout": 0.3},
            {"type": "dense", "units": 12}],
 "loss": "cross_entropy",
 "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9},
 "train": {"epochs": 2, "batch": 8, "seed": 6}}
JSON
train_one_and_two attn "$WORK/attn.json" "text:$WORK/cats.txt"
ends_alike attn "attention dropout"

export CGRAD_BUCKET_KB=0.001
for net in dense_adam cnn_sgd; do
    data=$WORK/d.csv
    [[ $net == cnn_* ]] && data=$WORK/img.csv
    expect_exit 0 mpi 2 "$CGRAD" train "$WORK/$net.json" --data "csv:$data" \
        --save "$WORK/$net.b.safetensors" "${ONE[@]}"
    python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/$net.2.safetensors" \
        "$WORK/$net.b.safetensors" exact || fail "$net: buckets sum otherwise than one allreduce"
done
export CGRAD_BUCKET_KB=lots
expect_exit 2 mpi 2 "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/d.csv" "${ONE[@]}"
unset CGRAD_BUCKET_KB
expect_in "CGRAD_BUCKET_KB=lots: expected a size in KiB" "$WORK/err"
[[ $(grep -c "CGRAD_BUCKET_KB=lots" "$WORK/err") == 1 ]] || fail "the bucket size error came from more than one rank"

# Dropout on a dense net, with 193 samples: the last batch has 1 sample,
# so rank 0's share is empty (it draws no masks, and must still go on with
# the stream the others used).
make_csv "$WORK/d193.csv" 193
cat >"$WORK/drop.json" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 32, "activation": "relu"},
            {"type": "dropout", "rate": 0.5},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy",
 "optimizer": {"type": "sgd", "lr": 0.05, "momentum": 0.9},
 "train": {"epochs": 4, "batch": 16, "seed": 8}}
JSON
train_one_and_two drop "$WORK/drop.json" "csv:$WORK/d193.csv"
ends_alike drop "dropout"

# Batch norm: with "sync": true the statistics are the whole batch's, so 2
# ranks train (and keep running statistics) as 1 process does; without it
# each rank normalises its own half, which ends elsewhere. (No bias before
# a batch norm: its gradient is zero up to rounding, which no relative
# tolerance can compare.)
bn_model() {  # PATH SYNC
    cat >"$1" <<JSON
{"input": [1, 6, 6],
 "layers": [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": "same", "bias": false},
            {"type": "batchnorm", "sync": $2},
            {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 8, "bias": false},
            {"type": "batchnorm", "sync": $2},
            {"type": "relu"},
            {"type": "dense", "units": 3}],
 "optimizer": $SGD,
 "train": {"epochs": 4, "batch": 16, "seed": 6}}
JSON
}
for sync in true false; do
    bn_model "$WORK/bn_$sync.json" $sync
    train_one_and_two "bn_$sync" "$WORK/bn_$sync.json" "csv:$WORK/img.csv"
done
python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/bn_true.1.safetensors" \
    "$WORK/bn_true.2.safetensors" rel=1e-5 || fail "synchronised batch norm: 2 ranks end elsewhere"
# Alone, "sync" changes nothing.
python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/bn_true.1.safetensors" \
    "$WORK/bn_false.1.safetensors" exact || fail "\"sync\" changed a single-process run"
if python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/bn_false.1.safetensors" \
    "$WORK/bn_false.2.safetensors" rel=1e-5 >/dev/null 2>&1; then
    fail "local batch norm statistics on 2 ranks ended where 1 process does (the test cannot tell)"
fi
# A rank with no sample in a batch could not take part in the sums: refused
# before the first step, as bad input (exit 2).
make_images "$WORK/img113.csv" 113  # a last batch of 1
expect_exit 2 mpi 2 "$CGRAD" train "$WORK/bn_true.json" --data "csv:$WORK/img113.csv" "${ONE[@]}"
expect_in "rank 0: training: synchronised batch norm needs a sample on every rank in every batch, but a batch of 1 sample is shared over 2 ranks" "$WORK/err"

# Validation split over the ranks reports what one process reports.
expect_exit 0 "$CGRAD" train "$WORK/dense_adam.json" --data "csv:$WORK/d.csv" --val-split 0.2 \
    --epochs 2 "${ONE[@]}"
grep -o "val loss [0-9.]* acc [0-9.]*%" "$WORK/out" >"$WORK/val.1"
expect_exit 0 mpi 2 "$CGRAD" train "$WORK/dense_adam.json" --data "csv:$WORK/d.csv" --val-split 0.2 \
    --epochs 2 "${ONE[@]}"
grep -o "val loss [0-9.]* acc [0-9.]*%" "$WORK/out" >"$WORK/val.2"
[[ -s $WORK/val.1 ]] && diff "$WORK/val.1" "$WORK/val.2" || fail "validation over 2 ranks differs"

# Regression: train and validation MAE, RMSE and R2 in the log are the
# global ones (each rank's sums start from its own first target and are
# moved to the batch's before they are added).
make_csv "$WORK/reg.csv" 150 regression
cat >"$WORK/reg.json" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 16, "activation": "tanh"}, {"type": "dense", "units": 1}],
 "loss": "mse", "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 16, "seed": 2}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/reg.csv" --val-split 0.2 \
    --log "$WORK/reg.1.jsonl" "${ONE[@]}"
expect_exit 0 mpi 2 "$CGRAD" train "$WORK/reg.json" --data "csv:$WORK/reg.csv" --val-split 0.2 \
    --log "$WORK/reg.2.jsonl" "${ONE[@]}"
strip_times() { sed 's/"seconds":[^,]*,"samples_per_s":[^,]*,//' "$1"; }
grep -q '"train_r2":0' "$WORK/reg.1.jsonl" || fail "no train_r2 in the regression log"
diff <(strip_times "$WORK/reg.1.jsonl") <(strip_times "$WORK/reg.2.jsonl") ||
    fail "regression metrics over 2 ranks differ from 1 process"

# A checkpoint from 2 ranks resumes on 1 (and the other way round) and ends
# where an uninterrupted run ends.
expect_exit 0 mpi 2 "$CGRAD" train "$WORK/dense_adam.json" --data "csv:$WORK/d.csv" --epochs 2 \
    --save "$WORK/r.safetensors" "${ONE[@]}"
expect_exit 0 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --epochs 4 "${ONE[@]}"
expect_exit 0 mpi 2 "$CGRAD" train --resume "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --epochs 5 \
    "${ONE[@]}"
expect_in "epoch 5/5" "$WORK/out"
python3 "$CG_SOURCE_DIR/tests/cli/compare_tensors.py" "$WORK/dense_adam.1.safetensors" \
    "$WORK/r.safetensors" rel=1e-5 || fail "2 ranks, then 1, then 2 end with other weights"

# Checkpoints inside epochs: by steps, and by time (rank 0's clock decides
# for all, or the ranks would part ways); only rank 0 writes them.
expect_exit 0 mpi 2 "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/d.csv" --epochs 2 \
    --save "$WORK/p.safetensors" --save-every 5 --keep 2 "${ONE[@]}"
[[ $(ls "$WORK"/p.step-*.safetensors | wc -l) == 2 ]] || fail "--keep 2 under 2 ranks"
expect_exit 0 mpi 2 "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/d.csv" --epochs 2 \
    --save "$WORK/t.safetensors" --save-every 0.001s "${ONE[@]}"
expect_in "epoch 2/2" "$WORK/out"

# eval splits the data over the ranks: the same figures.
expect_exit 0 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --json --batch 20 "${ONE[@]}"
cp "$WORK/out" "$WORK/eval.1"
expect_exit 0 mpi 2 "$CGRAD" eval "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --json --batch 20 "${ONE[@]}"
diff "$WORK/eval.1" "$WORK/out" || fail "eval over 2 ranks differs from 1 process"
# predict: rank 0 writes every row, in order.
expect_exit 0 "$CGRAD" predict "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --batch 20 "${ONE[@]}"
cp "$WORK/out" "$WORK/pred.1"
expect_exit 0 mpi 2 "$CGRAD" predict "$WORK/r.safetensors" --data "csv:$WORK/d.csv" --batch 20 "${ONE[@]}"
diff "$WORK/pred.1" "$WORK/out" || fail "predict over 2 ranks differs from 1 process"

# --- failures end the whole job, naming the rank ---

# The global batch must divide over the ranks.
expect_exit 2 mpi 2 "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/d.csv" --batch 15 "${ONE[@]}"
expect_in "--batch 15 is the global batch and must divide evenly over the 2 ranks" "$WORK/err"

# The data file is missing on rank 1 only (as on a host without it).
cat >"$WORK/per_rank.sh" <<'SH'
#!/bin/sh
# Rank 1 is pointed at a file that does not exist.
data=$1; shift
[ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ] && data=$data.missing
exec "$@" --data "csv:$data"
SH
chmod +x "$WORK/per_rank.sh"
start=$SECONDS
expect_exit 2 mpi 2 "$WORK/per_rank.sh" "$WORK/d.csv" "$CGRAD" train "$WORK/dense_sgd.json" "${ONE[@]}"
expect_in "cgrad train: rank 1: " "$WORK/err"
expect_in "d.csv.missing" "$WORK/err"
expect_in "rank 1 of 2 failed (exit status 2" "$WORK/err"
(( SECONDS - start < 30 )) || fail "a missing file on one rank took $((SECONDS - start)) s to end the job"

# A sample that overflows to Inf/NaN in rank 1's share of every first batch
# (no shuffling: samples 8..15 are rank 1's): every rank stops at the same
# step, rank 0 reports it once, naming rank 1, and the last good checkpoint
# stays.
awk -F, 'NR == 12 { $1 = "3e38"; $2 = "3e38"; $3 = "3e38" } { print }' OFS=, "$WORK/d.csv" >"$WORK/nan.csv"
expect_exit 1 mpi 2 "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/nan.csv" --no-shuffle \
    --save "$WORK/nan.safetensors" "${ONE[@]}"
grep -qE "cgrad train: rank 1: step [0-9]+ \(epoch [0-9]+, batch 1\): the (loss|gradient)" "$WORK/err" ||
    { cat "$WORK/err"; fail "the non-finite step on rank 1 was not reported naming rank 1"; }
[[ $(grep -c "rank 1: step" "$WORK/err") == 1 ]] || fail "the NaN message was printed by more than one rank"
expect_in "nan.safetensors was left as it was" "$WORK/err"

# A rank killed mid-run ends the job within seconds (mpirun names it).
cat >"$WORK/kill_rank.sh" <<'SH'
#!/bin/sh
# Rank 1 is killed (SIGKILL) a second after it starts.
[ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ] && { (sleep 1; kill -9 $$) & }
exec "$@"
SH
chmod +x "$WORK/kill_rank.sh"
make_csv "$WORK/big.csv" 4000
start=$SECONDS
got=0
mpi 2 "$WORK/kill_rank.sh" "$CGRAD" train "$WORK/dense_sgd.json" --data "csv:$WORK/big.csv" \
    --epochs 100000 --batch 2 "${ONE[@]}" >"$WORK/out" 2>"$WORK/err" || got=$?
(( got != 0 && got != 124 )) || { cat "$WORK/err"; fail "a killed rank: exit $got"; }
(( SECONDS - start < 30 )) || fail "a killed rank took $((SECONDS - start)) s to end the job"
grep -qiE "rank 1|signal 9|killed" "$WORK/err" || { cat "$WORK/err"; fail "no message names the killed rank"; }

echo "PASS: mpi_train"
