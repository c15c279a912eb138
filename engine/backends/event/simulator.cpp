#include "engine/backends/event/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <queue>

#include "engine/indexed_heap.hpp"
#include "engine/rng.hpp"

namespace gs {

namespace {

// Arrivals through a constant-delay projection come out in the order spikes went in.
class arrival_fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  const std::pair<double, uint32_t>& front() const { return items_[head_]; }
  void pop() {
    if (++head_ == items_.size()) items_.clear(), head_ = 0;
    else if (head_ > 4096 && head_ * 2 > items_.size()) {  // compact now and then
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void push(double t, uint32_t src) { items_.emplace_back(t, src); }

 private:
  std::vector<std::pair<double, uint32_t>> items_;
  size_t head_ = 0;
};

// Per-synapse delays: one entry per (spike, group of equal delay); `seq` orders equal times.
struct delayed_group {
  double t, t_spike;
  uint64_t seq, pos;
  uint32_t proj, src;
  bool operator>(const delayed_group& o) const { return t > o.t || (t == o.t && seq > o.seq); }
};

// The neurons a stimulus drives, grouped by population so one call delivers to each group,
// with their own weights (DC amplitudes) when those are drawn from a distribution.
struct target_group {
  population_base* pop;
  std::vector<uint32_t> ids;
  int receptor;
  std::vector<float> weights, negated;  // negated: a DC step's end
};

std::vector<target_group> targets_of(network& net, const run_config& cfg, const stimulus_spec& s, uint32_t index) {
  std::vector<target_group> out;
  const value_spec& weight = s.kind == stimulus_spec::dc ? s.amplitude : s.weight;
  rng_stream wrng(cfg.seed, rng_purpose::stimulus, index, 1);
  for (const auto& name : s.targets) {
    population_base* pop = net.populations[cfg.population_index(name)].get();
    target_group g{pop, s.ids, dc_receptor, {}, {}};
    if (g.ids.empty()) {
      g.ids.resize(pop->size);
      for (uint32_t i = 0; i < pop->size; ++i) g.ids[i] = i;
    }
    if (!weight.is_constant()) {
      for (size_t k = 0; k < g.ids.size(); ++k) {
        g.weights.push_back(static_cast<float>(weight.draw(wrng)));
        g.negated.push_back(-g.weights.back());
      }
    }
    if (s.kind != stimulus_spec::dc) {
      const std::string rec = !s.receptor.empty() ? s.receptor : weight.a >= 0 ? "excitatory" : "inhibitory";
      g.receptor = pop->receptor_index(rec);
      if (g.receptor < 0)
        throw config_error(cfg.file, s.path, "population \"" + name + "\" has no receptor \"" + rec + "\"");
    }
    out.push_back(std::move(g));
  }
  return out;
}

// A stimulus as a stream of events in time.
class stimulus {
 public:
  stimulus(network& net, const run_config& cfg, const stimulus_spec& s, uint32_t index)
      : spec_(s), groups_(targets_of(net, cfg, s, index)), rng_(cfg.seed, rng_purpose::stimulus, index),
        end_(std::min(s.stop, cfg.duration)) {
    for (const auto& g : groups_) n_targets_ += g.ids.size();
  }

  // First event time (call once).
  double first() { return spec_.kind == stimulus_spec::poisson ? next_poisson(spec_.start) : spec_.kind == stimulus_spec::dc ? spec_.start : next_playback(); }

  // Handles the event due at t and returns the time of the next one.
  double fire(double t, indexed_heap& queue) {
    switch (spec_.kind) {
      case stimulus_spec::poisson: {
        uint64_t k = pending_target_;
        for (auto& g : groups_) {
          if (k < g.ids.size()) {
            g.pop->deliver(t, {&g.ids[k], 1}, g.weights.empty() ? nullptr : &g.weights[k], spec_.weight.a,
                           g.receptor, queue);
            break;
          }
          k -= g.ids.size();
        }
        return next_poisson(t);
      }
      case stimulus_spec::dc: {
        const bool on = !dc_on_;
        dc_on_ = on;
        for (auto& g : groups_) {
          const float* w = g.weights.empty() ? nullptr : on ? g.weights.data() : g.negated.data();
          g.pop->deliver(t, g.ids, w, on ? spec_.amplitude.a : -spec_.amplitude.a, dc_receptor, queue);
        }
        return on ? spec_.stop : no_spike;
      }
      case stimulus_spec::spike_generator:
        for (auto& g : groups_)
          g.pop->deliver(t, g.ids, g.weights.empty() ? nullptr : g.weights.data(), spec_.weight.a, g.receptor, queue);
        ++next_spike_;
        return next_playback();
    }
    return no_spike;
  }
  uint64_t deliveries_per_event() const { return spec_.kind == stimulus_spec::poisson ? 1 : n_targets_; }

 private:
  // Independent Poisson trains per target are one train of n times the rate with uniformly
  // drawn targets; a rate change restarts the draw at the change (the process is memoryless).
  double next_poisson(double t) {
    const auto& times = spec_.rate_times;
    while (t < end_) {
      const size_t k = std::upper_bound(times.begin(), times.end(), t) - times.begin();
      const double seg_end = std::min(k < times.size() ? times[k] : no_spike, end_);
      const double rate = k == 0 ? 0.0 : spec_.rates[k - 1] * 1e-3 * static_cast<double>(n_targets_);  // per ms
      if (rate > 0) {
        const double cand = t + rng_.exponential(rate);
        if (cand < seg_end) {
          pending_target_ = rng_.below(n_targets_);
          return cand;
        }
      }
      t = seg_end;
    }
    return no_spike;
  }
  double next_playback() {
    if (next_spike_ >= spec_.spike_times.size()) return no_spike;
    return spec_.spike_times[next_spike_];
  }

  const stimulus_spec& spec_;
  std::vector<target_group> groups_;
  rng_stream rng_;
  double end_;
  uint64_t n_targets_ = 0, pending_target_ = 0;
  size_t next_spike_ = 0;
  bool dc_on_ = false;
};

}  // namespace

run_result simulate_event(network& net, const run_config& cfg, const progress_fn& progress) {
  run_result res;
  const double T = cfg.duration;
  const auto n_proj = static_cast<uint32_t>(net.projections.size());
  const auto n_pops = net.populations.size();
  res.spikes_per_population.assign(n_pops, 0);

  std::vector<char> recorded(n_pops, 0);
  for (const auto& name : cfg.spike_populations) recorded[cfg.population_index(name)] = 1;

  std::vector<stimulus> stimuli;
  for (size_t i = 0; i < cfg.stimuli.size(); ++i) stimuli.emplace_back(net, cfg, cfg.stimuli[i], uint32_t(i));
  for (const auto& r : cfg.state_recorders) {
    trace_data tr;
    tr.spec = &r;
    tr.values.resize(r.variables.size());
    res.traces.push_back(std::move(tr));
  }

  // Event sources other than neurons, in the order they win ties: projections, per-synapse
  // delays, stimuli, samplers. Neuron crossings come after all of them at equal times.
  const uint32_t var_source = n_proj, stim0 = n_proj + 1, sampler0 = stim0 + uint32_t(stimuli.size());
  indexed_heap sources(sampler0 + uint32_t(res.traces.size()));
  std::vector<arrival_fifo> fifos(n_proj);
  std::priority_queue<delayed_group, std::vector<delayed_group>, std::greater<>> delayed;
  uint64_t seq = 0;

  for (size_t i = 0; i < stimuli.size(); ++i) sources.set(stim0 + uint32_t(i), stimuli[i].first());
  std::vector<uint64_t> sample_index(res.traces.size(), 0);
  auto sample_time = [&](size_t r) {
    const auto& spec = *res.traces[r].spec;
    const double t = spec.start + static_cast<double>(sample_index[r]) * spec.interval;
    return t < T ? t : no_spike;
  };
  std::vector<std::vector<int>> sampled_vars;  // state-table index of each recorded variable
  for (size_t r = 0; r < res.traces.size(); ++r) {
    sources.set(sampler0 + uint32_t(r), sample_time(r));
    const auto& spec = *res.traces[r].spec;
    const population_base& pop = *net.populations[cfg.population_index(spec.population)];
    sampled_vars.emplace_back();
    for (const auto& v : spec.variables) sampled_vars.back().push_back(pop.state_index(v));
  }

  indexed_heap neurons(net.neurons);
  for (auto& p : net.populations) p->schedule_all(neurons);

  // Global id -> population, for the few lookups per spike.
  std::vector<uint32_t> first_gids;
  for (auto& p : net.populations) first_gids.push_back(p->first_gid);

  auto deliver_row = [&](const projection& pr, double t, uint64_t b, uint64_t e) {
    population_base& tp = *net.populations[pr.target];
    tp.deliver(t, {pr.targets.data() + b, e - b}, pr.weights.empty() ? nullptr : pr.weights.data() + b, pr.weight,
               pr.receptor, neurons);
    res.synaptic_events += e - b;
  };

  auto on_spike = [&](double t, uint32_t pop, uint32_t local) {
    ++res.spikes_per_population[pop];
    if (recorded[pop]) {
      res.spike_times.push_back(t);
      res.spike_gids.push_back(first_gids[pop] + local);
    }
    for (uint32_t pi : net.outgoing[pop]) {
      const projection& pr = net.projections[pi];
      if (pr.row[local] == pr.row[local + 1]) continue;
      if (pr.delays.empty()) {
        if (fifos[pi].empty()) sources.set(pi, t + pr.delay);
        fifos[pi].push(t + pr.delay, local);
      } else {
        delayed.push({t + pr.delays[pr.row[local]], t, seq++, pr.row[local], pi, local});
        sources.set(var_source, delayed.top().t);
      }
    }
  };

  uint64_t until_progress = 1 << 16;
  for (;;) {
    const double tn = neurons.top_key(), ts = sources.top_key();
    if (--until_progress == 0) {
      until_progress = 1 << 16;
      if (progress) progress(std::min(tn, ts));
    }
    ++res.events;
    if (ts <= tn) {
      if (ts >= T) break;
      const uint32_t s = sources.top();
      if (s < n_proj) {
        auto& q = fifos[s];
        const auto [t, src] = q.front();
        q.pop();
        sources.set(s, q.empty() ? no_spike : q.front().first);
        const projection& pr = net.projections[s];
        deliver_row(pr, t, pr.row[src], pr.row[src + 1]);
      } else if (s == var_source) {
        const delayed_group g = delayed.top();
        delayed.pop();
        const projection& pr = net.projections[g.proj];
        const uint64_t end = pr.row[g.src + 1];
        uint64_t stop = g.pos + 1;
        while (stop < end && pr.delays[stop] == pr.delays[g.pos]) ++stop;
        if (stop < end) delayed.push({g.t_spike + pr.delays[stop], g.t_spike, seq++, stop, g.proj, g.src});
        sources.set(var_source, delayed.empty() ? no_spike : delayed.top().t);
        deliver_row(pr, g.t, g.pos, stop);
      } else if (s < sampler0) {
        auto& st = stimuli[s - stim0];
        res.synaptic_events += st.deliveries_per_event();
        sources.set(s, st.fire(ts, neurons));
      } else {
        const size_t r = s - sampler0;
        trace_data& tr = res.traces[r];
        const auto& spec = *tr.spec;
        const population_base& pop = *net.populations[cfg.population_index(spec.population)];
        tr.times.push_back(ts);
        for (size_t v = 0; v < spec.variables.size(); ++v)
          for (uint32_t id : spec.ids) tr.values[v].push_back(pop.sample(ts, id, sampled_vars[r][v]));
        ++sample_index[r];
        sources.set(s, sample_time(r));
      }
    } else {
      if (tn >= T) break;
      const uint32_t g = neurons.top();
      const uint32_t pop = static_cast<uint32_t>(std::upper_bound(first_gids.begin(), first_gids.end(), g) - first_gids.begin() - 1);
      const uint32_t local = g - first_gids[pop];
      if (net.populations[pop]->on_due(tn, local, neurons)) on_spike(tn, pop, local);
    }
  }
  --res.events;  // the last pass only found the end
  return res;
}

}  // namespace gs
