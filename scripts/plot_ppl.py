#!/usr/bin/env python3
"""Plot training and validation perplexity against updates, log scale, one line per run
(as in the CM3Leon paper's Figure 3).

    scripts/plot_ppl.py runs/tiny [runs/other ...] --out ppl.png

Reads each RUN_DIR/metrics.jsonl: training lines carry "loss", validation lines "val_loss".
"""
import argparse
import json
import math
import os
import sys


def read_metrics(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    try:
        with open(path) as handle:
            lines = [json.loads(line) for line in handle if line.strip()]
    except OSError as error:
        sys.exit(f"error: {path}: {error.strerror}")
    except json.JSONDecodeError as error:
        sys.exit(f"error: {path}: not JSON lines ({error})")
    train = sorted((m["step"], math.exp(m["loss"])) for m in lines if "loss" in m)
    validation = sorted((m["step"], math.exp(m["val_loss"])) for m in lines if "val_loss" in m)
    return train, validation


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", required=True, metavar="FILE.png")
    arguments = parser.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, run in enumerate(arguments.runs):
        train, validation = read_metrics(run)
        name = os.path.basename(os.path.normpath(run))
        colour = f"C{index}"
        if train:
            axes.plot([s for s, _ in train], [p for _, p in train], color=colour, alpha=0.45, linewidth=1, label=f"{name} train")
        if validation:
            axes.plot([s for s, _ in validation], [p for _, p in validation], color=colour, marker="o", markersize=3,
                      linewidth=2, label=f"{name} validation")
    axes.set_yscale("log")
    axes.set_xlabel("updates")
    axes.set_ylabel("perplexity")
    axes.set_title("Perplexity during training")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(arguments.out, dpi=120)
    print(arguments.out)


if __name__ == "__main__":
    main()
