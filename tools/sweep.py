#!/usr/bin/env python3
"""Runs one run file over a grid of seeds and parameter values, in parallel, with a progress bar
and a manifest; an interrupted or crashed sweep started again runs only what is not finished.

    python3 tools/sweep.py examples/visual_pathway.json -o out/sweep --seeds 1 2 3 \\
        --grid protocol.trials=2,4 --grid 'outputs.hidden.fraction=0.1,0.2' -j 2

Every combination of --seeds and the --grid values (each --grid PATH=V1,V2,... is a run-file path
as for --set, with comma-separated JSON values) is one run, written to OUT/runs/NNNN/ by
`gillespike run -o`. A run is finished when its summary.json exists (gillespike writes it last,
and every file under a temporary name first). OUT/manifest.json lists every run with its
settings, status, outputs and wall time, rewritten whole after each run. Exit status: 0 all
finished, 1 some run failed (its stderr is in its folder), 2 bad arguments or OUT holds a
different sweep.
"""
import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def parse_grid(items):
    axes = []
    for item in items:
        path, sep, values = item.partition("=")
        if not sep or not path or not values:
            sys.exit(f"sweep.py: error: --grid {item!r}: expected PATH=V1,V2,...")
        axes.append([f"{path}={v.strip()}" for v in values.split(",")])
    return axes


def default_binary():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "gillespike")
    return shutil.which("gillespike") or here


def write_manifest(path, manifest):
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)  # never a half-written manifest


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_file")
    p.add_argument("-o", "--output", required=True, help="sweep folder")
    p.add_argument("--seeds", type=int, nargs="+", help="run.seed values (default: the file's)")
    p.add_argument("--grid", action="append", default=[], help="PATH=V1,V2,... (repeatable)")
    p.add_argument("--set", action="append", default=[], help="PATH=VALUE for every run")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count(), help="runs at a time")
    p.add_argument("--gillespike", default=default_binary(), help="the gillespike binary")
    args = p.parse_args()

    axes = parse_grid(args.grid)
    if args.seeds:
        axes.insert(0, [f"run.seed={s}" for s in args.seeds])
    runs = [{"name": f"{k:04d}", "sets": list(args.set) + list(combo)}
            for k, combo in enumerate(itertools.product(*axes))]
    os.makedirs(os.path.join(args.output, "runs"), exist_ok=True)
    manifest_path = os.path.join(args.output, "manifest.json")
    run_file = os.path.abspath(args.run_file)
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        if old["run_file"] != run_file or [r["sets"] for r in old["runs"]] != [r["sets"] for r in runs]:
            print(f"sweep.py: error: {manifest_path} belongs to a different sweep (run file or settings); "
                  "use another -o", file=sys.stderr)
            return 2
        runs = old["runs"]  # keeps the wall times and outputs of finished runs
    manifest = {"run_file": run_file, "runs": runs}

    def finished(run):
        return os.path.exists(os.path.join(args.output, "runs", run["name"], "summary.json"))

    for run in runs:
        run["status"] = "done" if finished(run) else "pending"
    todo = [r for r in runs if r["status"] != "done"]
    print(f"{len(runs)} runs: {len(todo)} to run, {len(runs) - len(todo)} already done", flush=True)
    lock = threading.Lock()
    start = time.time()
    counts = {"done": 0, "failed": 0}

    def progress():
        if not sys.stderr.isatty():
            return
        n = counts["done"] + counts["failed"]
        width, frac = 30, n / max(1, len(todo))
        elapsed = time.time() - start
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0
        sys.stderr.write(f"\r[{'#' * int(frac * width)}{' ' * (width - int(frac * width))}] {n}/{len(todo)}"
                         f"  failed {counts['failed']}  elapsed {elapsed:.0f} s  eta {eta:.0f} s ")
        sys.stderr.flush()

    def one(run):
        folder = os.path.join(args.output, "runs", run["name"])
        os.makedirs(folder, exist_ok=True)
        cmd = [args.gillespike, "run", run_file, "-q", "-o", folder]
        for s in run["sets"]:
            cmd += ["--set", s]
        t0 = time.time()
        with open(os.path.join(folder, "stderr.txt"), "w") as err:
            rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=err)
        with lock:
            run["wall_s"] = round(time.time() - t0, 3)
            run["status"] = "done" if rc == 0 and finished(run) else "failed"
            run["outputs"] = sorted(os.path.relpath(os.path.join(d, f), args.output)
                                    for d, _, fs in os.walk(folder) for f in fs)
            counts[run["status"]] += 1
            write_manifest(manifest_path, manifest)
            progress()

    write_manifest(manifest_path, manifest)
    if todo:
        progress()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            list(pool.map(one, todo))
        sys.stderr.write("\n")
    failed = [r["name"] for r in runs if r["status"] == "failed"]
    print(f"manifest: {manifest_path}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
