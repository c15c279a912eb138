#!/usr/bin/env python3
"""Benchmark of `gillespike learn rls` on the reference task (examples/rls_sinusoids.json, issue 8:
4096 LIF neurons, 58 plastic inputs each, dt 0.1 ms, 2 s per presentation): seconds per training
loop for each thread count, split into the RLS updates (with the weight write-back) and the rest
(the clock loop, the observer's activity traces and current samples), next to a plain
`gillespike run` of the same file (the simulation alone, no observer).

    python3 tools/bench_rls.py --loops 3 --threads 1 2

A benchmark, not a test: it prints figures and checks only that the programs ran.
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "gillespike"))
    ap.add_argument("--run-file", default=os.path.join(REPO, "examples", "rls_sinusoids.json"))
    ap.add_argument("--loops", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--set", action="append", default=[], help="run-file override for both, e.g. "
                    "learning.rls.P_precision=single")
    a = ap.parse_args()
    sets = [x for s in a.set for x in ("--set", s)]
    print(f"{'threads':>7}  {'run s':>7}  {'s/loop':>7}  {'RLS s/loop':>10}  {'rest s/loop':>11}")
    for t in a.threads:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            subprocess.run([a.cli, "run", a.run_file, "-q", "-o", os.path.join(tmp, "run"),
                            "--set", f"run.threads={t}"] + sets, check=True)
            plain = time.time() - t0
            out = subprocess.run([a.cli, "learn", "rls", a.run_file, "-o", os.path.join(tmp, "rls"),
                                  "--set", f"learning.rls.loops={a.loops}", "--set", f"run.threads={t}"] + sets,
                                 check=True, capture_output=True, text=True).stdout
        m = re.search(r"([0-9.]+) s per loop over \d+ loops \(RLS updates ([0-9.]+) s", out)
        per, rls = float(m.group(1)), float(m.group(2))
        print(f"{t:>7}  {plain:>7.2f}  {per:>7.3f}  {rls:>10.3f}  {per - rls:>11.3f}", flush=True)


if __name__ == "__main__":
    main()
