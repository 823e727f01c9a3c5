#!/usr/bin/python3
"""Tables for the CLI table tests, made here with fixed seeds (no downloads).

  make_tables.py flowers OUT.csv N
      iris-like: a header, four measurements (cm) and the species as text
      (setosa, versicolor, virginica), N rows of each, shuffled
  make_tables.py cancer OUT.csv [LABELS]
      breast-cancer-like: 569 rows, a header, 30 positive features whose
      scales run from 1e-3 to 1e4 (as the Wisconsin data's areas and
      fractal dimensions do), and a 0/1 target (or "benign"/"malignant"
      with LABELS=names)
  make_tables.py standardise IN.csv OUT.csv TRAIN_ROWS
      IN's features standardised by the mean and (population) variance of
      its first TRAIN_ROWS rows, the target kept: what a normalize layer
      does inside the model, done outside it
  make_tables.py stats IN.csv ROWS
      the mean and population variance of each feature over the first ROWS
      rows, one "mean var" line per feature (in double precision, two-pass;
      empty and NA cells left out; a constant feature's variance is 1)
  make_tables.py buffers CKPT I
      a checkpoint's layers.I.mean and layers.I.var, the same way
  make_tables.py meta CKPT KEY
      a checkpoint's __metadata__ value
  make_tables.py weights CKPT OUT PREFIX
      CKPT's layers.* tensors but those whose name starts with PREFIX, as a
      weights file for --init
"""
import csv
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py as st  # noqa: E402

SPECIES = {
    "setosa": ((5.01, 3.43, 1.46, 0.25), (0.35, 0.38, 0.17, 0.11)),
    "versicolor": ((5.94, 2.77, 4.26, 1.33), (0.52, 0.31, 0.47, 0.20)),
    "virginica": ((6.59, 2.97, 5.55, 2.03), (0.64, 0.32, 0.55, 0.27)),
}


def flowers(out, n):
    rng = random.Random(7)
    rows = []
    for name, (mean, spread) in SPECIES.items():
        for _ in range(int(n)):
            rows.append(["%.1f" % max(0.1, rng.gauss(m, s)) for m, s in zip(mean, spread)] + [name])
    rng.shuffle(rows)
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)",
                    "species"])
        w.writerows(rows)


def cancer(out, labels=""):
    rng = random.Random(569)
    n_features = 30
    scales = [10 ** (-3 + 7 * j / (n_features - 1)) for j in range(n_features)]
    # How far the classes lie apart, in units of the noise, per feature.
    separation = [0.35 + 0.9 * ((j * 7) % 10) / 10 for j in range(n_features)]
    names = ["f%02d" % j for j in range(n_features)]
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names + ["diagnosis"])
        for _ in range(569):
            malignant = rng.random() < 0.37
            shared = rng.gauss(0, 1)  # features of a sample move together, as sizes do
            row = []
            for j in range(n_features):
                z = (separation[j] if malignant else -separation[j]) + 0.6 * shared + rng.gauss(0, 1)
                row.append("%.6g" % (scales[j] * (4 + z)))
            target = ("malignant" if malignant else "benign") if labels == "names" else str(int(malignant))
            w.writerow(row + [target])


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def stats_of(rows, n):
    cols = [[float(v) for v in c if v not in ("", "NA")] for c in zip(*[r[:-1] for r in rows[:n]])]
    out = []
    for c in cols:
        mean = sum(c) / len(c)
        var = sum((v - mean) ** 2 for v in c) / len(c)
        out.append((mean, var if var > 0 else 1.0))
    return out


def standardise(src, out, train_rows):
    header, rows = read(src)
    st = stats_of(rows, int(train_rows))
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["%.9g" % ((float(v) - m) / math.sqrt(s)) for v, (m, s) in zip(r[:-1], st)] + [r[-1]])


def stats(src, n):
    _, rows = read(src)
    for mean, var in stats_of(rows, int(n)):
        print("%.9g %.9g" % (mean, var))


def buffers(ckpt, i):
    tensors, _ = st.read(ckpt)
    for mean, var in zip(tensors["layers.%s.mean" % i][1], tensors["layers.%s.var" % i][1]):
        print("%.9g %.9g" % (mean, var))


def meta(ckpt, key):
    print(st.read(ckpt)[1][key])


def weights(ckpt, out, prefix):
    tensors, _ = st.read(ckpt)
    st.write(out, {k: (shape, list(v)) for k, (shape, v) in tensors.items()
                   if k.startswith("layers.") and not k.startswith(prefix)})


if __name__ == "__main__":
    {"flowers": flowers, "cancer": cancer, "standardise": standardise, "stats": stats,
     "buffers": buffers, "meta": meta, "weights": weights}[sys.argv[1]](*sys.argv[2:])
