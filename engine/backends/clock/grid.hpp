// The time grid of the clock-driven backends (clock on the CPU, cuda on a GPU): which step an
// input belongs to, delays in whole steps, and Poisson inputs drawn as per-step counts. Both
// backends use these, so they agree on what a run file means on the grid.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/network.hpp"
#include "engine/stimulus.hpp"
#include "io/config.hpp"
#include "plugins/registry.hpp"

namespace gs {

inline // Inputs at time t belong to the step that ends at or after t: step k covers (k dt, (k+1) dt]
// (-1: at time 0, received before the first step). The tolerance keeps times meant to be on the
// grid (0.3 ms at dt 0.1) on their grid point despite rounding in t / dt.
int64_t step_of(double t, double dt) { return static_cast<int64_t>(std::ceil(t / dt - 1e-9)) - 1; }

// A projection's delays in whole steps: one for all synapses, or one per synapse.
struct delay_steps {
  uint32_t steps = 0;
  std::vector<uint16_t> per_synapse;
  bool drawn = false;  // procedural, delays drawn per synapse: rounded as they are drawn
};

inline uint32_t rounded_delay(const run_config& cfg, const projection& pr, double d) {
  const long long s = std::llround(d / cfg.dt);
  if (s < 1)
    throw config_error(cfg.file, pr.path + ".delay",
                       fmt::format("a delay of {} ms rounds to 0 steps of run.dt = {} ms ({} backend); use delays "
                                   "of at least {} ms or a smaller dt",
                                   d, cfg.dt, cfg.backend, 0.5 * cfg.dt));
  if (s > UINT16_MAX)
    throw config_error(cfg.file, pr.path + ".delay",
                       fmt::format("a delay of {} ms is {} steps of run.dt = {} ms; the {} backend takes at most {}",
                                   d, s, cfg.dt, cfg.backend, UINT16_MAX));
  return static_cast<uint32_t>(s);
}

// Delays in steps, and the longest. Per-synapse delays replace the projection's float delays (the
// event backend's form), which are released: on large networks they are a third of the synapse memory.
inline std::vector<delay_steps> delays_in_steps(network& net, const run_config& cfg, uint32_t& max_delay) {
  std::vector<delay_steps> delays(net.projections.size());
  max_delay = 1;
  for (size_t i = 0; i < net.projections.size(); ++i) {
    projection& pr = net.projections[i];
    if (pr.procedural() && !pr.values.delay.is_constant()) {
      delays[i].drawn = true;
      max_delay = std::max(max_delay, rounded_delay(cfg, pr, pr.values.delay.max_value()));
    } else if (pr.delays.empty()) {
      delays[i].steps = rounded_delay(cfg, pr, pr.delay);
      max_delay = std::max(max_delay, delays[i].steps);
    } else {
      delays[i].per_synapse.resize(pr.delays.size());
      for (size_t s = 0; s < pr.delays.size(); ++s) {
        const uint32_t d = rounded_delay(cfg, pr, pr.delays[s]);
        delays[i].per_synapse[s] = static_cast<uint16_t>(d);
        max_delay = std::max(max_delay, d);
      }
      std::vector<float>().swap(pr.delays);
    }
  }
  return delays;
}

// A stimulus whose inputs are independent Poisson trains, one per target (stimulus_info::
// independent_poisson): instead of its events one by one, each target's count in step k is drawn
// from Poisson(lambda_k), lambda_k the rate's integral over the step, with the target's own
// stream keyed by (seed, stimulus, target), by whichever thread or GPU thread steps the target. The
// same law as the trains binned into steps, drawn in parallel and independent of the thread count.
class counted_stimulus {
 public:
  counted_stimulus(poisson_rates rates, double start, double stop)
      : rates_(std::move(rates)), start_(start), stop_(stop) {}

  bool active() const { return lambda_ > 0; }

  // The expected count per target over (t0, t1] (rates in Hz, times in ms), and its table.
  // Returns whether the table changed.
  bool set_step(double t0, double t1) {
    const double a = std::max(t0, start_), b = std::min(t1, stop_);
    double lambda = 0;
    for (size_t i = 0; i < rates_.times_ms.size() && a < b; ++i) {
      const double lo = std::max(a, rates_.times_ms[i]);
      const double hi = std::min(b, i + 1 < rates_.times_ms.size() ? rates_.times_ms[i + 1] : b);
      if (hi > lo) lambda += rates_.rates_hz[i] * 1e-3 * (hi - lo);
    }
    if (lambda == lambda_) return false;
    tabulate(lambda);
    return true;
  }
  // A count from a uniform u in [0, 1), by inversion of the tabulated distribution function.
  uint32_t count(double u) const {
    size_t j = 0;
    if (cdf_.size() <= 32) {
      while (u >= cdf_[j]) ++j;  // the last entry is 1
    } else {
      j = std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    }
    return first_ + static_cast<uint32_t>(j);
  }

  // The table count() inverts (empty while inactive): count first() + j has P(count <= first + j)
  // = cdf()[j].
  const std::vector<double>& cdf() const { return cdf_; }
  uint32_t first() const { return first_; }

 private:
  // P(count <= first + j) for the counts within 12 standard deviations (and 12) of the mean: the
  // mass left out below is under 1e-30; the last entry is set to 1, folding in the mass above,
  // under 2^-53 or 12 standard deviations out.
  void tabulate(double lambda) {
    lambda_ = lambda;
    cdf_.clear();
    if (lambda <= 0) return;
    const double sd = std::sqrt(lambda), log_lambda = std::log(lambda);
    first_ = static_cast<uint32_t>(std::max(0.0, std::floor(lambda - 12 * sd - 12)));
    double F = 0;
    for (uint32_t k = first_;; ++k) {
      F += std::exp(-lambda + k * log_lambda - std::lgamma(k + 1.0));
      if (F >= 1 - 0x1p-53 || k > lambda + 12 * sd + 12) break;
      cdf_.push_back(F);
    }
    cdf_.push_back(1.0);
  }

  poisson_rates rates_;
  double start_, stop_;
  double lambda_ = 0;
  uint32_t first_ = 0;
  std::vector<double> cdf_;
};

// The run's stimuli on the grid: those whose inputs are independent Poisson trains as per-step
// counts (counted_stimulus), the others event by event, each event's inputs added to the input
// sums of the step it falls in.
class grid_stimuli {
 public:
  // on_target(c, i, j, gid, input_row, weight) for target j of stimulus i, counted stimulus c;
  // input_row is 1 + receptor (0 for a current).
  template <class OnTarget>
  grid_stimuli(network& net, const run_config& cfg, OnTarget&& on_target) : T_(cfg.duration), dt_(cfg.dt) {
    for (size_t i = 0; i < cfg.stimuli.size(); ++i) {
      const stimulus_spec& spec = cfg.stimuli[i];
      if (!spec.independent_poisson) {
        stimuli_.emplace_back(net, cfg, spec, uint32_t(i));
        next_.push_back(stimuli_.back().first());
        continue;
      }
      const auto c = static_cast<uint32_t>(counted_.size());
      counted_.emplace_back(spec.independent_poisson(spec.params), spec.start, std::min(spec.stop, T_));
      uint32_t j = 0;
      for (const target_group& g : targets_of(net, cfg, spec, uint32_t(i)))
        for (size_t n = 0; n < g.ids.size(); ++n, ++j)
          on_target(c, uint32_t(i), j, g.pop->first_gid + g.ids[n], uint32_t(g.receptor + 1),
                    g.weights.empty() ? spec.weight.a : double(g.weights[n]));
    }
  }

  std::vector<counted_stimulus>& counted() { return counted_; }

  // The events up to the end of step k (k = -1: those at time 0): add(gid, input_row, value) for
  // each input. Returns the synaptic events they make.
  template <class Add>
  uint64_t take(int64_t k, Add&& add) {
    uint64_t events = 0;
    for (size_t i = 0; i < stimuli_.size(); ++i) {
      while (next_[i] < T_ && step_of(next_[i], dt_) <= k) {
        next_[i] = stimuli_[i].fire([&](const target_group& g, std::span<const uint32_t> ids, const float* w, double w0) {
          const auto row = uint32_t(g.receptor + 1);
          for (size_t j = 0; j < ids.size(); ++j) add(g.pop->first_gid + ids[j], row, w ? double(w[j]) : w0);
        });
        events += stimuli_[i].deliveries_per_event();
      }
    }
    return events;
  }

 private:
  double T_, dt_;
  std::vector<stimulus> stimuli_;
  std::vector<double> next_;  // each event-driven stimulus's next event time
  std::vector<counted_stimulus> counted_;
};

// The state recorders' samples on the grid: sample j of a recorder (at start + j interval) is the
// state at the nearest grid time m dt, after the step that ends there (m = 0: before the first
// step). Makes one trace_data per recorder in `traces`.
class grid_samples {
 public:
  grid_samples(const run_config& cfg, uint64_t n_steps, std::vector<trace_data>& traces)
      : T_(cfg.duration), dt_(cfg.dt), n_steps_(n_steps), traces_(traces) {
    for (const auto& r : cfg.state_recorders) {
      trace_data tr;
      tr.spec = &r;
      tr.values.resize(r.variables.size());
      traces_.push_back(std::move(tr));
      taken_.push_back(0);
    }
  }
  // For every sample that falls at grid time m: its time is recorded, then take(r) appends the
  // values of recorder r.
  template <class Take>
  void at(uint64_t m, Take&& take) {
    for (size_t r = 0; r < traces_.size(); ++r)
      for (; next(r) <= m; ++taken_[r]) {
        traces_[r].times.push_back(static_cast<double>(m) * dt_);
        take(r);
      }
  }

 private:
  uint64_t next(size_t r) const {  // grid index of recorder r's next sample, or none
    const auto& spec = *traces_[r].spec;
    const double t = spec.start + static_cast<double>(taken_[r]) * spec.interval;
    return t < T_ ? std::min(n_steps_, static_cast<uint64_t>(std::llround(t / dt_))) : UINT64_MAX;
  }
  double T_, dt_;
  uint64_t n_steps_;
  std::vector<trace_data>& traces_;
  std::vector<uint64_t> taken_;
};

}  // namespace gs
