# The files the rows of docs/robustness.md run against, made in the current
# directory (sourced by robustness.sh after common.bash, run inside $WORK).
# Every file is small and deterministic; python3 writes the binary ones.

make_csv d.csv 48
write_csv_model good.json
"$CGRAD" train good.json --data csv:d.csv --epochs 1 --save good.safetensors --threads 1 >/dev/null 2>&1
cp good.safetensors copy.safetensors

# Malformed model files.
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}' >trunc.json
printf '' >empty.json
printf '[1, 2, 3]' >array.json
printf '{"input": [4], "layers": []}' >nolayers.json
printf '{"input": [4], "layer": [{"type": "dense", "units": 3}]}' >typo.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "epochs": 5}' >toplevel.json
printf '{"input": [4], "layers": [{"type": "dense"}]}' >nounits.json
printf '{"input": [4], "layers": [{"type": "dense", "units": -3}]}' >negunits.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 2.5}]}' >fracunits.json
printf '{"input": [4], "layers": [{"type": "dense", "units": "ten"}]}' >strunits.json
printf '{"input": [4], "layers": [{"type": "dens", "units": 3}]}' >badtype.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3, "activation": "swish"}]}' >badact.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3, "activation": "softmax"}]}' >softmax.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3, "unit": 4}]}' >unknownkey.json
printf '{"input": [0], "layers": [{"type": "dense", "units": 3}]}' >zeroinput.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 1}]}' >oneclass.json
printf '{"input": [1, 28, 28], "layers": [{"type": "dense", "units": 10}]}' >noflatten.json
printf '{"input": [784], "layers": [{"type": "conv2d", "filters": 4, "kernel": 3}]}' >conv_flat.json
printf '{"input": [1, 4, 4], "layers": [{"type": "conv2d", "filters": 4, "kernel": 7}, {"type": "flatten"}, {"type": "dense", "units": 2}]}' >bigkernel.json
printf '{"input": [4], "layers": [{"type": "lstm", "units": 8}]}' >lstm_flat.json
printf '{"input": [5], "layers": [{"type": "embedding", "vocab": 10}]}' >emb_nodim.json
printf '{"input": [5, 3], "layers": [{"type": "lstm", "units": 4, "stateful": true, "bidirectional": true}, {"type": "flatten"}, {"type": "dense", "units": 2}]}' >stateful_bi.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 8, "name": "a"}, {"type": "dense", "units": 3, "inputs": ["b"]}]}' >unknown_input.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 8, "name": "a"}, {"type": "dense", "units": 5, "name": "b"}, {"type": "add", "inputs": ["a", "b"]}, {"type": "dense", "units": 3}]}' >addshapes.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 8, "name": "a"}, {"type": "dense", "units": 8, "name": "unused", "inputs": ["input"]}, {"type": "dense", "units": 3, "inputs": ["a"]}]}' >unused.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "optimizer": {"type": "adamax"}}' >badoptim.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "optimizer": {"type": "sgd", "lr": -0.1}}' >neglr.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "loss": "hinge"}' >badloss.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "train": {"epochs": 0}}' >zeroepochs.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}], "schedule": {"type": "linear"}}' >badschedule.json
printf '{"input": [1000000000], "layers": [{"type": "dense", "units": 100000000}, {"type": "dense", "units": 2}]}' >huge.json
printf '{"input": [4], "layers": [{"type": "dropout", "rate": 1.0}, {"type": "dense", "units": 3}]}' >dropout1.json
printf '{"input": [1, 4, 4], "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 2}]}' >img.json
printf '{"input": [4], "layers": [{"type": "dense", "units": 3}]}\n{"extra": true}' >twodocs.json

# Broken checkpoints.
printf '' >empty.safetensors
head -c 100 good.safetensors >trunc.safetensors
python3 -c "import random; open('random.safetensors', 'wb').write(random.Random(1).randbytes(4000))"
python3 - <<'PY'
import json, struct
raw = open("good.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
def write(path, h, body=data, size=None):
    text = json.dumps(h).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", size if size is not None else len(text)) + text + body)
write("hugeheader.safetensors", header, size=1 << 40)
# Without layers.0.weight: the other tensors' bytes moved up, offsets rewritten.
names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
h, body = {"__metadata__": header["__metadata__"]}, b""
for k in names:
    if k == "layers.0.weight":
        continue
    a, b = header[k]["data_offsets"]
    h[k] = dict(header[k], data_offsets=[len(body), len(body) + b - a])
    body += data[a:b]
write("missing.safetensors", h, body)
h = json.loads(json.dumps(header)); h["layers.0.weight"]["shape"] = list(reversed(h["layers.0.weight"]["shape"]))
write("badshape.safetensors", h)
h = json.loads(json.dumps(header)); h["layers.0.weight"]["data_offsets"][1] += 1 << 30; write("badoffsets.safetensors", h)
h = json.loads(json.dumps(header)); h["layers.0.weight"]["dtype"] = "F16"; write("f16.safetensors", h)
h = json.loads(json.dumps(header)); h["__metadata__"]["model"] = "{\"input\": [4], \"layers\": [{\"type\": \"dense\", \"units\": 100000000}]}"; write("altered_model.safetensors", h)
h = json.loads(json.dumps(header)); h["__metadata__"]["step"] = "-3"; write("badstep.safetensors", h)
open("notjson.safetensors", "wb").write(struct.pack("<Q", 16) + b"{not json at all" + b"\0" * 8)
PY
mkdir -p adir.safetensors adir.csv
mkfifo fifo.csv

# Broken data sets.
printf 'a,b,c,d,label\n1,2,3,4,0\n1,2,3\n' >ragged.csv
printf 'a,b,c,d,label\n1,2,3,4,0\n1,2,x3,4,0\n5,6,7,8,1\n' >nonnumber.csv   # x3 in a column of numbers
printf 'a,b,c,d,label\n1,2,nan,4,0\n' >nan.csv
printf 'a,b,c,d,label\n1,2,3,4,7\n' >badlabel.csv
printf 'a,b,c,d,label\n1,2,3,4,-1\n' >neglabel.csv
printf '' >empty.csv
printf 'a,b,c,label\n1,2,3,0\n' >fewcols.csv
printf '\x00\x00\x08\x09\x00\x00\x00\x01' >badmagic.idx
printf '\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02' >truncated.idx
printf '' >empty.txt
printf 'abc' >short.txt
printf 't0,t1,t2,t3,t4,label\n0,1,2,3,0,1\n1,1,2,9,3,0\n' >bad_ids.csv
printf '{"input": [5], "layers": [{"type": "embedding", "vocab": 4, "dim": 3}, {"type": "gru", "units": 4, "return_sequences": false}, {"type": "dense", "units": 2}]}' >seq.json
printf '{"input": [8], "layers": [{"type": "embedding", "vocab": 5, "dim": 3}, {"type": "lstm", "units": 4}, {"type": "dense", "units": 5}]}' >lm.json
for ((i = 0; i < 20; i++)); do printf 'abcabcabc cab\n'; done >abc.txt
"$CGRAD" train lm.json --data text:abc.txt --epochs 1 --save lm.safetensors --threads 1 >/dev/null 2>&1 || true
printf 'abd abd abd abd abd\n' >abd.txt
printf '{"epoch":1,"train_loss":1}\n' >existing.jsonl
# A learning rate that explodes in epoch 2 (a step schedule with a huge
# gamma): the weights become Inf, then NaN.
printf '{"input": [4], "layers": [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "dense", "units": 3}], "optimizer": {"type": "sgd", "lr": 0.1}, "schedule": {"type": "step", "step_size": 1, "gamma": 1e30}, "train": {"epochs": 3}}' >explode.json
