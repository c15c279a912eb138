#include "learning/predictor/true_hawkes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "models/hawkes.hpp"

namespace gs::predictor {

namespace fs = std::filesystem;

hawkes_network_truth hawkes_network_truth::from_run(const fs::path& run_file,
                                                    const std::vector<population_range>& vocabulary) {
  registry& reg = default_registry();
  const run_config cfg = load_config(run_file, {}, reg);
  const std::string name = run_file.string();
  auto refuse = [&](const std::string& why) {
    return data_error(fmt::format("{}: --true-run needs a network of hawkes_linear neurons whose spikes are all its "
                                  "inputs: {}",
                                  name, why));
  };
  if (cfg.backend != "event")
    throw refuse(fmt::format("run.backend is \"{}\" (the clock backend's Hawkes neurons are a discrete-time "
                             "approximation; expected \"event\")",
                             cfg.backend));
  if (!cfg.stimuli.empty()) throw refuse(fmt::format("it has {} stimuli, which the recording does not show", cfg.stimuli.size()));
  hawkes_network_truth truth;
  std::vector<hawkes_linear::params> params;
  for (const auto& spec : cfg.populations) {
    if (spec.model != std::string(hawkes_linear::name))
      throw refuse(fmt::format("population \"{}\" has model {}", spec.name, spec.model));
    hawkes_linear::params p;
    for (const auto& nv : spec.params) {
      if (!nv.value.is_constant()) throw refuse(fmt::format("{} is drawn per neuron, not a constant", nv.path));
      if (nv.name == "mu") p.mu = nv.value.a;
      if (nv.name == "tau") p.tau = nv.value.a;
    }
    params.push_back(p);
    truth.tau_ms.push_back(p.tau);
  }
  const network net = build_network(cfg, reg);
  truth.seed = cfg.seed;
  truth.mu_per_ms.resize(net.neurons);
  truth.population_of.resize(net.neurons);
  truth.out.resize(net.neurons);
  for (std::size_t P = 0; P < net.populations.size(); ++P) {
    const auto& pop = *net.populations[P];
    for (uint32_t k = 0; k < pop.size; ++k) {
      truth.mu_per_ms[pop.first_gid + k] = params[P].mu * 1e-3;
      truth.population_of[pop.first_gid + k] = int(P);
    }
  }
  for (const auto& pr : net.projections) {
    if (pr.procedural()) throw refuse(fmt::format("{} is procedural (its synapses are not stored)", pr.path));
    const auto& src = *net.populations[pr.source];
    const auto& tgt = *net.populations[pr.target];
    for (uint32_t s = 0; s < src.size; ++s)
      for (uint64_t e = pr.row[s]; e < pr.row[s + 1]; ++e) {
        const double w = pr.weights.empty() ? pr.weight : pr.weights[e];
        const double d = pr.delays.empty() ? pr.delay : pr.delays[e];
        if (w < 0) throw refuse(fmt::format("{} has a negative weight ({})", pr.path, w));
        // hawkes_linear: an input of weight w adds w * 1e3 / tau Hz, decaying with tau.
        truth.out[src.first_gid + s].push_back({int(tgt.first_gid + pr.targets[e]), d, w / params[pr.target].tau});
        ++truth.synapses;
      }
  }
  // Tokens: a phy recording numbers neurons by global id; a SONATA one by population and node id.
  for (const auto& r : vocabulary) {
    int first = 0, size = int(net.neurons);
    if (r.name != "phy") {
      const auto it = std::find_if(net.populations.begin(), net.populations.end(),
                                   [&](const auto& p) { return p->name == r.name; });
      if (it == net.populations.end()) throw refuse(fmt::format("the recording's population \"{}\" is not in it", r.name));
      first = int((*it)->first_gid);
      size = int((*it)->size);
    }
    if (r.size > size)
      throw refuse(fmt::format("the recording has node ids up to {} in \"{}\", which has {} neurons there", r.size - 1,
                               r.name, size));
    for (int k = 0; k < r.size; ++k) truth.neuron_of_token.push_back(first + k);
  }
  return truth;
}

namespace {

struct arrival {
  double t;
  int target;
  double jump;
  bool operator>(const arrival& o) const { return t > o.t; }
};

}  // namespace

std::vector<event_score> hawkes_network_truth::score(const spike_train& train, std::size_t first,
                                                     std::size_t end) const {
  first = std::max<std::size_t>(first, 2);
  end = std::min(end, train.size());
  const std::size_t N = mu_per_ms.size(), P = tau_ms.size();
  const double M = std::accumulate(mu_per_ms.begin(), mu_per_ms.end(), 0.0);
  // h[n] (per ms) is neuron n's kernel term as of h_time[n]; H[P] is the sum of h over population P
  // as of `now`. Between arrivals every term decays with its population's tau.
  std::vector<double> h(N, 0.0), h_time(N, 0.0), H(P, 0.0);
  std::vector<arrival> pending;  // a min-heap on time
  double now = 0;
  auto segment = [&](double t) {
    const double dt = t - now;
    double c = M * dt;
    for (std::size_t p = 0; p < P; ++p) {
      c += H[p] * tau_ms[p] * -std::expm1(-dt / tau_ms[p]);
      H[p] *= std::exp(-dt / tau_ms[p]);
    }
    now = t;
    return c;
  };
  auto kernel = [&](std::size_t n) { return h[n] * std::exp(-(now - h_time[n]) / tau_ms[std::size_t(population_of[n])]); };
  // The compensator from now to t; arrivals at t itself come after the intensity at t, which is
  // left-continuous (it may only depend on what happened before).
  auto advance = [&](double t) {
    double c = 0;
    while (!pending.empty() && pending.front().t < t) {
      const arrival a = pending.front();
      std::pop_heap(pending.begin(), pending.end(), std::greater<>());
      pending.pop_back();
      c += segment(a.t);
      const auto n = std::size_t(a.target);
      h[n] = kernel(n) + a.jump;
      h_time[n] = now;
      H[std::size_t(population_of[n])] += a.jump;
    }
    return c + segment(t);
  };
  // E[interval] from the state at `now`: the integral of the survival exp(-C(x)), C the
  // compensator if nothing fires, by Simpson's rule in log x (as hawkes_baseline::score).
  auto mean_interval = [&] {
    std::vector<arrival> ahead = pending;
    std::sort(ahead.begin(), ahead.end(), [](const arrival& a, const arrival& b) { return a.t < b.t; });
    double top = M;
    for (std::size_t p = 0; p < P; ++p) top += H[p];
    for (const auto& a : ahead) top += a.jump;
    const double tau_min = *std::min_element(tau_ms.begin(), tau_ms.end());
    const double lo = 1e-6 / (top + 1 / tau_min), hi = 50 / std::max(M, 1e-12);
    const int steps = 600;
    const double step = std::log(hi / lo) / steps;
    // Arrivals reached so far, per population: sums of J and of J exp((a - now) / tau).
    std::vector<double> s1(P, 0.0), s2(P, 0.0);
    std::size_t next = 0;
    double sum = 0;
    for (int k = 0; k <= steps; ++k) {
      const double x = lo * std::exp(step * k);
      for (; next < ahead.size() && ahead[next].t - now <= x; ++next) {
        const auto p = std::size_t(population_of[std::size_t(ahead[next].target)]);
        s1[p] += ahead[next].jump;
        s2[p] += ahead[next].jump * std::exp((ahead[next].t - now) / tau_ms[p]);
      }
      double c = M * x;
      for (std::size_t p = 0; p < P; ++p) {
        const double e = std::exp(-x / tau_ms[p]);
        c += tau_ms[p] * (H[p] * (1 - e) + s1[p] - e * s2[p]);
      }
      sum += (k == 0 || k == steps ? 1 : k % 2 ? 4 : 2) * std::exp(-c) * x;
    }
    return lo + sum * step / 3;
  };

  std::vector<event_score> scores;
  std::vector<double> lam(neuron_of_token.size());
  for (std::size_t j = 0; j < end; ++j) {
    const std::size_t m = std::size_t(neuron_of_token[std::size_t(train.ids[j])]);
    if (j >= first) {
      event_score s;
      s.predicted_ms = mean_interval();
      const double c = advance(train.t_ms[j]);
      double ground = M;
      for (double v : H) ground += v;
      for (std::size_t k = 0; k < lam.size(); ++k) lam[k] = mu_per_ms[std::size_t(neuron_of_token[k])] + kernel(std::size_t(neuron_of_token[k]));
      const double lm = lam[std::size_t(train.ids[j])];
      s.nll_time = -std::log(ground) + c;
      s.nll_mark = -std::log(lm / ground);
      s.rank = int(std::count_if(lam.begin(), lam.end(), [&](double l) { return l > lm; }));
      s.ties = int(std::count(lam.begin(), lam.end(), lm)) - 1;
      s.u = -std::expm1(-c);
      s.actual_ms = train.t_ms[j] - train.t_ms[j - 1];
      scores.push_back(s);
    } else {
      advance(train.t_ms[j]);
    }
    for (const auto& syn : out[m]) {
      pending.push_back({train.t_ms[j] + syn.delay_ms, syn.target, syn.jump_per_ms});
      std::push_heap(pending.begin(), pending.end(), std::greater<>());
    }
  }
  return scores;
}

}  // namespace gs::predictor
