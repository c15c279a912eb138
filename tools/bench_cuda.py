#!/usr/bin/env python3
"""GPU benchmark: the COBA network at N = 4,000 and 400,000 on the cuda backend, beside the CPU
clock backend on all cores of the same machine, and what the GPU's time went to.

For each case, one `gillespike run` per backend (same run file, seed and dt 0.1 ms), then a table:
simulate time and real-time factor (simulate time / biological time; lower is faster), the ratio
of the two backends, mean rate, and for the cuda backend the device time of the step loop with
the part spent copying spikes out (summary.json "cuda"); the rest is kernels and launch gaps.
The 400,000-neuron network keeps COBA's in-degree (p = 0.02 * 4000 / N, 80 inputs per neuron),
as a scaled Vogels-Abbott network is usually built. The microcircuit is measured by
tools/run_microcircuit.py (tools/gpu_check.sh runs both). Prints figures, asserts none.
Standard library only. Exit status: 0, or 1 when a run failed.
"""
import argparse
import sys

# Shared with the other benchmarks (tools/ is on the path when a script there runs).
from bench_brian2 import cpu_model, fmt, print_table, resolve_gillespike, run_gillespike, usable_cpus


def coba_sets(n):
    exc, inh = n * 4 // 5, n // 5
    p = 0.02 * 4000 / n
    return [f"populations.exc.size={exc}", f"populations.inh.size={inh}",
            f"projections.0.rule.pairwise_bernoulli.p={p:.10g}",
            f"projections.1.rule.pairwise_bernoulli.p={p:.10g}",
            "run.dt=0.1", 'outputs.formats=["sonata"]']


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gillespike", default="build/gillespike")
    ap.add_argument("--sizes", default="4000,400000", help="COBA network sizes")
    ap.add_argument("--duration-ms", default="10000,2000",
                    help="biological time per size on the GPU (one value, or one per size)")
    ap.add_argument("--clock-duration-ms", default="10000,200",
                    help="biological time per size on the CPU clock backend (0: skip it)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900.0)
    a = ap.parse_args()
    exe = resolve_gillespike(a.gillespike)
    if exe is None:
        print(f"bench_cuda: no gillespike at {a.gillespike}", file=sys.stderr)
        return 1
    sizes = [int(s) for s in a.sizes.split(",")]
    per_size = lambda text: [float(x) for x in text.split(",")] + [float(text.split(",")[-1])] * len(sizes)
    gpu_ms, cpu_ms = per_size(a.duration_ms), per_size(a.clock_duration_ms)
    print(f"CPU: {cpu_model()}, {usable_cpus()} usable cores; gillespike {exe}")
    rows, failed = [], False
    for i, n in enumerate(sizes):
        results = {}
        for backend, ms in (("cuda", gpu_ms[i]), ("clock", cpu_ms[i])):
            if ms <= 0:
                continue
            r = run_gillespike(exe, "examples/coba.json", coba_sets(n) + [f'run.backend="{backend}"'], ms, a.seed,
                               a.timeout)
            if "error" in r:
                print(f"COBA N={n} {backend}: {r['error']}", file=sys.stderr)
                failed = True
                continue
            r["rtf"] = r["simulate_time_s"] / (ms * 1e-3)
            results[backend] = r
        for backend, r in results.items():
            cuda = r["summary"].get("cuda", {})
            speedup = results["clock"]["rtf"] / r["rtf"] if backend == "cuda" and "clock" in results else None
            rows.append([f"COBA N={n:,}", backend, fmt(r["summary"]["duration_ms"], "int"),
                         fmt(r["build_time_s"], ".2f"), fmt(r["simulate_time_s"], ".3f"), fmt(r["rtf"], ".4f"),
                         fmt(speedup, ".1f"), fmt(r["mean_rate_hz"], ".2f"),
                         fmt(cuda.get("device_s"), ".3f"), fmt(cuda.get("copy_s"), ".3f")])
    if rows:
        print_table(["network", "backend", "bio ms", "build s", "simulate s", "RTF", "GPU speed-up",
                     "rate Hz", "device s", "copies s"], rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
