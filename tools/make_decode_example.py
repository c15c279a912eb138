#!/usr/bin/env python3
"""Writes the velocity-decoding example: examples/decode_velocity.json (the run file) and
examples/decode_velocity.target.json (the velocity it encodes), from one seed.

A 2-D velocity (vx, vy) follows smooth Gaussian noise (white noise low-passed twice with time
constant TAU_V, scaled to unit variance), held constant over SEGMENT_MS segments. GROUPS groups of
NEURONS lif_psc_delta neurons each prefer a direction phi_k and receive an inhomogeneous Poisson
input (piecewise-constant rate_times/rate_values) of rate
    BASE_HZ * max(0, 1 + GAIN * (vx cos phi_k + vy sin phi_k)),
so the population's spikes carry the velocity as in a cosine-tuned motor-cortex recording.
`gillespike learn surrogate` decodes it back (docs/surrogate.md). Only the standard library, so
the files are the same wherever this runs.
"""
import argparse
import json
import math
import random
from pathlib import Path

DURATION_MS = 60000.0
SEGMENT_MS = 20.0
TAU_V_MS = 150.0
GROUPS, NEURONS = 8, 12
BASE_HZ, GAIN, WEIGHT_MV = 800.0, 0.9, 1.0


def velocity(rng, n):
    """n samples per component of twice low-passed white noise, unit variance."""
    a = math.exp(-SEGMENT_MS / TAU_V_MS)
    out = []
    for _ in range(2):
        x1 = x2 = 0.0
        xs = []
        for k in range(n + 200):  # the first 200 samples let the filters forget their zero start
            x1 = a * x1 + rng.gauss(0.0, 1.0)
            x2 = a * x2 + x1
            if k >= 200:
                xs.append(x2)
        sd = math.sqrt(sum(x * x for x in xs) / n)
        out.append([x / sd for x in xs])
    return list(zip(*out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "examples")
    a = p.parse_args()
    rng = random.Random(a.seed)
    n = int(DURATION_MS / SEGMENT_MS)
    times = [round(k * SEGMENT_MS, 6) for k in range(n)]
    v = velocity(rng, n)
    stimuli = []
    for g in range(GROUPS):
        phi = 2 * math.pi * g / GROUPS
        rates = [round(BASE_HZ * max(0.0, 1 + GAIN * (vx * math.cos(phi) + vy * math.sin(phi))), 1) for vx, vy in v]
        stimuli.append({"poisson": {"target": "tuned", "ids": list(range(g * NEURONS, (g + 1) * NEURONS)),
                                    "rate_times": times, "rate_values": rates, "weight": WEIGHT_MV}})
    run = {
        "run": {"duration": DURATION_MS, "seed": 11, "backend": "event"},
        "populations": {"tuned": {
            "size": GROUPS * NEURONS, "model": "lif_psc_delta",
            "params": {"tau_m": {"normal": {"mean": 20.0, "std": 4.0, "min": 8.0}}, "C_m": 250.0, "E_L": -65.0,
                       "V_th": {"normal": {"mean": -50.0, "std": 1.5, "max": -46.0}}, "V_reset": -65.0,
                       "t_ref": 2.0},
            "initial": {"V_m": {"uniform": [-65.0, -50.0]}}}},
        "stimuli": stimuli,
        "recorders": [{"spikes": {"populations": ["tuned"]}}],
        "outputs": {"dir": "out/decode_velocity", "formats": ["sonata"]},
    }
    target = {"description": f"2-D velocity encoded by examples/decode_velocity.json (tools/make_decode_example.py "
                             f"--seed {a.seed}); values[k] holds from times_ms[k] to the next time, the last to end_ms",
              "names": ["vx", "vy"], "times_ms": times, "end_ms": DURATION_MS,
              "values": [[round(x, 6), round(y, 6)] for x, y in v]}
    (a.out / "decode_velocity.json").write_text(json.dumps(run, separators=(",", ":")) + "\n")
    (a.out / "decode_velocity.target.json").write_text(json.dumps(target, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
