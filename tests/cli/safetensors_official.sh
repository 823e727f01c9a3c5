#!/usr/bin/env bash
# The reference safetensors implementation (PyPI `safetensors`, numpy API)
# reads cgrad's checkpoints, and cgrad reads its files (--init). Skipped (77)
# when no python3 on PATH can import safetensors and numpy.
source "$(dirname "$0")/common.bash"
PY=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c "import safetensors, numpy" 2>/dev/null; then
        PY=$candidate
        break
    fi
done
[[ -n $PY ]] || { echo "safetensors (PyPI) not importable: skipped"; exit 77; }
REF="$PY $(dirname "$0")/safetensors_official.py"

make_csv "$WORK/d.csv" 48
cat >"$WORK/model.json" <<'JSON'
{"input": [4], "layers": [{"type": "dense", "units": 6, "activation": "relu"}, {"type": "dense", "units": 3}],
 "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch": 8}}
JSON
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --save "$WORK/c.safetensors" "${THREADS[@]}"
$REF check "$WORK/c.safetensors" || fail "the reference reader rejected a cgrad checkpoint"

$REF write "$WORK/ref.safetensors" || fail "the reference writer failed"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/d.csv" --init "$WORK/ref.safetensors" \
    --epochs 1 --save "$WORK/from_ref.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" eval "$WORK/ref.safetensors" --model "$WORK/model.json" --data "csv:$WORK/d.csv"
echo "ok"
