#!/usr/bin/python3
"""Brette et al. (2007) benchmark 4 (voltage-jump synapses) in Brian2, for timing against Gillespike.

Run it with Debian's interpreter and Debian's python3-brian 2.5.1:

    /usr/bin/python3 tools/peers/brian2_delta.py --N 4000 --duration 10 --device cpp_standalone

The network is the one of examples/delta.json (parameters and sources in docs/benchmarks.md):
N neurons, 80 % excitatory and 20 % inhibitory, every ordered pair (self-pairs included, as in
../shared/peers/brian2_va.py and NEST's pairwise_bernoulli default) connected with probability p = indegree/N (0.02 at N = 4000).
Leaky integrate-and-fire cells, tau_m = 20 ms, E_L = -49 mV, V_th = -50 mV, V_reset = -60 mV,
t_ref = 5 ms. A presynaptic spike makes the target's V jump by +0.25 mV (excitatory source) or
-2.25 mV (inhibitory source) after a delay of 0.1 ms. As in NEST's iaf_psc_delta, a jump that
arrives while the target is refractory is discarded, so V stays clamped at V_reset. Between jumps
V relaxes exactly (method "exact"). V(0) is uniform in [V_reset, V_th]. During the first 50 ms every
cell also receives independent Poisson kicks (100 Hz, +10 mV each), the random initial stimulation
the benchmark asks for; the kick times are drawn here with NumPy and fed through a
SpikeGeneratorGroup so that the generator costs nothing after 50 ms.

Prints one JSON line with the keys of ../shared/peers/brian2_va.py: timings (for cpp_standalone:
whole command, Python setup, code generation, make, the compiled program, Brian's own timer around
the simulation loop), spikes, mean rate, recurrent synapse count and synaptic events (recurrent
deliveries, i.e. the sum over neurons of spikes * out-degree; the stimulus kicks are reported
apart as stim_spikes).
"""
import argparse
import json
import sys
import tempfile
import time

_T_LAUNCH = time.perf_counter()
import numpy as np  # noqa: E402
import brian2 as b2  # noqa: E402
from brian2 import Hz, mV, ms, second  # noqa: E402

_T_READY = time.perf_counter()

# Benchmark 4 (see docs/benchmarks.md for the sources).
TAU_M_MS = 20.0
E_L_MV = -49.0
V_TH_MV = -50.0
V_RESET_MV = -60.0
T_REF_MS = 5.0
J_EXC_MV = 0.25
J_INH_MV = -2.25


def cli():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=4000, help="number of neurons (80 %% excitatory)")
    p.add_argument("--duration", type=float, default=1.0, help="biological time [s]")
    p.add_argument("--dt", type=float, default=0.1, help="clock step [ms]")
    p.add_argument("--device", choices=["runtime", "cpp_standalone"], default="runtime")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--indegree", type=float, default=80.0,
                   help="mean in-degree; connection probability p = indegree/N unless --p is given")
    p.add_argument("--p", type=float, default=None, help="connection probability")
    p.add_argument("--delay", type=float, default=0.1,
                   help="synaptic delay [ms] (0 = deliver in the step of the spike)")
    p.add_argument("--stim-rate", type=float, default=100.0, help="initial Poisson kicks [Hz per cell]")
    p.add_argument("--stim-weight", type=float, default=10.0, help="size of one kick [mV]")
    p.add_argument("--stim-stop", type=float, default=50.0, help="end of the kick phase [ms]; 0 = none")
    p.add_argument("--target", choices=["cython", "numpy"], default="cython",
                   help="code generation target of the runtime device")
    p.add_argument("--threads", type=int, default=0,
                   help="OpenMP threads for cpp_standalone (0 = plain single-threaded code)")
    p.add_argument("--build-dir", default=None,
                   help="cpp_standalone project folder (default: a new temporary folder)")
    return p.parse_args()


def kick_times(n, rate_hz, stop_ms, dt_ms, rng):
    """Independent Poisson trains on [0, stop) for n cells, as (cell index, time in ms).

    Brian's SpikeGeneratorGroup accepts one spike per cell and time bin, so a second kick that
    falls in the same dt bin of the same cell is merged into the first (rare at 100 Hz, dt 0.1 ms).
    """
    if stop_ms <= 0.0 or rate_hz <= 0.0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    counts = rng.poisson(rate_hz * stop_ms * 1e-3, size=n)
    cells = np.repeat(np.arange(n, dtype=np.int64), counts)
    times = rng.uniform(0.0, stop_ms, size=cells.size)
    bins = np.floor(times / dt_ms).astype(np.int64)
    _, first = np.unique(cells * (int(stop_ms / dt_ms) + 2) + bins, return_index=True)
    return cells[first], bins[first] * dt_ms


def make_network(a, p_conn):
    n_exc = int(round(0.8 * a.N))
    consts = dict(tau_m=TAU_M_MS * ms, E_L=E_L_MV * mV, V_th=V_TH_MV * mV,
                  V_reset=V_RESET_MV * mV, J_exc=J_EXC_MV * mV, J_inh=J_INH_MV * mV,
                  J_stim=a.stim_weight * mV)
    cells = b2.NeuronGroup(
        a.N, "dv/dt = (E_L - v) / tau_m : volt (unless refractory)",
        threshold="v > V_th", reset="v = V_reset", refractory=T_REF_MS * ms,
        method="exact", namespace=consts, name="cells")
    cells.v = "V_reset + rand() * (V_th - V_reset)"

    # A jump is applied only to a non-refractory target (NEST iaf_psc_delta semantics).
    delay = a.delay * ms if a.delay > 0 else None
    exc = b2.Synapses(cells, cells, on_pre="v_post += J_exc * int(not_refractory_post)",
                      delay=delay, namespace=consts, name="exc")
    inh = b2.Synapses(cells, cells, on_pre="v_post += J_inh * int(not_refractory_post)",
                      delay=delay, namespace=consts, name="inh")
    exc.connect(condition=f"i < {n_exc}", p=p_conn)
    inh.connect(condition=f"i >= {n_exc}", p=p_conn)

    objects = [cells, exc, inh]
    rng = np.random.default_rng(a.seed)
    idx, t_ms = kick_times(a.N, a.stim_rate, a.stim_stop, a.dt, rng)
    n_kicks = int(idx.size)
    if n_kicks:
        gen = b2.SpikeGeneratorGroup(a.N, idx, t_ms * ms, name="kicks")
        kick = b2.Synapses(gen, cells, on_pre="v_post += J_stim * int(not_refractory_post)",
                           namespace=consts, name="kick")
        kick.connect(j="i")
        objects += [gen, kick]
    monitor = b2.SpikeMonitor(cells, record=False, name="spikes")
    objects.append(monitor)
    return b2.Network(*objects), exc, inh, monitor, n_kicks


def rounded(d):
    return {k: (float(f"{v:.6g}") if isinstance(v, float) else v) for k, v in d.items()}


def main():
    a = cli()
    p_conn = a.p if a.p is not None else a.indegree / a.N
    report = dict(model="delta", N=a.N, duration_s=a.duration, dt_ms=a.dt, device=a.device,
                  seed=a.seed, p=p_conn, brian2=b2.__version__, delay_ms=a.delay,
                  stim_rate_hz=a.stim_rate, stim_weight_mv=a.stim_weight, stim_stop_ms=a.stim_stop)

    if a.device == "cpp_standalone":
        folder = a.build_dir or tempfile.mkdtemp(prefix="brian2_delta_")
        b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
        if a.threads > 0:
            b2.prefs.devices.cpp_standalone.openmp_threads = a.threads
        report.update(build_dir=folder, threads=a.threads)
    else:
        b2.prefs.codegen.target = a.target
        report["target"] = a.target
    b2.defaultclock.dt = a.dt * ms
    b2.seed(a.seed)

    t_start = time.perf_counter()
    net, exc, inh, monitor, n_kicks = make_network(a, p_conn)
    t_built = time.perf_counter()

    if a.device == "runtime":
        # A zero-length run compiles the code objects and sets up the spike queues, so the
        # second run measures the simulation loop alone.
        net.run(0 * ms)
        t_ready = time.perf_counter()
        net.run(a.duration * second)
        t_done = time.perf_counter()
        report.update(t_construct_s=t_built - t_start, t_prepare_s=t_ready - t_built,
                      t_sim_s=t_done - t_ready, t_build_plus_run_s=t_done - t_start)
    else:
        net.run(a.duration * second)  # only records the run; the program is built below
        t_recorded = time.perf_counter()
        # build() does not reuse set_device's directory (its own default is ./output).
        b2.device.build(directory=report["build_dir"], run=True, compile=True)
        t_done = time.perf_counter()
        timers = b2.device.timers
        t_make = (timers["compile"].get("make") or 0.0) + (timers["compile"].get("clean") or 0.0)
        t_binary = timers.get("run_binary") or 0.0
        # t_main_binary_s: the compiled program as a whole (synapse creation included);
        # t_sim_s: Brian's own timer around the simulation loop inside that program.
        report.update(t_build_plus_run_s=t_done - t_start,
                      t_python_setup_s=t_recorded - t_start,
                      t_codegen_s=(t_done - t_recorded) - t_make - t_binary,
                      t_make_s=t_make, t_main_binary_s=t_binary,
                      t_sim_s=b2.device._last_run_time)

    counts = np.asarray(monitor.count[:], dtype=np.int64)
    sources = np.concatenate([np.asarray(exc.i[:], dtype=np.int64),
                              np.asarray(inh.i[:], dtype=np.int64)])
    out_degree = np.bincount(sources, minlength=a.N)
    spikes = int(counts.sum())
    syn_events = int(np.dot(counts, out_degree))
    n_syn = int(sources.size)
    t_sim = report["t_sim_s"]
    report.update(
        spikes=spikes,
        rate_hz=spikes / (a.N * a.duration) if a.duration > 0 else 0.0,
        synapses=n_syn,
        mean_indegree=n_syn / a.N,
        syn_events=syn_events,
        syn_events_per_s_sim=syn_events / t_sim if t_sim else None,
        syn_events_per_s_total=syn_events / report["t_build_plus_run_s"],
        stim_spikes=n_kicks,
        t_import_s=_T_READY - _T_LAUNCH,
        t_process_s=time.perf_counter() - _T_LAUNCH,
    )
    print(json.dumps(rounded(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
