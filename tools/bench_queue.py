#!/usr/bin/env python3
"""Scale benchmark of the next-event machinery: cost per event and memory per neuron from 10^3 to
10^6 stochastic neurons, with the next-reaction queue and with Gillespie's direct method.

The network is one population of hawkes_linear neurons (baseline --mu Hz, kernel tau 10 ms) with
sparse random coupling (fixed_indegree --indegree, summed weight --coupling, so every neuron fires
at mu / (1 - coupling)), delay 1 ms. Each size is simulated long enough for about --spikes spikes
in all, so every row handles the same number of events and only the number of neurons changes:
what grows is the cost of the queue (or sum tree) and the cache misses of a larger state.

For each size and method `gillespike run FILE -o TMP --quiet` runs --repeats times (seeds 1..);
TMP/summary.json gives simulate_time_s, events (every event the loop handled: thinning
candidates, accepted or not, and deliveries of a spike's row), spikes and peak_memory_mb (peak
resident memory of the whole process). The table shows medians:

  ns/event   1e9 simulate_time_s / events
  ns/spike   1e9 simulate_time_s / spikes
  B/neuron   peak_memory_mb * 2^20 / neurons (includes the program and the synapses)
  dB/neuron  growth of peak memory over the previous size, per added neuron

This is a benchmark, not a test: it prints figures and checks nothing but that the runs worked.
Standard library only; exit status 2 when gillespike is missing, 1 when a run failed.
"""
import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from bench_brian2 import cpu_model, resolve_gillespike  # same machine description in both benchmarks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gillespike", default="build/gillespike",
                    help="the executable (default build/gillespike, relative to the current directory, "
                         "else to the repository root)")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000", help="comma-separated neuron counts")
    ap.add_argument("--methods", default="next_reaction,direct", help="run.method values to compare")
    ap.add_argument("--spikes", type=float, default=2e6, help="spikes per run, about (sets the duration)")
    ap.add_argument("--mu", type=float, default=10.0, help="baseline rate [Hz]")
    ap.add_argument("--coupling", type=float, default=0.2, help="summed input weight per neuron (< 1)")
    ap.add_argument("--indegree", type=int, default=10,
                    help="inputs per neuron (0: no coupling, independent Poisson neurons: the queue alone)")
    ap.add_argument("--repeats", type=int, default=1, help="runs per size and method (medians shown)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="limit per run [s]")
    ap.add_argument("--json", default=None, help="also write every measurement to this file")
    return ap.parse_args()


def run_file(n, duration_ms, method, seed, a):
    doc = {
        "run": {"duration": duration_ms, "seed": seed, "method": method},
        "populations": {"h": {"size": n, "model": "hawkes_linear", "params": {"mu": a.mu, "tau": 10.0}}},
        "outputs": {"formats": []},
    }
    if a.indegree > 0:
        doc["projections"] = [{"source": "h", "target": "h", "rule": {"fixed_indegree": {"indegree": a.indegree}},
                               "weight": a.coupling / a.indegree, "delay": 1.0, "receptor": "excitatory"}]
    return doc


def rate_hz(a):
    return a.mu / (1 - a.coupling) if a.indegree > 0 else a.mu


def run_once(exe, n, method, seed, a):
    rate = rate_hz(a)
    duration_ms = round(a.spikes / (n * rate) * 1e3, 3)
    with tempfile.TemporaryDirectory(prefix="gs_bench_queue_") as tmp:
        path = os.path.join(tmp, "run.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(run_file(n, duration_ms, method, seed, a), f)
        out = os.path.join(tmp, "out")
        cmd = [exe, "run", path, "-o", out, "--quiet"]
        t0 = time.perf_counter()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {a.timeout:g} s"}
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            return {"error": f"exit status {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}"}
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            s = json.load(f)
    res = {"wall_s": wall, "duration_ms": duration_ms}
    for key in ("simulate_time_s", "build_time_s", "events", "spikes", "synaptic_events", "peak_memory_mb",
                "mean_rate_hz"):
        res[key] = s.get(key)
    return res


def median(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None


def print_table(headers, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main():
    a = parse_args()
    exe = resolve_gillespike(a.gillespike)
    if exe is None:
        print(f"bench_queue: gillespike not found ({a.gillespike}); build it or pass --gillespike",
              file=sys.stderr)
        return 2
    sizes = [int(float(x)) for x in a.sizes.split(",") if x.strip()]
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    print("Gillespike next-event queue scale benchmark")
    print(f"machine    : {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"gillespike : {exe}")
    coupling = (f"fixed_indegree {a.indegree}, summed weight {a.coupling:g}" if a.indegree > 0
                else "no coupling")
    print(f"network    : hawkes_linear, mu {a.mu:g} Hz, tau 10 ms, {coupling} (rate {rate_hz(a):g} Hz); about "
          f"{a.spikes:.3g} spikes per run; {a.repeats} repeat(s), medians\n", flush=True)
    results, failed = [], False
    for method in methods:
        for n in sizes:
            runs = []
            for seed in range(1, a.repeats + 1):
                print(f"[{method} N={n}] seed {seed} ...", end=" ", flush=True)
                r = run_once(exe, n, method, seed, a)
                if "error" in r:
                    failed = True
                    print("FAILED:", r["error"])
                    continue
                print(f"{r['simulate_time_s']:.3f} s simulate, {r['events']:,} events")
                runs.append(r)
            med = {k: median([r.get(k) for r in runs]) for k in
                   ("simulate_time_s", "events", "spikes", "peak_memory_mb", "duration_ms", "mean_rate_hz")}
            results.append({"method": method, "N": n, "runs": runs, "median": med})

    print()
    rows, prev = [], {}
    for e in results:
        m = e["median"]
        if m["events"] is None:
            continue
        ns_ev = 1e9 * m["simulate_time_s"] / m["events"]
        ns_sp = 1e9 * m["simulate_time_s"] / m["spikes"] if m["spikes"] else None
        b_n = m["peak_memory_mb"] * 2**20 / e["N"]
        p = prev.get(e["method"])
        db = ((m["peak_memory_mb"] - p[1]) * 2**20 / (e["N"] - p[0])) if p else None
        prev[e["method"]] = (e["N"], m["peak_memory_mb"])
        rows.append([e["method"], f"{e['N']:,}", f"{m['duration_ms']:g}", f"{int(m['spikes']):,}",
                     f"{int(m['events']):,}", f"{m['simulate_time_s']:.3f}", f"{ns_ev:.1f}",
                     "n/a" if ns_sp is None else f"{ns_sp:.1f}", f"{m['peak_memory_mb']:.0f}", f"{b_n:.0f}",
                     "" if db is None else f"{db:.0f}"])
    if rows:
        print_table(["method", "N", "sim ms", "spikes", "events", "sim s", "ns/event", "ns/spike", "peak MB",
                     "B/neuron", "dB/neuron"], rows)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"machine": cpu_model(), "args": vars(a), "results": results}, f, indent=1)
        print(f"\nall measurements written to {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
