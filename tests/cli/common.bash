# Shared by the CLI tests (sourced, not run: CTest runs tests/cli/*.sh only).
# Each test gets a scratch directory $WORK, removed on exit, and helpers to
# run cgrad and check its exit status and messages.
set -euo pipefail

: "${CGRAD:?set CGRAD to the cgrad binary (CTest does)}"
CG_SOURCE_DIR="${CG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cgrad-cli-test.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# Two threads everywhere: results are bit-identical only for equal thread counts.
THREADS=(--threads 2)
# make valgrind: every cgrad command runs under memcheck (tests/valgrind/cgrad),
# on one thread, as valgrind runs threads one at a time anyway.
if [[ -n ${CG_VALGRIND_LOGS:-} ]]; then
    export CG_VALGRIND_CGRAD="$CGRAD"
    export CGRAD="$CG_SOURCE_DIR/tests/valgrind/cgrad"
    THREADS=(--threads 1)
fi

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# expect_exit CODE COMMAND...: runs COMMAND with stdout in $WORK/out and
# stderr in $WORK/err, and fails unless it exits with CODE.
expect_exit() {
    local want=$1 got=0
    shift
    "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
    if [[ $got != "$want" ]]; then
        echo "--- stdout:" >&2; cat "$WORK/out" >&2
        echo "--- stderr:" >&2; cat "$WORK/err" >&2
        fail "expected exit $want, got $got: $*"
    fi
}

# expect_in TEXT FILE: FILE contains TEXT (fixed string).
expect_in() {
    if ! grep -qF -- "$1" "$2"; then
        echo "--- $2:" >&2; cat "$2" >&2
        fail "expected to find: $1"
    fi
}

# make_csv PATH ROWS [regression]: a learnable data set with a header,
# 4 features and a class in {0,1,2} (or a real target), deterministic.
make_csv() {
    awk -v n="$2" -v reg="${3:-}" 'BEGIN {
        print "f0,f1,f2,f3,target"
        for (i = 0; i < n; i++) {
            c = (i * 7) % 3
            printf "%.5f,%.5f,%.5f,%.5f,", c - 1 + 0.4 * sin(i * 1.3), 0.5 * cos(i * 0.7),
                   (c == 2) + 0.3 * sin(i * 2.1), 0.2 * sin(i)
            if (reg) printf "%.5f\n", 2 * sin(i * 1.3) - cos(i * 0.7)
            else print c
        }
    }' >"$1"
}

# make_images PATH ROWS (conv_train.sh, mpi_train.sh): 6x6 images of 3 classes, a horizontal bar, a
# vertical bar or an anti-diagonal at a position that varies, plus noise.
make_images() {
    awk -v n="$2" 'BEGIN {
        for (k = 0; k < 36; k++) printf "p%d,", k
        print "class"
        for (i = 0; i < n; i++) {
            c = i % 3; at = (i * 7) % 6
            for (r = 0; r < 6; r++)
                for (q = 0; q < 6; q++) {
                    on = (c == 0 && r == at) || (c == 1 && q == at) || (c == 2 && (r + q) % 6 == at)
                    printf "%.4f,", on + 0.15 * sin(i * 13 + r * 7 + q * 3)
                }
            print c
        }
    }' >"$1"
}

# put_u32 FILE VALUE: appends a big-endian u32 (IDX header field).
put_u32() {
    printf "\\x$(printf %02x $(($2 >> 24 & 255)))\\x$(printf %02x $(($2 >> 16 & 255)))" >>"$1"
    printf "\\x$(printf %02x $(($2 >> 8 & 255)))\\x$(printf %02x $(($2 & 255)))" >>"$1"
}

# make_idx IMAGES LABELS COUNT: COUNT 4x4 u8 images of 2 classes (bright
# left half vs bright right half) and their labels, uncompressed IDX.
make_idx() {
    local images=$1 labels=$2 n=$3 i r c v
    : >"$images"; : >"$labels"
    printf '\x00\x00\x08\x03' >>"$images"; put_u32 "$images" "$n"; put_u32 "$images" 4; put_u32 "$images" 4
    printf '\x00\x00\x08\x01' >>"$labels"; put_u32 "$labels" "$n"
    for ((i = 0; i < n; i++)); do
        local bytes=""
        for ((r = 0; r < 4; r++)); do
            for ((c = 0; c < 4; c++)); do
                if (( (c < 2) == (i % 2 == 0) )); then v=$((200 + (i * 7 + r * 3 + c) % 50)); else v=$(((i * 5 + r + c * 11) % 60)); fi
                bytes+="\\x$(printf %02x $v)"
            done
        done
        printf "$bytes" >>"$images"
        printf "\\x$(printf %02x $((i % 2)))" >>"$labels"
    done
}

# A model for the CSV data with 13 M float32 weights (a 52 MB checkpoint,
# whose save takes long enough for a signal or a kill to land inside it);
# SGD keeps no optimizer state.
write_big_model() {
    cat >"$1" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 3600, "activation": "relu"},
            {"type": "dense", "units": 3600}, {"type": "dense", "units": 3}],
 "optimizer": {"type": "sgd", "lr": 0.001},
 "train": {"epochs": 1000, "batch": 50, "seed": 1}}
JSON
}

# A small classifier for the CSV data, with dropout so that resume tests
# cover the dropout stream; constant lr so runs of different lengths agree.
write_csv_model() {
    cat >"$1" <<'JSON'
{"input": [4],
 "layers": [{"type": "dense", "units": 16, "activation": "relu"},
            {"type": "dropout", "rate": 0.25},
            {"type": "dense", "units": 16},
            {"type": "tanh"},
            {"type": "dense", "units": 3}],
 "loss": "cross_entropy",
 "optimizer": {"type": "adam", "lr": 0.01},
 "train": {"epochs": 3, "batch": 16, "seed": 5}}
JSON
}
