#!/usr/bin/env python3
"""Writes the motif data set of models/motif_lstm.json and motif_dense.json:
sequences of LENGTH token ids from {0, 1, 2, 3}, labelled 1 when the motif
1, 2, 3 (in that order, consecutive) occurs anywhere in them and 0 when it
does not; half of each. Negatives are drawn uniformly among sequences
without the motif, positives are negatives with the motif written at a
random position. A task where order matters: the same tokens in another
order are not the motif, and it may be anywhere.

  scripts/make_motif_data.py OUT_DIR [--length 60] [--train 4000] [--test 2000] [--seed 5]

writes OUT_DIR/motif_train.csv and OUT_DIR/motif_test.csv (a header row,
then LENGTH ids and the label per row). Deterministic for a seed.
"""
import argparse
import os
import random

MOTIF = [1, 2, 3]


def has_motif(s):
    return any(s[i:i + len(MOTIF)] == MOTIF for i in range(len(s) - len(MOTIF) + 1))


def sample(rng, length):
    while True:
        s = [rng.randrange(4) for _ in range(length)]
        if not has_motif(s):
            break
    if rng.random() < 0.5:
        return s, 0
    at = rng.randrange(length - len(MOTIF) + 1)
    s[at:at + len(MOTIF)] = MOTIF
    return s, 1


def write(path, rng, length, n):
    with open(path, "w") as f:
        f.write(",".join("t%d" % i for i in range(length)) + ",motif\n")
        for _ in range(n):
            s, label = sample(rng, length)
            f.write(",".join(map(str, s)) + ",%d\n" % label)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--length", type=int, default=60)
    ap.add_argument("--train", type=int, default=4000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    if a.length < len(MOTIF):
        ap.error("--length must be at least %d" % len(MOTIF))
    os.makedirs(a.out_dir, exist_ok=True)
    rng = random.Random(a.seed)
    write(os.path.join(a.out_dir, "motif_train.csv"), rng, a.length, a.train)
    write(os.path.join(a.out_dir, "motif_test.csv"), rng, a.length, a.test)


if __name__ == "__main__":
    main()
