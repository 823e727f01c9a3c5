#!/usr/bin/python3
"""Tables for bench/run.sh: reads the JSON lines of every run (each with the
"label" run.sh gave it), the GEMM-limit lines and the machine description,
prints Markdown tables of medians and spread and writes them, with the
machine, to OUT (bench/results-latest.md).

  summarize.py RUNS.jsonl LIMITS.jsonl MACHINE.json OUT.md
"""
import json
import statistics
import sys

TRAIN = ("W1", "W1b", "W2", "W4", "W5")
# Issue 16's targets: cgrad / the faster PyTorch (W4: / PyPI's), and for
# training workloads at least 60% of the GEMM limit; issue 15's for W5 (the
# char GPT): 1.2x the faster PyTorch and 50% of the GEMM limit.
TARGET = {"W1": 2.5, "W1b": 1.8, "W2": 2.0, "W3-MLP": 1.15, "W3-CNN": 2.0, "W4": 1.1, "W5": 1.2}
LIMIT_TARGET = {"W5": 0.5}
DEFAULT_LIMIT_TARGET = 0.6
INFER = ("W3-MLP", "W3-CNN")


def rows(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.startswith("{")]
    except FileNotFoundError:
        return []


def rate(r):
    return r.get("samples_per_s") or r.get("tokens_per_s") or 0


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def speed_table(runs, labels, workloads, limits):
    cg_labels = [l for l in labels if l.startswith("cgrad")]
    torch_labels = [l for l in labels if l.startswith("torch")]
    head = ["workload", "unit"] + labels + ["cgrad / best PyTorch", "paired, per run (median, min–max)",
                                             "target (issue 16; W5: 15)"]
    if limits:
        head += [f"GEMM limit ({l})" for l in cg_labels] + [f"{l} % of its limit" for l in cg_labels]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ratios = {}
    for w in workloads:
        rs = [r for r in runs if r.get("workload") == w and r.get("mode") in ("train", "infer")]
        if not rs:
            continue
        unit = "tokens/s" if "tokens_per_s" in rs[0] else "samples/s"
        cells, med = [w, unit], {}
        for l in labels:
            v = [rate(r) for r in rs if r["label"] == l]
            if not v:
                cells.append("—")
                continue
            med[l] = statistics.median(v)
            spread = f" ({fmt(min(v))}–{fmt(max(v))}, n={len(v)})" if len(v) > 1 else ""
            cells.append(fmt(med[l]) + spread)
        best_torch = max((med[l] for l in torch_labels if l in med), default=None)
        against = med.get("torch-pypi") if w == "W4" else best_torch
        if best_torch and "cgrad" in med:
            ratios[w] = med["cgrad"] / best_torch
            cells.append(f"**{ratios[w]:.2f}×**")
        else:
            cells.append("—")
        cells.append(paired_ratio(rs, torch_labels, w))
        if against and "cgrad" in med:
            ok = med["cgrad"] / against >= TARGET[w]
            cells.append(f"≥ {TARGET[w]}×{' (vs PyPI)' if w == 'W4' else ''}: {'met' if ok else 'not met'}")
        else:
            cells.append(f"≥ {TARGET[w]}×: —")
        if limits:
            for l in cg_labels:
                lim = [x["limit_per_s"] for x in limits if x["workload"] == w and x["label"] == l]
                cells.append(fmt(statistics.median(lim)) if lim else "—")
            for l in cg_labels:
                lim = [x["limit_per_s"] for x in limits if x["workload"] == w and x["label"] == l]
                if not lim or l not in med:
                    cells.append("—")
                    continue
                frac = med[l] / statistics.median(lim)
                need = LIMIT_TARGET.get(w, DEFAULT_LIMIT_TARGET)
                short = w in TRAIN and l == "cgrad" and frac < need
                cells.append(f"{100 * frac:.0f}%{f' (< {100 * need:.0f}%)' if short else ''}")
        out.append("| " + " | ".join(cells) + " |")
    return out, ratios


def paired_ratio(rs, torch_labels, w):
    """cgrad's run r over the faster PyTorch's run r (W4: PyPI's), the sides of
    one run being minutes apart at most: the VM's drift, which moves every
    side 10-25% from one minute to the next, mostly cancels in each pair."""
    against = ["torch-pypi"] if w == "W4" else torch_labels
    pairs = []
    for cg in (r for r in rs if r["label"] == "cgrad"):
        torch = [rate(r) for r in rs if r["label"] in against and r.get("seed") == cg.get("seed")]
        if torch and max(torch) > 0:
            pairs.append(rate(cg) / max(torch))
    if not pairs:
        return "—"
    spread = f" ({min(pairs):.2f}–{max(pairs):.2f}, n={len(pairs)})" if len(pairs) > 1 else ""
    return f"{statistics.median(pairs):.2f}×{spread}"


def side_table(runs, labels):
    head = ["workload", "side", "median step ms", "start-up to first step s (median)",
            "data load s", "start-up less data load s", "peak RSS MB (max)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in TRAIN:
        for l in labels:
            rs = [r for r in runs if r.get("workload") == w and r["label"] == l and r.get("mode") == "train"]
            if not rs:
                continue
            out.append(f"| {w} | {l} | {statistics.median(r['step_ms_median'] for r in rs):.2f} | "
                       f"{statistics.median(r['startup_to_first_step_s'] for r in rs):.2f} | "
                       f"{statistics.median(r['data_load_s'] for r in rs):.2f} | "
                       f"{statistics.median(r['startup_to_first_step_s'] - r['data_load_s'] for r in rs):.2f} | "
                       f"{max(r['peak_rss_mb'] for r in rs):.0f} |")
    return out


def limit_table(limits):
    head = ["workload", "BLAS", "GEMM calls/step", "GFLOP/step", "replay µs (median, min–max)",
            "GFLOP/s", "traced step µs", "of which inside sgemm µs"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for x in limits:
        out.append(f"| {x['workload']} | {x['label']} | {x['calls']} | {x['gflop_per_step']:.4f} | "
                   f"{x['replay_us']:,.0f} ({x['replay_min_us']:,.0f}–{x['replay_max_us']:,.0f}) | "
                   f"{x['replay_gflops']:.1f} | {x['traced_step_us']:,.0f} | {x['traced_gemm_wall_us']:,.0f} |")
    return out


def acc_table(runs):
    rs = [r for r in runs if r.get("mode") == "acc" or "val_bits_per_char" in r]
    if not rs:
        return []
    out = ["| workload | side | target | epoch reached | wall s to target (from process start) | "
           "test accuracy per epoch / held-out bits/char |", "|---|---|---|---|---|---|"]
    for r in rs:
        if r.get("mode") == "acc":
            out.append(f"| {r['workload']} | {r['label']} | {r['target']:.2f} | {r['reached_epoch']} | "
                       f"{r['wall_to_target_s']:.1f} | {' '.join(f'{a:.4f}' for a in r['accuracy'])} |")
        else:
            steps = r["warmup_steps"] + r["timed_steps"]
            out.append(f"| {r['workload']} | {r['label']} | — | {steps} steps | "
                       f"{r['seconds']:.1f} (timed steps only) | {r['val_bits_per_char']:.3f} bits/char |")
    return out


def main():
    runs, limits = rows(sys.argv[1]), rows(sys.argv[2])
    with open(sys.argv[3]) as f:
        machine = json.load(f)
    order = ["cgrad", "cgrad-mkl", "torch-debian", "torch-pypi"]
    labels = [l for l in order if any(r["label"] == l for r in runs)]
    lines = [f"# Benchmark results, {machine['date']}", "",
             "Generated by `bench/run.sh` (`make bench`); see bench/RESULTS.md for how to read it.", "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine.items() if k != "date"]
    lines += ["", "## Speed (medians of alternating runs; min–max and run count in brackets)", ""]
    t, ratios = speed_table(runs, labels, TRAIN + INFER, limits)
    lines += t
    lines += ["", "Labels: `cgrad` = cgrad on OpenBLAS (default build), `cgrad-mkl` = cgrad built with "
              "`-DCG_BLAS=mkl`, `torch-debian` = Debian's python3-torch in its best setup, "
              "`torch-pypi` = PyPI's torch in bench/.venv. Ratio: cgrad (OpenBLAS) / the faster PyTorch.",
              "", "## Step time, start-up and memory", ""]
    lines += side_table(runs, labels)
    if limits:
        lines += ["", "## GEMM limit: one traced step's sgemm calls replayed alone", ""]
        lines += limit_table(limits)
    acc = acc_table(runs)
    if acc:
        lines += ["", "## Time to accuracy and held-out loss (FULL=1)", ""] + acc
    text = "\n".join(lines) + "\n"
    with open(sys.argv[4], "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
