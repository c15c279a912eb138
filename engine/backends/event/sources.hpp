// The event sources both event-backend loops share (simulator.cpp: the next-reaction queue;
// direct.cpp: Gillespie's direct method): synaptic deliveries waiting in their FIFOs or delay
// heap, stimuli, state samplers, and what a spike does (count, record, send). Q is where the
// populations keep their neurons' next events: the indexed heap, or the direct method's rate tree.
#pragma once
#include <algorithm>
#include <cmath>
#include <queue>
#include <string>
#include <vector>

#include "engine/backends/event/simulator.hpp"
#include "engine/indexed_heap.hpp"
#include "engine/network.hpp"
#include "engine/rng.hpp"
#include "engine/stimulus.hpp"

namespace gs::event_detail {

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

// Everything that makes events besides the neurons themselves. Among equal times, sources win
// in this order: projections, per-synapse delays, stimuli, samplers; neurons come after all of
// them (the loops compare with <=).
template <class Q>
class event_sources {
 public:
  event_sources(network& net, const run_config& cfg, run_result& res, Q& neurons)
      : net_(net), cfg_(cfg), res_(res), neurons_(neurons), n_proj_(static_cast<uint32_t>(net.projections.size())) {
    const auto n_pops = net.populations.size();
    res.spikes_per_population.assign(n_pops, 0);
    recorded_.assign(n_pops, 0);
    for (const auto& name : cfg.spike_populations) recorded_[cfg.population_index(name)] = 1;

    for (size_t i = 0; i < cfg.stimuli.size(); ++i) stimuli_.emplace_back(net, cfg, cfg.stimuli[i], uint32_t(i));
    for (const auto& r : cfg.state_recorders) {
      trace_data tr;
      tr.spec = &r;
      tr.values.resize(r.variables.size());
      res.traces.push_back(std::move(tr));
    }
    var_source_ = n_proj_;
    stim0_ = n_proj_ + 1;
    sampler0_ = stim0_ + uint32_t(stimuli_.size());
    sources_ = indexed_heap(sampler0_ + uint32_t(res.traces.size()));
    fifos_.resize(n_proj_);

    for (size_t i = 0; i < stimuli_.size(); ++i) sources_.set(stim0_ + uint32_t(i), stimuli_[i].first());
    sample_index_.assign(res.traces.size(), 0);
    for (size_t r = 0; r < res.traces.size(); ++r) {
      sources_.set(sampler0_ + uint32_t(r), sample_time(r));
      const auto& spec = *res.traces[r].spec;
      const population_base& pop = *net.populations[cfg.population_index(spec.population)];
      sampled_vars_.emplace_back();
      for (const auto& v : spec.variables) sampled_vars_.back().push_back(pop.state_index(v));
    }
    for (auto& p : net.populations) first_gids_.push_back(p->first_gid);
  }

  double next() const { return sources_.top_key(); }

  // Global id -> (population, local id), for the few lookups per spike.
  uint32_t population_of(uint32_t g) const {
    return static_cast<uint32_t>(std::upper_bound(first_gids_.begin(), first_gids_.end(), g) - first_gids_.begin() - 1);
  }
  uint32_t first_gid(uint32_t pop) const { return first_gids_[pop]; }

  // Counts and records a spike and queues its deliveries.
  void spike(double t, uint32_t pop, uint32_t local) {
    ++res_.spikes_per_population[pop];
    if (recorded_[pop]) {
      res_.record_spike(t, first_gids_[pop] + local);
    }
    for (uint32_t pi : net_.outgoing[pop]) {
      const projection& pr = net_.projections[pi];
      if (pr.row[local] == pr.row[local + 1]) continue;
      if (pr.delays.empty()) {
        if (fifos_[pi].empty()) sources_.set(pi, t + pr.delay);
        fifos_[pi].push(t + pr.delay, local);
      } else {
        delayed_.push({t + pr.delays[pr.row[local]], t, seq_++, pr.row[local], pi, local});
        sources_.set(var_source_, delayed_.top().t);
      }
    }
  }

  // Handles the earliest source event, due at ts = next().
  void handle(double ts) {
    const uint32_t s = sources_.top();
    if (s < n_proj_) {
      auto& q = fifos_[s];
      const auto [t, src] = q.front();
      q.pop();
      sources_.set(s, q.empty() ? no_spike : q.front().first);
      const projection& pr = net_.projections[s];
      deliver_row(pr, t, pr.row[src], pr.row[src + 1]);
    } else if (s == var_source_) {
      const delayed_group g = delayed_.top();
      delayed_.pop();
      const projection& pr = net_.projections[g.proj];
      const uint64_t end = pr.row[g.src + 1];
      uint64_t stop = g.pos + 1;
      while (stop < end && pr.delays[stop] == pr.delays[g.pos]) ++stop;
      if (stop < end) delayed_.push({g.t_spike + pr.delays[stop], g.t_spike, seq_++, stop, g.proj, g.src});
      sources_.set(var_source_, delayed_.empty() ? no_spike : delayed_.top().t);
      deliver_row(pr, g.t, g.pos, stop);
    } else if (s < sampler0_) {
      auto& st = stimuli_[s - stim0_];
      sources_.set(s, st.fire([&](const target_group& g, std::span<const uint32_t> ids, const float* w, double w0) {
        g.pop->deliver(ts, ids, w, w0, g.receptor, neurons_);
      }));
      res_.synaptic_events += st.deliveries_per_event();
    } else {
      const size_t r = s - sampler0_;
      trace_data& tr = res_.traces[r];
      const auto& spec = *tr.spec;
      const population_base& pop = *net_.populations[cfg_.population_index(spec.population)];
      tr.times.push_back(ts);
      for (size_t v = 0; v < spec.variables.size(); ++v)
        for (uint32_t id : spec.ids) tr.values[v].push_back(pop.sample(ts, id, sampled_vars_[r][v]));
      ++sample_index_[r];
      sources_.set(s, sample_time(r));
    }
  }

 private:
  void deliver_row(const projection& pr, double t, uint64_t b, uint64_t e) {
    population_base& tp = *net_.populations[pr.target];
    tp.deliver(t, {pr.targets.data() + b, e - b}, pr.weights.empty() ? nullptr : pr.weights.data() + b, pr.weight,
               pr.receptor, neurons_);
    res_.synaptic_events += e - b;
  }
  double sample_time(size_t r) const {
    const auto& spec = *res_.traces[r].spec;
    const double t = spec.start + static_cast<double>(sample_index_[r]) * spec.interval;
    return t < cfg_.duration ? t : no_spike;
  }

  network& net_;
  const run_config& cfg_;
  run_result& res_;
  Q& neurons_;
  uint32_t n_proj_, var_source_ = 0, stim0_ = 0, sampler0_ = 0;
  std::vector<char> recorded_;
  std::vector<stimulus> stimuli_;
  indexed_heap sources_;
  std::vector<arrival_fifo> fifos_;
  std::priority_queue<delayed_group, std::vector<delayed_group>, std::greater<>> delayed_;
  uint64_t seq_ = 0;
  std::vector<uint64_t> sample_index_;
  std::vector<std::vector<int>> sampled_vars_;  // state-table index of each recorded variable
  std::vector<uint32_t> first_gids_;
};

}  // namespace gs::event_detail
