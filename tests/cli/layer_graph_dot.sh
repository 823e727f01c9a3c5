#!/usr/bin/env bash
# info --dot: the layer graph in Graphviz DOT has one node per layer and
# the edges the model file's "inputs" say (checked against the JSON read
# independently), branches of a residual network included; parameter counts
# add up to info's total; Graphviz renders it when installed.
source "$(dirname "$0")/common.bash"

check_graph() {  # check_graph MODEL.json DOT
    python3 - "$1" "$2" <<'EOF'
import json, re, sys
model = json.load(open(sys.argv[1]))
dot = open(sys.argv[2]).read()
layers = model["layers"]
names = {l["name"]: i for i, l in enumerate(layers) if "name" in l}
want = set()
for i, l in enumerate(layers):
    sources = l.get("inputs") or (["input"] if i == 0 else [i - 1])
    for s in sources:
        src = "input" if s == "input" else f"l{names[s] if isinstance(s, str) else s}"
        want.add((src, f"l{i}"))
want.add((f"l{len(layers) - 1}", "loss"))
got = set(re.findall(r"^\s*(\w+) -> (\w+);$", dot, re.M))
assert got == want, (sorted(got - want), sorted(want - got))
nodes = re.findall(r"^\s*l(\d+) \[label=\"#(\d+)", dot, re.M)
assert [int(a) for a, _ in nodes] == list(range(len(layers))), nodes
params = sum(int(p.replace(",", "")) for p in re.findall(r"\\n([0-9,]+) params\"", dot))
print(params)
EOF
}

expect_exit 0 "$CGRAD" info "$CG_SOURCE_DIR/models/fashion_resnet.json" --dot
cp "$WORK/out" "$WORK/resnet.dot"
expect_in 'digraph "fashion_resnet" {' "$WORK/resnet.dot"
params=$(check_graph "$CG_SOURCE_DIR/models/fashion_resnet.json" "$WORK/resnet.dot") || fail "resnet graph"
expect_exit 0 "$CGRAD" info "$CG_SOURCE_DIR/models/fashion_resnet.json"
total=$(sed -n 's/^parameters: \([0-9,]*\) trainable.*/\1/p' "$WORK/out" | tr -d ,)
[[ $params == "$total" ]] || fail "the nodes' parameters add up to $params, info says $total"
# The three merges stand out, each with its two inputs.
[[ $(grep -c 'add\\n.*shape=ellipse' "$WORK/resnet.dot") == 3 ]] || fail "expected 3 add nodes marked"

# A chain, and a checkpoint's model.
for model in fashion_mlp residual_mlp; do
    expect_exit 0 "$CGRAD" info "$CG_SOURCE_DIR/models/$model.json" --dot
    cp "$WORK/out" "$WORK/$model.dot"
    check_graph "$CG_SOURCE_DIR/models/$model.json" "$WORK/$model.dot" >/dev/null || fail "$model graph"
done
make_csv "$WORK/train.csv" 60
write_csv_model "$WORK/model.json"
expect_exit 0 "$CGRAD" train "$WORK/model.json" --data "csv:$WORK/train.csv" --epochs 1 \
    --save "$WORK/m.safetensors" "${THREADS[@]}"
expect_exit 0 "$CGRAD" info "$WORK/m.safetensors" --dot
cp "$WORK/out" "$WORK/m.dot"
check_graph "$WORK/model.json" "$WORK/m.dot" >/dev/null || fail "checkpoint graph"
expect_exit 2 "$CGRAD" info "$WORK/missing.safetensors" --dot
expect_in "missing.safetensors" "$WORK/err"

# A model name with quotes and backslashes stays inside its DOT string.
cat >"$WORK/quoted.json" <<'JSON'
{"name": "say \"hi\" \\o/", "input": [4],
 "layers": [{"type": "dense", "units": 3}],
 "loss": "cross_entropy"}
JSON
expect_exit 0 "$CGRAD" info "$WORK/quoted.json" --dot
cp "$WORK/out" "$WORK/quoted.dot"
expect_in 'digraph "say \"hi\" \\o/" {' "$WORK/quoted.dot"

if command -v dot >/dev/null; then
    for g in resnet fashion_mlp m quoted; do
        dot -Tsvg "$WORK/$g.dot" -o "$WORK/$g.svg" || fail "Graphviz cannot read $g.dot"
    done
    python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$WORK/resnet.svg"
fi
echo "layer_graph_dot: ok"
