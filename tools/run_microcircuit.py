#!/usr/bin/env python3
"""Runs the Potjans & Diesmann (2014) cortical microcircuit and prints its figures.

`gillespike run examples/microcircuit.json` (clock backend, dt 0.1 ms) with the overrides given
here, then a table of what it cost and how the eight populations fired:

  - wall time of the whole command, and the build / simulate / write times of summary.json;
  - real-time factor (simulate time / biological time; lower is faster), also for the whole run;
  - peak resident memory: of the child process as the kernel counts it (getrusage of the
    waited child), and as gillespike reports it (summary.json peak_memory_mb);
  - synapses (summary.json) and peak memory per synapse (summary.json peak_memory_mb over
    synapses), an upper bound on the bytes a synapse costs (the summary does not yet report the
    synapse arrays alone; with --procedural none are stored);
  - per-population rates over [warm-up, duration] from the spike files (phy/*.npy, read with
    the standard library), next to the reference rates: the PyNEST microcircuit's full-scale
    rates (network_params.py of NEST 3, 'full_mean_rates') and NEST 3.10 measured on these
    machines (../shared/reference-networks.md).

Scaled-down runs (--scale, --k-scale) follow the PyNEST example: neuron numbers times N_scaling,
synapse totals times N_scaling * K_scaling, external in-degrees times K_scaling, weights divided
by sqrt(K_scaling), and a DC current I_e that restores the mean input the missing synapses would
have given (computed from the full-scale reference rates). The scaled run file is written to a
temporary folder (kept with --keep). Only --scale 1 --k-scale 1 is the published model; a network
with reduced in-degrees has other correlations and need not have the same rates.

--background dc replaces the Poisson background by the DC current of the same mean
(bg_rate * K_ext * w_ext * tau_syn), the reference model's documented alternative.

--procedural marks every projection "procedural": true (synapses drawn again when their source
spikes, not stored; clock or cuda backend) and bounds each normal delay at mean + DELAY_MAX_SD standard
deviations ("max"), which procedural projections need: a delay beyond it is redrawn, about 3 in
10^7 synapses, a negligible change to the published model.

This prints figures and asserts none. Standard library only; see docs/microcircuit.md.
Exit status: 0 success, 2 gillespike or the run file missing, 1 the run failed.
"""
import argparse
import bisect
import json
import math
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from array import array

# Shared with the other benchmarks (tools/ is on the path when a script there runs).
from bench_brian2 import cpu_model, fmt, print_table, resolve_gillespike, tail, usable_cpus

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
BG_RATE = 8.0  # Hz per external synapse (Potjans & Diesmann 2014; network_params.py bg_rate)
# External in-degrees K_ext (Potjans & Diesmann 2014; network_params.py of the PyNEST example).
K_EXT = {"L23E": 1600, "L23I": 1500, "L4E": 2100, "L4I": 1900, "L5E": 2000, "L5I": 1900,
         "L6E": 2900, "L6I": 2100}
# Full-scale rates of the PyNEST example (NEST 3 network_params.py, 'full_mean_rates': "obtained
# by running this PyNEST microcircuit with 12 MPI processes and both N_scaling and K_scaling 1").
# They also set the DC compensation of scaled-down runs, as in the example.
REF_NEST_EXAMPLE = {"L23E": 0.943, "L23I": 3.026, "L4E": 4.368, "L4I": 5.882, "L5E": 7.733,
                    "L5I": 8.664, "L6E": 1.096, "L6I": 7.851}
# NEST 3.10 on the project's 2-core machines, 4 threads (../shared/reference-networks.md).
REF_NEST_310 = {"L23E": 0.90, "L23I": 2.97, "L4E": 4.41, "L4I": 5.88, "L5E": 7.57, "L5I": 8.63,
                "L6E": 1.11, "L6I": 7.83}
REF_NEST_310_RTF = 62.7
REF_NEST_310_BUILD_S = 84.0
REF_NEST_310_PEAK_GB = 14.7
# Upper bound of the delays with --procedural, in standard deviations above the mean.
DELAY_MAX_SD = 5.0


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--gillespike", default="build/gillespike",
                    help="the gillespike executable (default: build/gillespike, relative to the "
                         "current directory, else to the repository root)")
    ap.add_argument("--run-file", default="examples/microcircuit.json",
                    help="the run file (default: examples/microcircuit.json)")
    ap.add_argument("--duration-ms", type=float, default=None,
                    help="biological time [ms] (default: the run file's run.duration)")
    ap.add_argument("--warmup-ms", type=float, default=100.0,
                    help="spikes before this time are left out of the rates (default 100; the "
                         "PyNEST example discards 500)")
    ap.add_argument("--threads", type=int, default=None, help="run.threads (default: the file's)")
    ap.add_argument("--seed", type=int, default=None, help="run.seed (default: the file's)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="N_scaling: fraction of the neurons (default 1, the full model)")
    ap.add_argument("--k-scale", type=float, default=None,
                    help="K_scaling: fraction of the in-degrees, recurrent and external "
                         "(default: equal to --scale)")
    ap.add_argument("--background", choices=["poisson", "dc"], default="poisson",
                    help="Poisson background as published (default), or the DC alternative")
    ap.add_argument("--v0", choices=["optimized", "original"], default="optimized",
                    help="initial V_m: the file's population-specific normals (PyNEST default, "
                         "'optimized'), or the paper's N(-58 mV, 10 mV) for all ('original')")
    ap.add_argument("--procedural", action="store_true",
                    help="regenerate the synapses when their source spikes instead of storing them "
                         f"(delays bounded at mean + {DELAY_MAX_SD:g} SD)")
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="passed on to gillespike run (applied after the options above)")
    ap.add_argument("--nice", type=int, default=0, help="run gillespike under nice -n N")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="write the (scaled) run file and the outputs to DIR and keep them")
    ap.add_argument("--timeout", type=float, default=7200.0, help="limit for the run [s]")
    ap.add_argument("--json", default=None, help="also write the measurements to this file")
    return ap.parse_args()


# ----------------------------------------------------------------------------- helpers

def resolve(path):
    """Absolute path of an existing file, tried relative to the current directory, then REPO."""
    candidates = [path] if os.path.isabs(path) else [os.path.abspath(path), os.path.join(REPO, path)]
    for c in candidates:
        if os.path.isfile(c):
            return c
    return None


def read_npy(path):
    """A 1-d npy array (format 1.0/2.0, little-endian int32/int64/float64) as an array.array."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not an npy file")
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    header = data[start:start + hlen].decode("latin1")
    descr = header.split("'descr':")[1].split("'")[1]
    if "True" in header.split("'fortran_order':")[1][:8]:
        raise ValueError(f"{path}: Fortran order not supported")
    codes = {"<i4": "i", "<i8": "q", "<f8": "d"}
    if descr not in codes:
        raise ValueError(f"{path}: dtype {descr} not supported")
    a = array(codes[descr])
    if a.itemsize != int(descr[2]):  # 'i' is 4 bytes and 'q' 8 on every platform we build on
        raise ValueError(f"{path}: no {descr} array type on this platform")
    a.frombytes(data[start + hlen:])
    if sys.byteorder != "little":
        a.byteswap()
    return a


def weight_mean(w):
    return w["normal"]["mean"] if isinstance(w, dict) else float(w)


# ----------------------------------------------------------------------------- the run file

def make_procedural(cfg):
    """Every projection procedural, with the upper bound on its delays that this needs."""
    for pr in cfg["projections"]:
        pr["procedural"] = True
        d = pr.get("delay")
        if isinstance(d, dict) and "normal" in d and "max" not in d["normal"]:
            n = d["normal"]
            n["max"] = n["mean"] + DELAY_MAX_SD * n["std"]
    return f"procedural projections; normal delays bounded at mean + {DELAY_MAX_SD:g} SD"


def adapt(cfg, scale, k_scale, background, v0):
    """The run file as run: scaled as the PyNEST example scales, background and V0 as chosen.
    Returns (cfg, notes)."""
    notes = []
    pops = cfg["populations"]
    full_n = {p: pops[p]["size"] for p in POPS}
    tau_syn = {p: pops[p]["params"]["tau_syn_ex"] for p in POPS}
    w_ext = {p: None for p in POPS}
    for s in cfg.get("stimuli", []):
        if "poisson" in s:
            w_ext[s["poisson"]["target"]] = float(s["poisson"]["weight"])
    w_ext = {p: (w if w is not None else 0.0) for p, w in w_ext.items()}  # no background: none

    # mean recurrent input of the full network per target, sum_j w_ij K_ij rate_j [pA/ms * 1000]
    input_rec = {p: 0.0 for p in POPS}
    for pr in cfg["projections"]:
        n_total = pr["rule"]["fixed_total_number"]["N"]
        indegree = n_total / full_n[pr["target"]]
        input_rec[pr["target"]] += weight_mean(pr["weight"]) * indegree * REF_NEST_EXAMPLE[pr["source"]]

    dc = {p: 0.0 for p in POPS}
    if background == "dc":
        for p in POPS:
            dc[p] += 1e-3 * tau_syn[p] * BG_RATE * K_EXT[p] * w_ext[p]
        cfg["stimuli"] = [s for s in cfg.get("stimuli", []) if "poisson" not in s]
        notes.append("background: DC current bg_rate * K_ext * w_ext * tau_syn instead of Poisson")

    if k_scale != 1.0:
        root = math.sqrt(k_scale)
        for p in POPS:
            dc[p] += 1e-3 * tau_syn[p] * (1.0 - root) * input_rec[p]
            if background == "poisson":
                dc[p] += 1e-3 * tau_syn[p] * (1.0 - root) * w_ext[p] * K_EXT[p] * BG_RATE
        for pr in cfg["projections"]:
            w = pr["weight"]
            if isinstance(w, dict):
                w["normal"]["mean"] /= root
                w["normal"]["std"] /= root
            else:
                pr["weight"] = w / root
        for s in cfg.get("stimuli", []):
            if "poisson" in s:
                q = s["poisson"]
                q["rate"] = round(K_EXT[q["target"]] * k_scale) * BG_RATE
                q["weight"] = q["weight"] / root
        notes.append(f"in-degrees x {k_scale:g}, weights / sqrt({k_scale:g}), DC compensation")
    if scale != 1.0 or k_scale != 1.0:
        for p in POPS:
            pops[p]["size"] = max(1, int(round(full_n[p] * scale)))
        for pr in cfg["projections"]:
            r = pr["rule"]["fixed_total_number"]
            r["N"] = int(round(r["N"] * scale * k_scale))
        notes.append(f"neurons x {scale:g}, synapse totals x {scale * k_scale:g}")
    for p in POPS:
        if dc[p]:
            pops[p]["params"]["I_e"] = round(pops[p]["params"].get("I_e", 0.0) + dc[p], 4)
    if v0 == "original":
        for p in POPS:
            pops[p]["initial"]["V_m"] = {"normal": {"mean": -58.0, "std": 10.0}}
        notes.append("V0 'original': N(-58 mV, 10 mV) in every population")
    return cfg, notes, dc


# ----------------------------------------------------------------------------- run

def run(exe, run_file, out, sets, nice, timeout):
    cmd = [exe, "run", run_file, "-o", out, "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    if nice:
        cmd = ["nice", "-n", str(nice)] + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s", "cmd": cmd}
    except OSError as e:
        return {"error": f"could not start: {e}", "cmd": cmd}
    wall = time.perf_counter() - t0
    # ru_maxrss of the children is the largest of any waited child (KiB on Linux); this script
    # waits for no other, so it is gillespike's (or nice's, which execs it).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = {"cmd": cmd, "wall_s": wall,
           "child_peak_rss_mb": after.ru_maxrss / 1024.0 if after.ru_maxrss > before.ru_maxrss else None,
           # CPU time (user + system) of the child: on a shared machine the wall times include
           # waiting for a core, the CPU time does not.
           "child_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}
    if r.returncode != 0:
        res["error"] = f"exit status {r.returncode}\n{tail(r.stderr or r.stdout)}"
        return res
    try:
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            res["summary"] = json.load(f)
    except (OSError, ValueError) as e:
        res["error"] = f"no readable summary.json in {out} ({e})"
    return res


def rates_after(out, summary, t0_ms, t1_ms):
    """Spikes and rates per population with t0 < t <= t1 (clock spike times are step ends)."""
    phy = os.path.join(out, "phy")
    gids = read_npy(os.path.join(phy, "spike_clusters.npy"))
    secs = read_npy(os.path.join(phy, "spikes.times.npy"))
    pops = summary["populations"]
    order = sorted(pops, key=lambda p: pops[p]["first_id"])
    firsts = [pops[p]["first_id"] for p in order]
    counts = {p: 0 for p in order}
    lo, hi = t0_ms * 1e-3, t1_ms * 1e-3
    for g, t in zip(gids, secs):
        if lo < t <= hi + 1e-12:
            counts[order[bisect.bisect_right(firsts, g) - 1]] += 1
    span = (t1_ms - t0_ms) * 1e-3
    return {p: (counts[p], counts[p] / pops[p]["size"] / span if span > 0 else float("nan"))
            for p in order}


# ----------------------------------------------------------------------------- output

def main():
    a = parse_args()
    k_scale = a.scale if a.k_scale is None else a.k_scale
    if not (0 < a.scale <= 1 and 0 < k_scale <= 1):
        sys.exit("run_microcircuit: --scale and --k-scale must be in (0, 1]")
    exe = resolve_gillespike(a.gillespike)
    if exe is None:
        print(f"run_microcircuit: gillespike not found or not executable ({a.gillespike}).\n"
              "  Build it:  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && "
              "cmake --build build --target gillespike\n  or pass --gillespike PATH.", file=sys.stderr)
        return 2
    src = resolve(a.run_file)
    if src is None:
        print(f"run_microcircuit: run file {a.run_file} not found", file=sys.stderr)
        return 2
    with open(src, encoding="utf-8") as f:
        cfg = json.load(f)
    missing = [p for p in POPS if p not in cfg.get("populations", {})]
    if missing:
        print(f"run_microcircuit: {src} lacks the populations {', '.join(missing)}", file=sys.stderr)
        return 2
    cfg, notes, dc = adapt(cfg, a.scale, k_scale, a.background, a.v0)
    if a.procedural:
        notes.append(make_procedural(cfg))
    duration = a.duration_ms if a.duration_ms is not None else float(cfg["run"]["duration"])
    cfg["run"]["duration"] = duration
    if a.threads is not None:
        cfg["run"]["threads"] = a.threads
    if a.seed is not None:
        cfg["run"]["seed"] = a.seed
    cfg["outputs"] = {"formats": ["phy"]}  # rates come from phy/*.npy; no HDF5 to write
    if not 0 <= a.warmup_ms < duration:
        sys.exit("run_microcircuit: --warmup-ms must be in [0, duration)")

    work = os.path.abspath(a.keep) if a.keep else tempfile.mkdtemp(prefix="gs_micro_")
    os.makedirs(work, exist_ok=True)
    run_file = os.path.join(work, "microcircuit_run.json")
    with open(run_file, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=1)
    out = os.path.join(work, "out")
    n = sum(cfg["populations"][p]["size"] for p in POPS)
    n_syn = sum(pr["rule"]["fixed_total_number"]["N"] for pr in cfg["projections"])

    print("Potjans & Diesmann (2014) microcircuit, Gillespike")
    print(f"machine     : {cpu_model()}, {usable_cpus()} CPUs usable, {platform.system()} {platform.release()}, "
          f"load average {os.getloadavg()[0]:.2f} before the run")
    print(f"gillespike  : {exe}")
    print(f"run file    : {src} -> {run_file}")
    print(f"network     : {n:,} neurons, {n_syn:,} synapses (rule totals); scale {a.scale:g}, "
          f"k-scale {k_scale:g}, background {a.background}, V0 {a.v0}")
    for note in notes:
        print(f"              {note}")
    if any(dc.values()):
        print("              I_e [pA]: " + ", ".join(f"{p} {dc[p]:.1f}" for p in POPS))
    print(f"run         : {duration:g} ms biological time, rates over ({a.warmup_ms:g}, {duration:g}] ms, "
          f"backend {cfg['run'].get('backend', 'event')}, dt {cfg['run'].get('dt', 0.1):g} ms, "
          f"threads {cfg['run'].get('threads', 0)} (0 = all)", flush=True)

    r = run(exe, run_file, out, a.set, a.nice, a.timeout)
    failed = "error" in r
    if failed:
        print(f"\nrun_microcircuit: the run failed: {r['error']}\n  command: {' '.join(r['cmd'])}",
              file=sys.stderr)
    else:
        s = r["summary"]
        bio_s = s["duration_ms"] * 1e-3
        sim, build = s.get("simulate_time_s"), s.get("build_time_s")
        peak = s.get("peak_memory_mb") or r.get("child_peak_rss_mb")
        syn = s.get("synapses")
        try:
            r["rates"] = rates_after(out, s, a.warmup_ms, s["duration_ms"])
        except (OSError, ValueError, KeyError, IndexError) as e:
            print(f"run_microcircuit: cannot read the spikes in {out}/phy ({e}); "
                  "rates after the warm-up need the phy files", file=sys.stderr)
            r["rates"] = {p: (None, None) for p in POPS}
            failed = True
        r["rtf_simulate"] = sim / bio_s if sim is not None else None
        r["rtf_wall"] = r["wall_s"] / bio_s
        r["peak_bytes_per_synapse"] = peak * 2**20 / syn if peak and syn else None

        print(f"\ncommand     : {' '.join(r['cmd'])}")
        print(f"load average: {os.getloadavg()[0]:.2f} after the run (1 min)")
        print()
        print_table(["measure", "value"], [
            ["wall time of the command [s]", fmt(r["wall_s"], ".2f")],
            ["CPU time of the command, user + system [s]", fmt(r.get("child_cpu_s"), ".2f")],
            ["build (network creation) [s]", fmt(build, ".2f")],
            ["simulate [s]", fmt(sim, ".2f")],
            ["write outputs [s]", fmt(s.get("write_time_s"), ".2f")],
            ["real-time factor, simulate", fmt(r["rtf_simulate"], ".2f")],
            ["real-time factor, whole command", fmt(r["rtf_wall"], ".2f")],
            ["peak RSS, child (getrusage) [MB]", fmt(r.get("child_peak_rss_mb"), ".0f")],
            ["peak RSS, summary.json [MB]", fmt(s.get("peak_memory_mb"), ".0f")],
            ["synapses (summary.json)", fmt(syn, "int")],
            ["peak RSS per synapse [bytes]", fmt(r["peak_bytes_per_synapse"], ".2f")],
            ["spikes (whole run)", fmt(s.get("spikes"), "int")],
            ["synaptic events (incl. background)", fmt(s.get("synaptic_events"), "int")],
            ["threads", str(s.get("threads", "n/a"))],
        ])
        print(f"\nrates after the warm-up ({a.warmup_ms:g} ms) [Hz]; references at full scale")
        rows = []
        tot_spikes = tot_n = 0
        for p in POPS:
            cnt, rate = r["rates"][p]
            size = s["populations"][p]["size"]
            tot_spikes += cnt or 0
            tot_n += size
            ref = REF_NEST_EXAMPLE[p]
            rows.append([p, fmt(size, "int"), fmt(s["populations"][p]["rate_hz"], ".3f"), fmt(rate, ".3f"),
                         fmt(ref, ".3f"), fmt(REF_NEST_310[p], ".2f"),
                         fmt(rate / ref if rate is not None else None, ".2f")])
        span = (s["duration_ms"] - a.warmup_ms) * 1e-3
        mean = tot_spikes / tot_n / span
        ref_mean = sum(REF_NEST_EXAMPLE[p] * s["populations"][p]["size"] for p in POPS) / tot_n
        rows.append(["all", fmt(tot_n, "int"), fmt(s.get("mean_rate_hz"), ".3f"), fmt(mean, ".3f"),
                     fmt(ref_mean, ".3f"), "3.24", fmt(mean / ref_mean, ".2f")])
        print_table(["population", "neurons", "whole run", "after warm-up", "PyNEST ref",
                     "NEST 3.10", "ratio to ref"], rows)
        print(f"\nNEST 3.10 on the project's machines (full scale, 4 threads): build {REF_NEST_310_BUILD_S:g} s, "
              f"real-time factor {REF_NEST_310_RTF:g}, peak memory {REF_NEST_310_PEAK_GB:g} GB")
        if a.scale != 1 or k_scale != 1:
            print("(scaled-down network: the references are full-scale figures)")

    if a.json:
        info = {"machine": {"cpu": cpu_model(), "nproc": usable_cpus(), "platform": platform.platform()},
                "gillespike": exe, "run_file": src, "scale": a.scale, "k_scale": k_scale,
                "background": a.background, "v0": a.v0, "procedural": a.procedural, "duration_ms": duration,
                "warmup_ms": a.warmup_ms, "result": r}
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1, default=str)
        print(f"\nmeasurements written to {a.json}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
