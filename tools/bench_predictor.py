#!/usr/bin/python3
"""Benchmark of `gillespike predict` against the same model in PyTorch, side by side.

Both train the reference model size of issue 7 (2 blocks, width 128, 8 heads, context 512 events,
batch 32; 12 spike-history knots, 8 mixture components) on the same recording, with the same
configuration (the PyTorch model takes it from the checkpoint gillespike wrote), on the same
number of threads, in float32:

  train   gillespike: `predict train DATA --set train.steps_per_epoch=STEPS` (its events/s over
          the steps); PyTorch: STEPS steps of forward, backward, gradient clipping and AdamW on
          batches of windows drawn from the training split, timed after one untimed step.
  sample  gillespike: `predict sample` for about --sample-events events (its events/s, the
          sampling loop alone, with its key/value cache); PyTorch: the plain loop (a forward
          pass over the last context events per event, an interval from the mixture, a neuron
          from the softmax), so the ratio includes what the cache saves.

With --device cuda (a build with CUDA, on a GPU machine; tools/gpu_check.sh runs it) it instead
times `predict train --device cuda` (the second of two epochs of --gpu-steps steps) beside `predict train` on the CPU for
--steps steps, the same model, data and batch, and prints both figures; PyTorch is not run.

The recording is --data (a run output or phy folder), or 2 s of examples/cuba.json simulated here.
This is a benchmark, not a test: it prints figures and checks only that the programs ran. Run it
with Debian's /usr/bin/python3, which has python3-torch (tools/install_deps.sh).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
from predictor_torch import SpikeTransformer  # noqa: E402

REFERENCE = {"model.width": 128, "model.blocks": 2, "model.heads": 8, "model.context": 512, "train.batch": 32}


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def read_phy(path):
    phy = path if os.path.exists(os.path.join(path, "spike_clusters.npy")) else os.path.join(path, "phy")
    t = np.load(os.path.join(phy, "spikes.times.npy")) * 1e3
    return t, np.load(os.path.join(phy, "spike_clusters.npy")).astype(np.int64)


def torch_train(c, t, ids, steps, batch, threads):
    model = SpikeTransformer(c)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    L = c["context"]
    tau = torch.tensor(np.maximum(np.diff(t, prepend=t[0]), c["min_interval_ms"]), dtype=torch.float32)
    ids = torch.tensor(ids)
    train_end = int(0.8 * len(t))
    gen = torch.Generator().manual_seed(1)

    def step():
        starts = torch.randint(1, train_end - L - 1, (batch,), generator=gen)
        idx = starts[:, None] + torch.arange(L)
        time_nll, mark_nll = model.nll(ids[idx], tau[idx], ids[idx + 1], tau[idx + 1])
        loss = (time_nll + mark_nll) / (batch * L)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    torch.set_num_threads(threads)
    step()  # first-call allocations
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch * L / (time.perf_counter() - t0)


def torch_sample(c, t, ids, events):
    model = SpikeTransformer(c)
    L = c["context"]
    start = int(0.9 * len(t))
    hist_ids = list(ids[start - L:start])
    hist_tau = list(np.maximum(np.diff(t[start - L - 1:start]), c["min_interval_ms"]))
    gen = torch.Generator().manual_seed(1)
    t0 = time.perf_counter()
    for _ in range(events):
        interval, neuron = model.sample_next(torch.tensor([hist_ids]), torch.tensor([hist_tau], dtype=torch.float32), gen)
        hist_ids = hist_ids[1:] + [neuron]
        hist_tau = hist_tau[1:] + [interval]
    return events / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gillespike", default=os.path.join(REPO, "build", "gillespike"))
    ap.add_argument("--data", help="run output or phy folder (default: 2 s of examples/cuba.json)")
    ap.add_argument("--steps", type=int, default=3, help="training steps timed on each side")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sample-events", type=int, default=100)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: gillespike's GPU training beside its CPU training (no PyTorch)")
    ap.add_argument("--gpu-steps", type=int, default=50, help="training steps timed on the GPU (--device cuda)")
    a = ap.parse_args()
    if not os.path.exists(a.gillespike):
        print(f"{a.gillespike} not found; build first (tools/build.sh)", file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data
        if data is None:
            data = os.path.join(tmp, "cuba")
            run([a.gillespike, "run", os.path.join(REPO, "examples", "cuba.json"), "-o", data, "-q", "--set",
                 "run.duration=2000"])
        # events/s of the last of `epochs` epochs of `steps` steps each
        def train(steps, device, folder, epochs=1):
            sets = [f"{k}={v}" for k, v in REFERENCE.items()] + [
                f"train.steps_per_epoch={steps}", f"train.epochs={epochs}", f"train.threads={a.threads}"]
            out = run([a.gillespike, "predict", "train", data, "-o", os.path.join(tmp, folder), "--device", device]
                      + [x for s in sets for x in ("--set", s)])
            return out, float(re.search(rf"epoch {epochs}: .* ([0-9.]+) events/s", out).group(1))

        if a.device == "cuda":
            # The second epoch's figure: the first carries the GPU's start-up (cuBLAS, kernel loading).
            gpu_out, gpu_rate = train(a.gpu_steps, "cuda", "git-gpu", epochs=2)
            _, cpu_rate = train(a.steps, "cpu", "git-cpu")
            print("\n".join(gpu_out.splitlines()[:2]))  # gillespike's lines on the data and the model
            print(f"next-spike transformer training, width {REFERENCE['model.width']}, {REFERENCE['model.blocks']} "
                  f"blocks, {REFERENCE['model.heads']} heads, context {REFERENCE['model.context']}, batch "
                  f"{REFERENCE['train.batch']}")
            print(f"  {'events/s':<10} {'GPU (cuda)':>12} {'CPU':>12} {'ratio':>8}")
            print(f"  {'train':<10} {gpu_rate:>12.4g} {cpu_rate:>12.4g} {gpu_rate / cpu_rate:>8.3g}")
            print(f"  (GPU: the second epoch of {a.gpu_steps} steps; CPU: {a.steps} steps on {a.threads} threads)")
            return
        out, ours_train = train(a.steps, "cpu", "git")
        model_file = os.path.join(tmp, "git", "GiT1.model")
        with open(model_file, "rb") as f:
            f.readline()
            c = json.loads(f.readline())["model"]
        t, ids = read_phy(data)
        # Intervals at the recording's rate: about --sample-events of them.
        duration = a.sample_events * (t[-1] - t[0]) / len(t)
        out = run([a.gillespike, "predict", "sample", model_file, data, "-o", os.path.join(tmp, "gen"), "--duration",
                   f"{duration}"])
        ours_sample = float(re.search(r"\(([0-9.]+) events/s\)", out).group(1))
        theirs_train = torch_train(c, t, ids, a.steps, REFERENCE["train.batch"], a.threads)
        theirs_sample = torch_sample(c, t, ids, a.sample_events)
    print(f"next-spike transformer, {len(t)} spikes of {c['populations'][-1]['offset'] + c['populations'][-1]['size']}"
          f" neurons; width {c['width']}, {c['blocks']} blocks, {c['heads']} heads, context {c['context']}, batch "
          f"{REFERENCE['train.batch']}; {a.threads} threads; PyTorch {torch.__version__}, float32")
    print(f"  {'events/s':<10} {'gillespike':>12} {'PyTorch':>12} {'ratio':>8}")
    for name, ours, theirs in (("train", ours_train, theirs_train), ("sample", ours_sample, theirs_sample)):
        print(f"  {name:<10} {ours:>12.4g} {theirs:>12.4g} {ours / theirs:>8.3g}")


if __name__ == "__main__":
    main()
