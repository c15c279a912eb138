#!/usr/bin/env python3
"""Plots of a protocol run (docs/datasets.md): a raster by population with the stimulus segments
shaded, PSTHs per population and stimulus (aligned to the examples), and rate maps over the
neurons' positions. Reads phy/ and annotations.h5 of a run folder; writes PNG or PDF.

    python3 tools/plot.py out/vp -o out/vp/plots --format png

Needs numpy, h5py and matplotlib (tools/install_deps.sh installs matplotlib from PyPI).
"""
import argparse
import os

import h5py
import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np


def load(run):
    a = h5py.File(os.path.join(run, "annotations.h5"), "r")
    t = np.load(os.path.join(run, "phy", "spikes.times.npy")) * 1e3  # ms
    g = np.load(os.path.join(run, "phy", "spike_clusters.npy")).astype(np.int64)
    return a, t, g


def populations(a):
    pops = []
    for name in a["populations"]:
        grp = a["populations"][name]
        pops.append((name, int(grp.attrs["first_id"]), int(grp.attrs["size"])))
    return sorted(pops, key=lambda p: p[1])


def raster(a, t, g, out, fmt, window):
    pops = populations(a)
    t0, t1 = window
    keep = (t >= t0) & (t < t1)
    fig, ax = plt.subplots(figsize=(10, 6))
    colors = plt.cm.tab10.colors
    if "segments" in a:
        start, end = a["segments/start_ms"][:], a["segments/end_ms"][:]
        stim = a["segments/stimulus_id"][:]
        for s, e, k in zip(start, end, stim):
            if k >= 0 and e > t0 and s < t1:
                ax.axvspan(max(s, t0), min(e, t1), color=colors[k % 10], alpha=0.12, lw=0)
    for k, (name, first, size) in enumerate(pops):
        m = keep & (g >= first) & (g < first + size)
        ax.plot(t[m], g[m], ",", color=colors[k % 10], label=name)
    ax.set_xlim(t0, t1)
    ax.set_ylim(0, pops[-1][1] + pops[-1][2])
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron id")
    ax.set_yticks([first + size / 2 for _, first, size in pops], [name for name, _, _ in pops])
    ax.set_title("spikes by population; shaded: stimulus segments (colour = stimulus)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "raster." + fmt))
    plt.close(fig)


def psth(a, t, g, out, fmt, bin_ms):
    if "examples" not in a:
        return
    pops = populations(a)
    names = list(a["stimuli"].attrs["names"])
    ex = a["examples"]
    start, end, stim = ex["start_ms"][:], ex["end_ms"][:], ex["stimulus_id"][:]
    order = np.argsort(t)
    ts, gs = t[order], g[order]
    fig, axes = plt.subplots(len(pops), 1, figsize=(8, 1.8 * len(pops)), sharex=True)
    for ax, (name, first, size) in zip(np.atleast_1d(axes), pops):
        for k, sname in enumerate(names):
            sel = np.flatnonzero(stim == k)
            if len(sel) == 0:
                continue
            length = np.min(end[sel] - start[sel])
            edges = np.arange(0, length + bin_ms, bin_ms)
            counts = np.zeros(len(edges) - 1)
            for e in sel:
                lo, hi = np.searchsorted(ts, [start[e], start[e] + length])
                m = (gs[lo:hi] >= first) & (gs[lo:hi] < first + size)
                counts += np.histogram(ts[lo:hi][m] - start[e], edges)[0]
            ax.plot(edges[:-1] + bin_ms / 2, counts / (len(sel) * size * bin_ms * 1e-3), label=sname)
        ax.set_ylabel(f"{name}\n(Hz)")
    np.atleast_1d(axes)[0].legend(fontsize="small", loc="upper right")
    np.atleast_1d(axes)[-1].set_xlabel("time from example start (ms): half blank, stimulus, half blank")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "psth." + fmt))
    plt.close(fig)


def rate_maps(a, t, g, out, fmt):
    pops = [p for p in populations(a) if np.isfinite(a["neurons/x"][p[1]])]
    if not pops:
        return
    duration = float(a.attrs["duration_ms"]) * 1e-3
    rate = np.bincount(g, minlength=len(a["neurons/id"])) / duration
    x, y, hidden = a["neurons/x"][:], a["neurons/y"][:], a["neurons/hidden"][:]
    cols = min(3, len(pops))
    rows = (len(pops) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax, (name, first, size) in zip(axes.flat, pops):
        s = slice(first, first + size)
        sc = ax.scatter(x[s], y[s], c=rate[s], s=max(1, 4000 / size), cmap="viridis", marker="s")
        h = hidden[s] == 1
        ax.scatter(x[s][h], y[s][h], s=max(1, 4000 / size), facecolors="none", edgecolors="r", lw=0.3)
        ax.set_title(f"{name} (red: hidden)")
        ax.set_aspect("equal")
        fig.colorbar(sc, ax=ax, label="rate (Hz)")
    for ax in list(axes.flat)[len(pops):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rate_maps." + fmt))
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="output folder of a run (phy/ and annotations.h5)")
    p.add_argument("-o", "--output", help="folder for the plots (default RUN/plots)")
    p.add_argument("--format", choices=["png", "pdf"], default="png")
    p.add_argument("--bin", type=float, default=20.0, help="PSTH bin (ms)")
    p.add_argument("--window", type=float, nargs=2, metavar=("T0", "T1"), help="raster window (ms; default first 2 s)")
    args = p.parse_args()
    out = args.output or os.path.join(args.run, "plots")
    os.makedirs(out, exist_ok=True)
    a, t, g = load(args.run)
    window = args.window or (0.0, min(2000.0, float(a.attrs["duration_ms"])))
    raster(a, t, g, out, args.format, window)
    psth(a, t, g, out, args.format, args.bin)
    rate_maps(a, t, g, out, args.format)
    print("plots in", out)


if __name__ == "__main__":
    main()
