#!/usr/bin/env python3
"""Writes flowers.csv, an iris-like table (the shape of scikit-learn's iris
written with pandas' to_csv: four measurements with a header and text class
labels), and flowers_new.csv, unlabelled rows to predict on. The values are
drawn around each species' means with a fixed seed, so the files are the
same on every run; they are not Fisher's measurements."""
import random
import sys

SPECIES = {  # means and spreads of sepal length/width, petal length/width (cm)
    "setosa": ((5.01, 3.43, 1.46, 0.25), (0.35, 0.38, 0.17, 0.11)),
    "versicolor": ((5.94, 2.77, 4.26, 1.33), (0.52, 0.31, 0.47, 0.20)),
    "virginica": ((6.59, 2.97, 5.55, 2.03), (0.64, 0.32, 0.55, 0.27)),
}
HEADER = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"


def rows(rng, n):
    out = []
    for name, (mean, spread) in SPECIES.items():
        for _ in range(n):
            out.append([max(0.1, rng.gauss(m, s)) for m, s in zip(mean, spread)] + [name])
    rng.shuffle(out)
    return out


def tables():
    """(file name, text) of both tables."""
    rng = random.Random(1936)
    labelled = HEADER + ",species\n" + "".join(
        ",".join("%.1f" % v for v in r[:4]) + "," + r[4] + "\n" for r in rows(rng, 50))
    new = HEADER + "\n" + "".join(",".join("%.1f" % v for v in r[:4]) + "\n" for r in rows(rng, 2))
    return [("flowers.csv", labelled), ("flowers_new.csv", new)]


def main():
    """Writes the tables here; with --check, exits 1 if the files differ."""
    check = sys.argv[1:] == ["--check"]
    for name, text in tables():
        if check:
            with open(name) as f:
                if f.read() != text:
                    sys.exit("%s differs from what make_flowers.py writes" % name)
        else:
            with open(name, "w") as f:
                f.write(text)


if __name__ == "__main__":
    main()
