// A small recurrent network (excitatory and inhibitory lif_psc_exp neurons, constant and
// per-synapse delays) against an event loop written here around the independent Dormand-Prince
// reference (tests/support/reference_lif.hpp), using the engine's connectivity and initial
// state. This checks the engine's scheduling as a whole (lower-bound keys, margins, fallbacks,
// summed inputs, delivery queues): a bound that is not one loses or delays a spike here.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <algorithm>
#include <queue>

#include "tests/support/reference_lif.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

std::string ids(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(i);
  return s;
}

// Synaptic deliveries of the reference loops, read off the engine's CSR projections: a spike
// of neuron g at t queues (t + delay, target, weight) for every synapse of g.
struct delivery_queue {
  struct delivery {
    double t;
    uint64_t seq;
    uint32_t target;
    double w;
    bool operator>(const delivery& o) const { return t > o.t || (t == o.t && seq > o.seq); }
  };
  const network& net;
  std::priority_queue<delivery, std::vector<delivery>, std::greater<>> pending;
  uint64_t seq = 0;

  void spike(uint32_t g, double t) {
    const uint32_t pop = net.population_of(g), local = g - net.populations[pop]->first_gid;
    for (uint32_t pi : net.outgoing[pop]) {
      const projection& pr = net.projections[pi];
      for (uint64_t k = pr.row[local]; k < pr.row[local + 1]; ++k)
        pending.push({t + (pr.delays.empty() ? pr.delay : double(pr.delays[k])), seq++,
                      net.populations[pr.target]->first_gid + pr.targets[k], pr.weight});
    }
  }
  double next(double horizon) const { return pending.empty() ? horizon : std::min(horizon, pending.top().t); }
};

// Engine spikes against the reference's (time, neuron) list, in order.
void compare(const run_result& res, const std::vector<std::pair<double, uint32_t>>& expected, double tolerance) {
  CHECK(res.spike_times.size() == expected.size());
  double worst = 0;
  size_t mismatched = 0;
  for (size_t k = 0; k < std::min(res.spike_times.size(), expected.size()); ++k) {
    worst = std::max(worst, std::fabs(res.spike_times[k] - expected[k].first));
    mismatched += res.spike_gids[k] != expected[k].second;
  }
  MESSAGE(fmt::format("{} spikes; largest time difference {:.3g} ms; {} with another neuron", expected.size(), worst,
                      mismatched));
  CHECK(mismatched == 0);
  CHECK(worst <= tolerance);
}

}  // namespace

TEST_CASE("recurrent exponential-current network against an independent event loop") {
  // The CUBA regime (E_L above threshold, balanced excitation and inhibition), scaled down.
  const double T = 300;
  const char* params = R"({"tau_m": 20.0, "C_m": 250.0, "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0,
                          "t_ref": 5.0, "tau_syn_ex": 5.0, "tau_syn_in": 10.0})";
  const auto run = test::simulate_json(fmt::format(R"({{
    "run": {{"duration": {}, "seed": 7}},
    "populations": {{
      "e": {{"size": 96, "model": "lif_psc_exp", "params": {}, "initial": {{"V_m": {{"uniform": [-60.0, -50.0]}}}}}},
      "i": {{"size": 24, "model": "lif_psc_exp", "params": {}, "initial": {{"V_m": {{"uniform": [-60.0, -50.0]}}}}}}}},
    "projections": [
      {{"source": "e", "target": ["e", "i"], "rule": {{"pairwise_bernoulli": {{"p": 0.6}}}}, "weight": 20.25, "delay": 0.1}},
      {{"source": "i", "target": ["e", "i"], "rule": {{"pairwise_bernoulli": {{"p": 0.6}}}}, "weight": -112.5,
        "delay": {{"uniform": [0.5, 1.5]}}}}],
    "recorders": [{{"spikes": {{}}}},
      {{"state": {{"population": "e", "ids": [{}], "variables": ["V_m"], "interval": 10000.0}}}},
      {{"state": {{"population": "i", "ids": [{}], "variables": ["V_m"], "interval": 10000.0}}}}]
  }})", T, params, params, ids(96), ids(24)));
  const network& net = run.net;

  // Initial membrane potentials as drawn by the engine (the samples at t = 0).
  const test::lif_exp_reference ref{20.0, 250.0, -49.0, -50.0, -60.0, 5.0, 5.0, 10.0, 0.0};
  std::vector<test::lif_exp_reference::neuron> n;
  for (const auto& tr : run.res.traces)
    for (double v : tr.values[0]) n.push_back({v});
  REQUIRE(n.size() == 120);

  delivery_queue q{net};
  std::vector<std::pair<double, uint32_t>> expected;
  double t = 0;
  while (t < T) {
    const double t_next = q.next(T);
    // The earliest crossing before the next delivery, if any; without one the trial states
    // are already where the neurons should be.
    double first = t_next;
    uint32_t who = 0;
    std::vector<test::lif_exp_reference::neuron> trial = n;
    for (uint32_t g = 0; g < n.size(); ++g) {
      const double c = ref.advance(trial[g], t, t_next);
      if (c < first) first = c, who = g;
    }
    if (first < t_next) {
      for (auto& x : n) ref.advance(x, t, first);
    } else {
      n = trial;
    }
    t = first;
    if (first < t_next) {
      ref.fire(n[who], t);
      expected.emplace_back(t, who);
      q.spike(who, t);
      continue;
    }
    while (!q.pending.empty() && q.pending.top().t <= t) {
      const auto d = q.pending.top();
      q.pending.pop();
      (d.w >= 0 ? n[d.target].I_ex : n[d.target].I_in) += d.w;
    }
  }

  REQUIRE(expected.size() > 100);
  compare(run.res, expected, 1e-8);
}

namespace {

void delta_network(double p_connect, double w_ex, double w_in) {
  const double T = 500, t_ref = 5;
  static constexpr double tau = 20, E_L = -49, V_th = -50, V_reset = -60;
  const char* params = R"({"tau_m": 20.0, "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 5.0})";
  const auto run = test::simulate_json(fmt::format(R"({{
    "run": {{"duration": {}, "seed": 8}},
    "populations": {{
      "e": {{"size": 320, "model": "lif_psc_delta", "params": {}, "initial": {{"V_m": {{"uniform": [-60.0, -50.0]}}}}}},
      "i": {{"size": 80, "model": "lif_psc_delta", "params": {}, "initial": {{"V_m": {{"uniform": [-60.0, -50.0]}}}}}}}},
    "projections": [
      {{"source": "e", "target": ["e", "i"], "rule": {{"pairwise_bernoulli": {{"p": {}}}}}, "weight": {}, "delay": 0.1}},
      {{"source": "i", "target": ["e", "i"], "rule": {{"pairwise_bernoulli": {{"p": {}}}}}, "weight": {},
        "delay": {{"uniform": [0.1, 1.0]}}}}],
    "recorders": [{{"spikes": {{}}}},
      {{"state": {{"population": "e", "ids": [{}], "variables": ["V_m"], "interval": 10000.0}}}},
      {{"state": {{"population": "i", "ids": [{}], "variables": ["V_m"], "interval": 10000.0}}}}]
  }})", T, params, params, p_connect, w_ex, p_connect, w_in, ids(320), ids(80)));
  const network& net = run.net;

  struct neuron {
    double V, t_last = 0, refractory_until = -1;
    // V at time t >= t_last without input (the textbook solution, held at V_reset while refractory).
    double at(double t) const {
      if (t <= refractory_until) return V_reset;
      const double from = std::max(t_last, refractory_until);
      const double v0 = t_last < refractory_until ? V_reset : V;
      return E_L + (v0 - E_L) * std::exp(-(t - from) / tau);
    }
    double crossing() const {  // E_L > V_th: the relaxation always reaches threshold
      const double from = std::max(t_last, refractory_until);
      const double v0 = t_last < refractory_until ? V_reset : V;
      return from + tau * std::log((E_L - v0) / (E_L - V_th));
    }
  };
  std::vector<neuron> n;
  for (const auto& tr : run.res.traces)
    for (double v : tr.values[0]) n.push_back({v});
  REQUIRE(n.size() == 400);

  delivery_queue q{net};
  std::vector<std::pair<double, uint32_t>> expected;
  auto fire = [&](uint32_t g, double t) {
    expected.emplace_back(t, g);
    n[g].V = V_reset;
    n[g].t_last = t;
    n[g].refractory_until = t + t_ref;
    q.spike(g, t);
  };
  double t = 0;
  while (t < T) {
    const double t_next = q.next(T);
    double first = t_next;
    uint32_t who = 0;
    for (uint32_t g = 0; g < n.size(); ++g)
      if (const double c = n[g].crossing(); c < first) first = c, who = g;
    if (first < t_next) {
      t = first;
      fire(who, t);
      continue;
    }
    t = t_next;
    if (t >= T) break;
    // Every input due now, then the neurons they carried over threshold, by id.
    std::vector<uint32_t> touched;
    while (!q.pending.empty() && q.pending.top().t <= t) {
      const auto d = q.pending.top();
      q.pending.pop();
      neuron& x = n[d.target];
      x.V = x.at(t);
      x.t_last = t;
      if (t >= x.refractory_until) x.V += d.w;  // input during the refractory period is lost
      touched.push_back(d.target);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint32_t g : touched)
      if (t >= n[g].refractory_until && n[g].V >= V_th) fire(g, t);
  }

  REQUIRE(expected.size() > 1000);
  compare(run.res, expected, 1e-9);
}

}  // namespace

TEST_CASE("recurrent delta-synapse network against an independent event loop") {
  // Benchmark 4's regime (E_L above threshold, jumps of 0.25 and -2.25 mV), scaled down.
  delta_network(0.2, 0.25, -2.25);
  // Many small jumps: inputs then fit the margins near threshold, where exact keys fall back.
  delta_network(0.5, 0.04, -0.36);
}
