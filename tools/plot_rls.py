#!/usr/bin/env python3
"""Plots of RLS training (`gillespike learn rls`, docs/rls.md): the learning curve (mean correlation
between the trained neurons' currents and their targets, per loop) and, when the output folder has
a test.h5, a few neurons' trial-averaged currents against their targets with their PSTHs.

    python3 tools/plot_rls.py out/rls -o out/rls/plots --format png

Needs numpy, h5py and matplotlib (tools/install_deps.sh installs matplotlib from PyPI).
"""
import argparse
import csv
import os

import h5py
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np


def learning_curve(run, out, fmt):
    with open(os.path.join(run, "learning_curve.csv")) as f:
        rows = list(csv.DictReader(f))
    loop = np.array([int(r["loop"]) for r in rows])
    corr = np.array([float(r["mean_correlation"]) for r in rows])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(loop, corr, marker="o", markersize=3)
    ax.set_xlabel("loop (0: before learning)")
    ax.set_ylabel("mean correlation with the targets")
    ax.set_ylim(min(0.0, corr.min() - 0.05), 1.0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "learning_curve." + fmt))
    plt.close(fig)


def test_traces(run, out, fmt, neurons):
    with h5py.File(os.path.join(run, "test.h5"), "r") as h:
        current, samples = h["current"][()], h["sample_times_ms"][()]
        target, times = h["target"][()], h["learning_times_ms"][()]
        psth, bins = h["psth_hz"][()], h["psth_bin_starts_ms"][()]
        corr, trials = h["correlation"][()], int(h.attrs["trials"])
    chosen = np.linspace(0, current.shape[0] - 1, neurons).astype(int)
    fig, axes = plt.subplots(len(chosen), 2, figsize=(10, 2.2 * len(chosen)), squeeze=False)
    width = bins[1] - bins[0] if len(bins) > 1 else 1.0
    for row, i in enumerate(chosen):
        ax = axes[row][0]
        ax.plot(samples, current[i], lw=0.8, label=f"current, mean of {trials} trials")
        ax.plot(times, target[i], lw=1.5, ls="--", label="target")
        ax.set_ylabel(f"neuron {i}\nr = {corr[i]:.2f}")
        ax = axes[row][1]
        ax.bar(bins, psth[i], width=width, align="edge")
        ax.set_ylabel("Hz")
    axes[0][0].legend(fontsize=7, loc="upper right")
    axes[-1][0].set_xlabel("time in presentation (ms)")
    axes[-1][1].set_xlabel("time in presentation (ms)")
    axes[0][1].set_title("PSTH")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "test." + fmt))
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="output folder of gillespike learn rls")
    ap.add_argument("-o", "--output", help="folder for the figures (default RUN/plots)")
    ap.add_argument("--format", default="png", choices=["png", "pdf", "svg"])
    ap.add_argument("--neurons", type=int, default=4, help="neurons shown from test.h5")
    a = ap.parse_args()
    out = a.output or os.path.join(a.run, "plots")
    os.makedirs(out, exist_ok=True)
    learning_curve(a.run, out, a.format)
    if os.path.exists(os.path.join(a.run, "test.h5")):
        test_traces(a.run, out, a.format, a.neurons)


if __name__ == "__main__":
    main()
