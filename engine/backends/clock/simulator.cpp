#include "engine/backends/clock/simulator.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "engine/backends/clock/grid.hpp"

namespace gs {

namespace {

// Neurons per block: the unit of parallel work and of spike buffers. Fixed (not derived from
// the thread count) so the work split never shows in the results; 256 neurons are some
// microseconds of work, well above the cost of a task.
constexpr uint32_t block_size = 256;

struct block {
  population_base* pop;
  uint32_t pop_index, begin, end;  // local ids [begin, end)
  uint32_t count = 0;              // spikes of the present step, at spiked[first_gid + begin]
};

// One target of a counted stimulus, kept by the range that holds it, with its own stream: one
// draw per step, in step order, whichever thread runs the range.
struct counted_target {
  uint32_t stimulus;  // index into the counted stimuli
  size_t sum;         // its input sum: gid * stride + 1 + receptor
  double weight;
  sequential_stream rng;
};

// A range of target neurons (global ids [begin, end), whole blocks [first_block, last_block)):
// the unit of parallel work. Its task delivers the previous step's spikes to its own neurons
// only, then updates them; every input sum still adds up in spike order, so the split into
// ranges (which follows the thread count) never shows in the results.
struct target_range {
  uint32_t begin = 0, end = 0;
  size_t first_block = 0, last_block = 0;
  // Per projection: the population-local target ids [lo, hi) inside the range, and whether
  // that is the whole target population (rows then need no search).
  struct part {
    uint32_t lo, hi;
    bool whole;
  };
  std::vector<part> parts;
  uint64_t deliveries = 0;  // synaptic events delivered into the range
  std::vector<counted_target> counted;  // by stimulus, then target
  // Room for one chunk of a procedural projection (no allocation inside the step loop).
  std::vector<uint32_t> chunk_targets;
  std::vector<float> chunk_weights, chunk_delays;
};

// Rows ordered by target id, so a range's part of a row is one contiguous run (found by binary
// search). The rules emit most rows in that order already; others (per-synapse delays, which
// the event backend keeps sorted by delay) are reordered here, weights and delays alongside.
void sort_rows_by_target(projection& pr, std::vector<uint16_t>& delays) {
  std::vector<uint64_t> keys;
  for (size_t r = 0; r + 1 < pr.row.size(); ++r) {
    const uint64_t b = pr.row[r], e = pr.row[r + 1];
    if (std::is_sorted(pr.targets.begin() + b, pr.targets.begin() + e)) continue;
    sort_synapses(b, e, keys, [&](uint64_t s) { return pr.targets[s]; }, pr.targets, pr.weights, delays);
  }
}

}  // namespace

run_result simulate_clock(network& net, const run_config& cfg, const progress_fn& progress, spike_sink* sink,
                          const step_observer& observer) {
  if (cfg.method == "direct")  // load_config says so first; this guards direct callers
    throw config_error(cfg.file, "run.method", "the direct method belongs to the event backend");
  run_result res;
  res.sink = sink;
  const double dt = cfg.dt, T = cfg.duration;
  // Whole steps that fit in the duration (NEST asks for a multiple of the step): the last ends at
  // or before T, so spike times stay in (0, T].
  const uint64_t n_steps = static_cast<uint64_t>(std::floor(T / dt + 1e-9));
  const uint32_t N = net.neurons;
  const size_t n_pops = net.populations.size();

  // Worker threads: run.threads, or all cores. global_control caps every arena while it lives.
  std::optional<tbb::global_control> threads;
  if (cfg.threads > 0) threads.emplace(tbb::global_control::max_allowed_parallelism, cfg.threads);
  res.threads = static_cast<unsigned>(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));

  // Input sums per neuron: DC, then one per receptor of the widest model.
  uint32_t stride = 1;
  for (const auto& p : net.populations) stride = std::max<uint32_t>(stride, 1 + p->receptor_count());

  uint32_t max_delay = 1;
  std::vector<delay_steps> delays = delays_in_steps(net, cfg, max_delay);
  tbb::parallel_for(size_t(0), net.projections.size(),
                    [&](size_t i) { sort_rows_by_target(net.projections[i], delays[i].per_synapse); });
  // Ring of input sums: the slot of step k is read (and cleared) by step k; a spike at the end
  // of step k with a delay of D steps arrives at (k + 1 + D) dt, which is step k + D.
  const uint64_t ring_len = uint64_t(max_delay) + 1;
  const size_t slot_size = size_t(N) * stride;
  std::vector<double> ring(ring_len * slot_size, 0.0);
  auto slot = [&](uint64_t k) { return ring.data() + (k % ring_len) * slot_size; };

  std::vector<block> blocks;
  for (uint32_t pi = 0; pi < n_pops; ++pi) {
    population_base* p = net.populations[pi].get();
    for (uint32_t b = 0; b < p->size; b += block_size) blocks.push_back({p, pi, b, std::min(p->size, b + block_size)});
  }
  std::vector<uint32_t> spiked(N);  // block b writes its local ids at first_gid + begin

  // Ranges of whole blocks with about equal numbers of neurons, one per thread: each range
  // searches every spike's rows for its part, so more ranges cost more (COBA, 4000 neurons, 2
  // threads: 1.10 s per 4 s with 2 ranges, 1.17 s with 8, medians of 3 on a noisy machine).
  const bool serial = blocks.size() < 2 || res.threads < 2;
  const size_t n_ranges = serial ? 1 : std::min<size_t>(blocks.size(), res.threads);
  std::vector<target_range> ranges;
  auto block_end = [&](size_t b) { return blocks[b].pop->first_gid + blocks[b].end; };
  for (size_t b = 0, r = 0; b < blocks.size(); ++r) {
    const uint64_t goal = uint64_t(N) * (r + 1) / n_ranges;  // neurons before the range's end
    target_range tr;
    tr.begin = blocks[b].pop->first_gid + blocks[b].begin;
    tr.first_block = b;
    do tr.end = block_end(b++);
    while (b < blocks.size() && (r + 1 == n_ranges || block_end(b) <= goal));
    tr.last_block = b;
    for (const projection& pr : net.projections) {
      const population_base& tp = *net.populations[pr.target];
      const uint32_t lo = std::clamp(tr.begin, tp.first_gid, tp.first_gid + tp.size) - tp.first_gid;
      const uint32_t hi = std::clamp(tr.end, tp.first_gid, tp.first_gid + tp.size) - tp.first_gid;
      tr.parts.push_back({lo, hi, lo == 0 && hi == tp.size});
    }
    tr.chunk_targets.resize(procedural_chunk);
    tr.chunk_weights.resize(procedural_chunk);
    tr.chunk_delays.resize(procedural_chunk);
    ranges.push_back(std::move(tr));
  }
  // The spikes of the step before, as (population, local id), in gid order.
  struct spike_ref {
    uint32_t pop, local;
  };
  std::vector<spike_ref> fired;
  fired.reserve(N);
  std::vector<uint32_t> fired_gids;  // the same spikes as global ids, for the observer only

  res.spikes_per_population.assign(n_pops, 0);
  std::vector<char> recorded(n_pops, 0);
  for (const auto& name : cfg.spike_populations) recorded[cfg.population_index(name)] = 1;

  grid_stimuli stimuli(net, cfg, [&](uint32_t c, uint32_t i, uint32_t j, uint32_t gid, uint32_t row, double w) {
    auto in = std::upper_bound(ranges.begin(), ranges.end(), gid,
                               [](uint32_t x, const target_range& r) { return x < r.begin; });
    std::prev(in)->counted.push_back(
        {c, size_t(gid) * stride + row, w, sequential_stream(cfg.seed, rng_purpose::clock_poisson, i, j)});
  });
  std::vector<counted_stimulus>& counted = stimuli.counted();
  // Stimulus events up to the end of step k (all of them at time 0 for k = -1) into `sums`.
  auto take_stimuli = [&](int64_t k, double* sums) {
    res.synaptic_events +=
        stimuli.take(k, [&](uint32_t gid, uint32_t row, double w) { sums[size_t(gid) * stride + row] += w; });
  };

  // State recorders read the host state after the step.
  grid_samples samples(cfg, n_steps, res.traces);
  std::vector<std::pair<population_base*, std::vector<int>>> sampled;  // per recorder: population, variables
  for (const auto& r : cfg.state_recorders) {
    population_base* pop = net.populations[cfg.population_index(r.population)].get();
    std::vector<int> vars;
    for (const auto& v : r.variables) vars.push_back(pop->state_index(v));
    sampled.emplace_back(pop, std::move(vars));
  }
  auto take_samples = [&](uint64_t m) {
    samples.at(m, [&](size_t r) {
      const auto& [pop, vars] = sampled[r];
      trace_data& tr = res.traces[r];
      for (size_t v = 0; v < vars.size(); ++v)
        for (uint32_t id : tr.spec->ids) tr.values[v].push_back(pop->value(id, vars[v]));
    });
  };

  take_stimuli(-1, slot(0));
  for (auto& p : net.populations) {
    p->prepare_steps(dt);
    p->receive_inputs(0, p->size, slot(0) + size_t(p->first_gid) * stride, stride);
  }
  take_samples(0);

  // The previous step's spikes (step k - 1) into the range's own input sums, delay D to the
  // slot of step k - 1 + D (D >= 1: step k or later).
  // A procedural projection's synapses are drawn again, chunk by chunk: a range holds whole
  // blocks, and a block whole chunks, so each chunk is drawn by one range only.
  static_assert(block_size % procedural_chunk == 0);
  auto deliver_procedural = [&](target_range& tr, const projection& pr, const delay_steps& ds,
                                const target_range::part& part, uint32_t source, uint64_t k) {
    const size_t offset = size_t(net.populations[pr.target]->first_gid) * stride + size_t(pr.receptor + 1);
    const bool own_weights = !pr.values.weight.is_constant();
    for (uint32_t c = part.lo / procedural_chunk; c * procedural_chunk < part.hi; ++c) {
      const uint32_t n =
          regenerate(pr, source, c, tr.chunk_targets.data(), tr.chunk_weights.data(), tr.chunk_delays.data());
      for (uint32_t j = 0; j < n; ++j) {
        const uint64_t d = ds.drawn ? uint64_t(std::llround(tr.chunk_delays[j] / dt)) : ds.steps;
        slot(k - 1 + d)[offset + size_t(tr.chunk_targets[j]) * stride] += own_weights ? double(tr.chunk_weights[j]) : pr.weight;
      }
      tr.deliveries += n;
    }
  };
  auto deliver = [&](target_range& tr, uint64_t k) {
    for (const spike_ref& sp : fired) {
      for (uint32_t pi : net.outgoing[sp.pop]) {
        const projection& pr = net.projections[pi];
        const target_range::part& part = tr.parts[pi];
        if (part.lo == part.hi) continue;
        if (pr.procedural()) {
          deliver_procedural(tr, pr, delays[pi], part, sp.local, k);
          continue;
        }
        const uint32_t* tg = pr.targets.data();
        uint64_t b = pr.row[sp.local], e = pr.row[sp.local + 1];
        if (!part.whole) {
          b = std::lower_bound(tg + b, tg + e, part.lo) - tg;
          e = std::lower_bound(tg + b, tg + e, part.hi) - tg;
        }
        if (b == e) continue;
        tr.deliveries += e - b;
        const size_t offset = size_t(net.populations[pr.target]->first_gid) * stride + size_t(pr.receptor + 1);
        const float* w = pr.weights.empty() ? nullptr : pr.weights.data();
        const delay_steps& ds = delays[pi];
        if (ds.per_synapse.empty()) {
          double* dst = slot(k - 1 + ds.steps) + offset;
          if (w) {
            for (uint64_t s = b; s < e; ++s) dst[size_t(tg[s]) * stride] += double(w[s]);
          } else {
            for (uint64_t s = b; s < e; ++s) dst[size_t(tg[s]) * stride] += pr.weight;
          }
        } else {
          const uint16_t* d = ds.per_synapse.data();
          for (uint64_t s = b; s < e; ++s)
            slot(k - 1 + d[s])[offset + size_t(tg[s]) * stride] += w ? double(w[s]) : pr.weight;
        }
      }
    }
  };
  auto step_range = [&](target_range& tr, uint64_t k, double* sums) {
    if (k > 0) deliver(tr, k);
    for (counted_target& ct : tr.counted) {
      const counted_stimulus& cs = counted[ct.stimulus];
      if (!cs.active()) continue;
      const uint32_t n = cs.count(ct.rng.uniform());
      if (n == 0) continue;
      sums[ct.sum] += n * ct.weight;
      tr.deliveries += n;
    }
    for (size_t b = tr.first_block; b < tr.last_block; ++b) {
      block& bl = blocks[b];
      const uint32_t first = bl.pop->first_gid;
      bl.count = bl.pop->step(bl.begin, bl.end, k, dt, sums + size_t(first) * stride, stride,
                              spiked.data() + first + bl.begin);
    }
  };
  // One task per range, taken by whichever thread is free: on a shared machine a worker that is
  // descheduled does not hold up the step. Which thread runs a range never matters.
  tbb::simple_partitioner partition;

  for (uint64_t k = 0; k < n_steps; ++k) {
    double* sums = slot(k);
    take_stimuli(static_cast<int64_t>(k), sums);
    for (counted_stimulus& cs : counted) cs.set_step(double(k) * dt, double(k + 1) * dt);
    if (serial) {
      step_range(ranges[0], k, sums);
    } else {
      tbb::parallel_for(
          tbb::blocked_range<size_t>(0, ranges.size(), 1),
          [&](const tbb::blocked_range<size_t>& r) {
            for (size_t i = r.begin(); i != r.end(); ++i) step_range(ranges[i], k, sums);
          },
          partition);
    }

    // This step's spikes, in gid order: recorded, counted, and kept for the next step's delivery.
    const double t = static_cast<double>(k + 1) * dt;
    fired.clear();
    for (const block& bl : blocks) {
      const uint32_t first = bl.pop->first_gid;
      const uint32_t* ids = spiked.data() + first + bl.begin;
      for (uint32_t n = 0; n < bl.count; ++n) {
        const uint32_t local = ids[n];
        fired.push_back({bl.pop_index, local});
        ++res.spikes_per_population[bl.pop_index];
        if (recorded[bl.pop_index]) {
          res.record_spike(t, first + local);
        }
      }
    }
    take_samples(k + 1);
    if (observer) {
      fired_gids.clear();
      for (const spike_ref& sp : fired) fired_gids.push_back(net.populations[sp.pop]->first_gid + sp.local);
      observer(k, fired_gids);
    }
    if (progress && (k & 1023) == 1023) progress(t);
  }
  res.events = n_steps * N;
  for (const target_range& tr : ranges) res.synaptic_events += tr.deliveries;  // the last step's spikes arrive after T
  res.pass_spikes();
  return res;
}

}  // namespace gs
