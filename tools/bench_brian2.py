#!/usr/bin/env python3
"""Benchmark of Gillespike against Brian2's compiled standalone mode, side by side.

Networks, each run by both simulators in the same call, on the same machine:

  cuba          examples/cuba.json (event backend)   vs ../shared/peers/brian2_va.py --model cuba
  delta         examples/delta.json (event backend)  vs tools/peers/brian2_delta.py
  coba_clock_1  examples/coba.json, clock backend, dt 0.1 ms, 1 thread
                                                     vs ../shared/peers/brian2_va.py --model coba_auryn
  coba_clock_2  the same on 2 threads                (the Brian2 peer is single-threaded)

For each network `gillespike run FILE --set run.duration=MS --set run.seed=S [--set ...] -o TMP
--quiet` runs --repeats times (the whole command is timed here with time.perf_counter, and
TMP/summary.json is read), then the Brian2 peer runs --repeats times with --device
cpp_standalone; the table shows medians. Seeds 1..repeats (shifted by --seed-base) are used on
both sides. Targets compare the whole command with Brian2's compiled program (event networks),
or the simulation loops (clock networks, as the issue states them), and the clock backend's two
threads with its one.

This is a benchmark, not a test: it prints figures and checks nothing but that the programs ran.
It exits 2 when gillespike is missing, 1 when a run failed. Standard library only; see
docs/benchmarks.md for what the columns mean.
"""
import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# network name -> run file, gillespike --set overrides, Brian2 peer script and its arguments,
# whether the peer runs from shared/, the target ratio and what it compares ("whole": Brian2's
# compiled program / the whole gillespike command; "loop": the simulation loops).
NETWORKS = {
    "cuba": ("examples/cuba.json", [], "peers/brian2_va.py", ["--model", "cuba"], True, 1.0, "whole"),
    "delta": ("examples/delta.json", [], "tools/peers/brian2_delta.py", [], False, 5.0, "whole"),
    "coba_clock_1": ("examples/coba.json", ['run.backend="clock"', "run.threads=1"], "peers/brian2_va.py",
                     ["--model", "coba_auryn"], True, 1.5, "loop"),
    "coba_clock_2": ("examples/coba.json", ['run.backend="clock"', "run.threads=2"], "peers/brian2_va.py",
                     ["--model", "coba_auryn"], True, None, "loop"),
}
# The clock backend on both cores against one (simulation loops).
THREAD_TARGET = ("coba_clock_2", "coba_clock_1", 1.7)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gillespike", default="build/gillespike",
                    help="the gillespike executable (default: build/gillespike, relative to the "
                         "current directory, else to the repository root)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per simulator and network")
    ap.add_argument("--duration-s", type=float, default=10.0, help="biological time [s]")
    ap.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated subset of " + ",".join(NETWORKS))
    ap.add_argument("--skip-brian", action="store_true", help="do not run the Brian2 peers")
    ap.add_argument("--skip-gillespike", action="store_true",
                    help="do not run gillespike (to check the Brian2 side alone)")
    ap.add_argument("--python", default=None,
                    help="interpreter for the Brian2 peers (default: /usr/bin/python3, Debian's "
                         "python3-brian, if present, else this interpreter)")
    ap.add_argument("--shared", default=None,
                    help="the shared/ folder that holds peers/brian2_va.py (default: <repo>/../shared)")
    ap.add_argument("--seed-base", type=int, default=0,
                    help="repeat k (1-based) uses seed seed-base + k on both sides")
    ap.add_argument("--timeout", type=float, default=1800.0, help="limit per single run [s]")
    ap.add_argument("--json", default=None, help="also write every measurement to this file")
    return ap.parse_args()


# ----------------------------------------------------------------------------- helpers

def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model", "Processor"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 0


def git_describe():
    try:
        r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=10)
        head = r.stdout.strip() if r.returncode == 0 else "no commit"
        r = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        dirty = r.returncode == 0 and r.stdout.strip() != ""
        return head + (" (modified)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def resolve_gillespike(path):
    """Absolute path of the executable, or None."""
    candidates = [path] if os.path.isabs(path) else [os.path.abspath(path), os.path.join(REPO, path)]
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    found = shutil.which(path) if os.sep not in path else None
    return found


def tail(text, n=15):
    lines = (text or "").rstrip().splitlines()
    return "\n".join("    " + l for l in lines[-n:])


def median(values):
    vals = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)]
    return statistics.median(vals) if vals else None


def get(d, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def network_size(run_file):
    with open(run_file, encoding="utf-8") as f:
        cfg = json.load(f)
    return sum(int(p.get("size", 0)) for p in cfg.get("populations", {}).values())


# ----------------------------------------------------------------------------- runners

def run_timed(cmd, cwd, timeout):
    """Runs cmd; returns (the completed process, wall seconds), or ({'error': ...}, None)."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s", "cmd": cmd}, None
    except OSError as e:
        return {"error": f"could not start: {e}", "cmd": cmd}, None
    return r, time.perf_counter() - t0


def run_gillespike(exe, run_file, sets, duration_ms, seed, timeout):
    """One whole `gillespike run`; returns a dict of measurements or {'error': ...}."""
    with tempfile.TemporaryDirectory(prefix="gs_bench_") as out:
        cmd = [exe, "run", run_file, "--set", f"run.duration={duration_ms:g}",
               "--set", f"run.seed={seed}", "-o", out, "--quiet"]
        for kv in sets:
            cmd += ["--set", kv]
        r, wall = run_timed(cmd, REPO, timeout)
        if wall is None:
            return r
        if r.returncode != 0:
            return {"error": f"exit status {r.returncode}\n{tail(r.stderr or r.stdout)}", "cmd": cmd}
        summary_path = os.path.join(out, "summary.json")
        try:
            with open(summary_path, encoding="utf-8") as f:
                summary = json.load(f)
        except (OSError, ValueError) as e:
            return {"error": f"no readable summary.json in the output folder ({e})", "cmd": cmd,
                    "wall_s": wall}
    res = {"wall_s": wall, "cmd": cmd, "summary": summary}
    for key in ("wall_time_s", "build_time_s", "simulate_time_s", "write_time_s", "spikes",
                "synaptic_events", "events", "mean_rate_hz", "peak_memory_mb"):
        res[key] = summary.get(key)
    sim, ev = res["simulate_time_s"], res["synaptic_events"]
    if isinstance(sim, (int, float)) and isinstance(ev, (int, float)) and sim > 0 and ev > 0:
        res["syn_events_per_s"] = ev / sim
        res["ns_per_syn_event"] = 1e9 * sim / ev
    return res


def run_brian(python, script, cwd, extra, n, duration_s, seed, timeout):
    with tempfile.TemporaryDirectory(prefix="b2_bench_") as build:
        cmd = [python, script, *extra, "--N", str(n), "--duration", f"{duration_s:g}",
               "--device", "cpp_standalone", "--seed", str(seed),
               "--build-dir", os.path.join(build, "project")]
        r, wall = run_timed(cmd, cwd, timeout)
    if wall is None:
        return r
    if r.returncode != 0:
        return {"error": f"exit status {r.returncode}\n{tail(r.stderr or r.stdout)}", "cmd": cmd}
    line = next((l for l in reversed(r.stdout.splitlines()) if l.lstrip().startswith("{")), None)
    try:
        res = json.loads(line) if line else None
    except ValueError:
        res = None
    if not isinstance(res, dict):
        return {"error": f"no JSON line in the output\n{tail(r.stdout + r.stderr)}", "cmd": cmd}
    res["process_wall_s"] = wall
    res["cmd"] = cmd
    return res


# ----------------------------------------------------------------------------- output

def fmt(v, spec):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if spec == "int":
        return f"{int(round(v)):,}"
    if spec == "sci":
        return f"{v:.3g}"
    return format(v, spec)


def print_table(headers, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def target_text(name):
    goal = NETWORKS[name][5]
    return "-" if goal is None else f">= {goal:g}"


def ratio(num, den):
    return num / den if num is not None and den else None


def main():
    a = parse_args()
    if a.repeats < 1:
        sys.exit("bench_brian2: --repeats must be at least 1")
    if a.skip_brian and a.skip_gillespike:
        sys.exit("bench_brian2: nothing to do (--skip-brian and --skip-gillespike)")
    names = [n.strip() for n in a.networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in NETWORKS]
    if unknown:
        sys.exit(f"bench_brian2: unknown network(s) {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")

    exe = None
    if not a.skip_gillespike:
        exe = resolve_gillespike(a.gillespike)
        if exe is None:
            where = " or ".join(dict.fromkeys(
                [a.gillespike] if os.path.isabs(a.gillespike)
                else [os.path.abspath(a.gillespike), os.path.join(REPO, a.gillespike)]))
            print(f"bench_brian2: gillespike not found or not executable ({where}).\n"
                  "  Build it:  cmake -S . -B build -G Ninja && cmake --build build\n"
                  "  or pass --gillespike PATH, or --skip-gillespike to time the Brian2 peers alone.",
                  file=sys.stderr)
            return 2

    python = a.python or ("/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable)
    shared = os.path.abspath(a.shared or os.path.join(REPO, "..", "shared"))
    duration_ms = a.duration_s * 1000.0
    seeds = [a.seed_base + k for k in range(1, a.repeats + 1)]

    print("Gillespike against Brian2 standalone")
    print(f"machine     : {cpu_model()}, {usable_cpus()} CPUs usable (nproc), {platform.system()} "
          f"{platform.release()}")
    print(f"gillespike  : {exe or 'skipped'}  [repository {git_describe()}]")
    print(f"brian2 peer : {'skipped' if a.skip_brian else python + ' (cpp_standalone, single thread)'}")
    print(f"runs        : {a.duration_s:g} s biological time, {a.repeats} repeat(s), seeds "
          f"{', '.join(map(str, seeds))}; medians shown\n", flush=True)

    results = {}
    failed = False
    for name in names:
        run_file, sets, peer, peer_args, in_shared, _, _ = NETWORKS[name]
        run_path = os.path.join(REPO, run_file)
        entry = results[name] = {"run_file": run_file, "gillespike": [], "brian2": []}
        try:
            n = network_size(run_path)
        except (OSError, ValueError) as e:
            print(f"[{name}] cannot read {run_file}: {e}", file=sys.stderr)
            failed = True
            continue
        entry["N"] = n
        if exe:
            for seed in seeds:
                print(f"[{name}] gillespike run {run_file} (seed {seed}) ...", end=" ", flush=True)
                r = run_gillespike(exe, run_file, sets, duration_ms, seed, a.timeout)
                entry["gillespike"].append(r)
                if "error" in r:
                    failed = True
                    print(f"FAILED: {r['error']}")
                else:
                    print(f"{r['wall_s']:.3f} s, {fmt(r['spikes'], 'int')} spikes")
        if not a.skip_brian:
            cwd = shared if in_shared else REPO
            script = os.path.join(cwd, peer)
            if not os.path.isfile(script):
                print(f"[{name}] Brian2 peer {script} not found; skipped", file=sys.stderr)
                entry["brian2"].append({"error": f"{script} not found"})
                failed = True
            else:
                for seed in seeds:
                    print(f"[{name}] brian2 {peer} (seed {seed}) ...", end=" ", flush=True)
                    r = run_brian(python, peer, cwd, peer_args, n, a.duration_s, seed, a.timeout)
                    entry["brian2"].append(r)
                    if "error" in r:
                        failed = True
                        print(f"FAILED: {r['error']}")
                    else:
                        print(f"program {r.get('t_main_binary_s', float('nan')):.3f} s, loop "
                              f"{r.get('t_sim_s', float('nan')):.3f} s, {fmt(r.get('spikes'), 'int')} spikes")

    # medians
    for name, entry in results.items():
        gs_ok = [r for r in entry["gillespike"] if "error" not in r]
        b2_ok = [r for r in entry["brian2"] if "error" not in r]
        med = {}
        for key in ("wall_s", "wall_time_s", "build_time_s", "simulate_time_s", "write_time_s",
                    "spikes", "synaptic_events", "events", "mean_rate_hz", "peak_memory_mb",
                    "syn_events_per_s", "ns_per_syn_event"):
            med["gs_" + key] = median([r.get(key) for r in gs_ok])
        for key in ("t_main_binary_s", "t_sim_s", "t_make_s", "t_build_plus_run_s", "spikes",
                    "rate_hz", "syn_events", "syn_events_per_s_sim"):
            med["b2_" + key] = median([r.get(key) for r in b2_ok])
        med["ratio_whole"] = ratio(med["b2_t_main_binary_s"], med["gs_wall_s"])
        med["ratio_loop"] = ratio(med["b2_t_sim_s"], med["gs_simulate_time_s"])
        med["gs_runs_ok"], med["b2_runs_ok"] = len(gs_ok), len(b2_ok)
        entry["median"] = med

    print()
    headers = ["network", "gs wall s", "gs sim s", "gs spikes", "gs syn events", "syn ev/s",
               "ns/syn ev", "b2 prog s", "b2 loop s", "b2 spikes", "prog/wall", "loop/sim", "target"]
    rows = []
    for name, entry in results.items():
        m = entry.get("median")
        if m is None:
            continue
        rows.append([name, fmt(m["gs_wall_s"], ".3f"), fmt(m["gs_simulate_time_s"], ".3f"),
                     fmt(m["gs_spikes"], "int"), fmt(m["gs_synaptic_events"], "int"),
                     fmt(m["gs_syn_events_per_s"], "sci"), fmt(m["gs_ns_per_syn_event"], ".2f"),
                     fmt(m["b2_t_main_binary_s"], ".3f"), fmt(m["b2_t_sim_s"], ".3f"),
                     fmt(m["b2_spikes"], "int"), fmt(m["ratio_whole"], ".2f"),
                     fmt(m["ratio_loop"], ".2f"), target_text(name)])
    if rows:
        print_table(headers, rows)

    print("\ndetails (medians)")
    drows = []
    for name, entry in results.items():
        m = entry.get("median")
        if m is None:
            continue
        drows.append([name, fmt(m["gs_build_time_s"], ".3f"), fmt(m["gs_write_time_s"], ".3f"),
                      fmt(m["gs_wall_time_s"], ".3f"), fmt(m["gs_events"], "int"),
                      fmt(m["gs_mean_rate_hz"], ".2f"), fmt(m["gs_peak_memory_mb"], ".1f"),
                      fmt(m["b2_rate_hz"], ".2f"), fmt(m["b2_syn_events"], "int"),
                      fmt(m["b2_t_make_s"], ".2f"), fmt(m["b2_t_build_plus_run_s"], ".2f"),
                      f"{m['gs_runs_ok']}/{len(entry['gillespike'])}",
                      f"{m['b2_runs_ok']}/{len(entry['brian2'])}"])
    if drows:
        print_table(["network", "gs build s", "gs write s", "gs own wall s", "gs queue events",
                     "gs rate Hz", "gs peak MB", "b2 rate Hz", "b2 syn events", "b2 make s",
                     "b2 all-in s", "gs ok", "b2 ok"], drows)

    print("\ntargets (prog/wall = Brian2 compiled program / whole `gillespike run`; loop/sim = Brian2's "
          "simulation loop / gillespike's simulate time)")
    for name, entry in results.items():
        m = entry.get("median")
        goal, on = NETWORKS[name][5], NETWORKS[name][6]
        if m is None or goal is None:
            continue
        r = m["ratio_whole" if on == "whole" else "ratio_loop"]
        verdict = "not measured" if r is None else f"{r:.2f}: {'met' if r >= goal else 'NOT met'}"
        print(f"  {name:12s} {'prog/wall' if on == 'whole' else 'loop/sim'} {target_text(name)}: {verdict}")
    many, one, goal = THREAD_TARGET
    if many in results and one in results and results[many].get("median") and results[one].get("median"):
        r = ratio(results[one]["median"]["gs_simulate_time_s"], results[many]["median"]["gs_simulate_time_s"])
        verdict = "not measured" if r is None else f"{r:.2f}: {'met' if r >= goal else 'NOT met'}"
        print(f"  {many} / {one} (simulate time, 1 thread / 2 threads) >= {goal:g}: {verdict}")

    if a.json:
        info = {"machine": {"cpu": cpu_model(), "nproc": usable_cpus(), "platform": platform.platform()},
                "gillespike": exe, "repository": git_describe(), "duration_s": a.duration_s,
                "repeats": a.repeats, "seeds": seeds, "networks": results}
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=1, default=str)
        print(f"\nall measurements written to {a.json}")
    if failed:
        print("\nbench_brian2: some runs failed (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
