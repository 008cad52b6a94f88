#!/usr/bin/env python3
"""Draws the training loss that an example logged with --loss-csv.

    ./build/examples/fashion_mnist --loss-csv loss.csv
    /usr/bin/python3 docs/plot_loss.py loss.csv docs/loss_curve.png

Needs matplotlib (Debian: apt-get install python3-matplotlib). The CSV has
the columns step,epoch,loss (one row per optimizer step)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "loss.csv"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/loss_curve.png"
    title = sys.argv[3] if len(sys.argv) > 3 else "fashion_mnist: 784-100-10 MLP, Adam"
    steps, epochs, losses = [], [], []
    with open(src) as f:
        for row in csv.DictReader(f):
            steps.append(int(row["step"]))
            epochs.append(int(row["epoch"]))
            losses.append(float(row["loss"]))
    if not steps:
        sys.exit(f"{src}: no rows")
    # A moving average over 50 steps shows the trend under the batch noise.
    w = 50
    avg, run = [], 0.0
    for i, v in enumerate(losses):
        run += v
        if i >= w:
            run -= losses[i - w]
        avg.append(run / min(i + 1, w))

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.plot(steps, losses, color="#9ecae1", linewidth=0.6, label="loss of each batch")
    ax.plot(steps, avg, color="#08519c", linewidth=1.8, label=f"mean of the last {w} batches")
    # epoch boundaries
    for i in range(1, len(steps)):
        if epochs[i] != epochs[i - 1]:
            ax.axvline(steps[i], color="#999999", linewidth=0.8, linestyle="--")
            ax.text(steps[i], 0.02, f" epoch {epochs[i]}", va="bottom", fontsize=8,
                    color="#555555", transform=ax.get_xaxis_transform())
    ax.set_xlabel("step (one mini-batch)")
    ax.set_ylabel("cross entropy")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend()
    fig.tight_layout()
    fig.savefig(dst)
    print(f"{dst}: {len(steps)} steps, loss {losses[0]:.3f} -> {avg[-1]:.3f}")


if __name__ == "__main__":
    main()
