#include "learning/predictor/hawkes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace gs::predictor {

std::vector<int> neuron_groups(int neurons) {
  std::vector<int> g(static_cast<std::size_t>(neurons));
  std::iota(g.begin(), g.end(), 0);
  return g;
}

std::vector<int> population_groups(const std::vector<population_range>& populations) {
  std::vector<int> g;
  for (std::size_t p = 0; p < populations.size(); ++p) g.insert(g.end(), std::size_t(populations[p].size), int(p));
  return g;
}

namespace {

// Sums the EM update needs: expected numbers of background events per neuron and of events in
// group P triggered by group Q, the span T and each group's integrated kernel G_Q.
struct em_sums {
  std::vector<double> background, triggered, G;
  double T = 0;
};

// One pass over events [begin, end): the log-likelihood per event, and the EM sums when asked.
double pass(const hawkes_baseline& h, const event_sequence& seq, std::size_t begin, std::size_t end, em_sums* em) {
  const std::size_t G = std::size_t(h.groups);
  std::vector<double> R(G, 0.0);      // R_Q = sum over Q's spikes of beta exp(-beta (t - t_j))
  std::vector<double> Gint(G, 0.0);   // G_Q = sum over Q's spikes of 1 - exp(-beta (T - t_j))
  std::vector<double> t_of(end - begin);
  double ll = 0, T = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) {
      const double decay = std::exp(-h.beta * seq.tau[i]);
      for (double& r : R) r *= decay;
      T += seq.tau[i];
    }
    t_of[i - begin] = T;
    const std::size_t n = std::size_t(seq.ids[i]), P = std::size_t(h.group_of[n]);
    const double* a = h.alpha.data() + P * G;
    const double lam = h.mu[n] + std::inner_product(R.begin(), R.end(), a, 0.0);
    ll += std::log(lam);
    if (em) {
      em->background[n] += h.mu[n] / lam;
      double* out = em->triggered.data() + P * G;
      for (std::size_t Q = 0; Q < G; ++Q) out[Q] += a[Q] * R[Q] / lam;
    }
    R[std::size_t(h.group_of[n])] += h.beta;
  }
  for (std::size_t i = begin; i < end; ++i)
    Gint[std::size_t(h.group_of[std::size_t(seq.ids[i])])] += -std::expm1(-h.beta * (T - t_of[i - begin]));
  // The compensator: the integral of all intensities over [0, T].
  double comp = std::accumulate(h.mu.begin(), h.mu.end(), 0.0) * T;
  for (std::size_t P = 0; P < G; ++P)
    for (std::size_t Q = 0; Q < G; ++Q) comp += h.group_size[P] * h.alpha[P * G + Q] * Gint[Q];
  if (em) {
    em->T = T;
    em->G = std::move(Gint);
  }
  return (ll - comp) / double(end - begin);
}

}  // namespace

hawkes_baseline hawkes_baseline::fit(const event_sequence& seq, const std::vector<int>& group_of, std::size_t begin,
                                     std::size_t end, const std::vector<double>& betas, int iterations) {
  const int groups = group_of.empty() ? 0 : *std::max_element(group_of.begin(), group_of.end()) + 1;
  if (groups > max_groups)
    throw data_error(fmt::format("the Hawkes baseline keeps a dense {0} x {0} kernel matrix; {0} kernel groups is "
                                 "more than its limit of {1}",
                                 groups, max_groups));
  if (end < begin + 2) throw data_error("the Hawkes baseline needs at least two events to fit");
  const std::size_t V = group_of.size(), G = std::size_t(groups);
  std::vector<double> count(V, 0.0), group_count(G, 0.0), size(G, 0.0);
  for (std::size_t i = begin; i < end; ++i) count[std::size_t(seq.ids[i])] += 1;
  for (std::size_t n = 0; n < V; ++n) {
    size[std::size_t(group_of[n])] += 1;
    group_count[std::size_t(group_of[n])] += count[n];
  }
  double span = 0;
  for (std::size_t i = begin + 1; i < end; ++i) span += seq.tau[i];

  hawkes_baseline best;
  best.log_likelihood = -std::numeric_limits<double>::infinity();
  for (const double beta : betas) {
    hawkes_baseline h;
    h.neurons = int(V);
    h.groups = groups;
    h.group_of = group_of;
    h.group_size = size;
    h.beta = beta;
    // Start with half of each neuron's rate in the background and a branching ratio of one half
    // spread over targets in proportion to their counts (EM keeps zeros at zero: start positive).
    const double total = double(end - begin);
    h.mu.resize(V);
    h.alpha.resize(G * G);
    for (std::size_t n = 0; n < V; ++n) h.mu[n] = std::max(count[n], 0.5) / span * 0.5;
    for (std::size_t P = 0; P < G; ++P)
      for (std::size_t Q = 0; Q < G; ++Q) h.alpha[P * G + Q] = 0.5 * std::max(group_count[P], 0.5) / total / size[P];
    for (int it = 0; it < iterations; ++it) {
      em_sums s{std::vector<double>(V, 0.0), std::vector<double>(G * G, 0.0), {}, 0};
      pass(h, seq, begin, end, &s);
      for (std::size_t n = 0; n < V; ++n) h.mu[n] = s.background[n] / s.T;
      for (std::size_t P = 0; P < G; ++P)
        for (std::size_t Q = 0; Q < G; ++Q)
          h.alpha[P * G + Q] = s.G[Q] > 0 ? s.triggered[P * G + Q] / (size[P] * s.G[Q]) : 0.0;
    }
    for (std::size_t n = 0; n < V; ++n)
      if (count[n] == 0) h.mu[n] = 0.5 / span;
    h.log_likelihood = pass(h, seq, begin, end, nullptr);
    if (h.log_likelihood > best.log_likelihood) best = std::move(h);
  }
  return best;
}

double hawkes_baseline::mean_log_likelihood(const event_sequence& seq, std::size_t begin, std::size_t end) const {
  return pass(*this, seq, begin, end, nullptr);
}

std::vector<event_score> hawkes_baseline::score(const event_sequence& seq, std::size_t first, std::size_t end) const {
  first = std::max<std::size_t>(first, 2);
  const std::size_t V = std::size_t(neurons), G = std::size_t(groups);
  const double M = std::accumulate(mu.begin(), mu.end(), 0.0);
  // e_P = sum_Q alpha[P, Q] R_Q: every R_Q decays by the same factor, so e does too, and a spike in
  // Q adds beta alpha[P, Q] to each e_P; then lambda_n = mu_n + e_g(n), O(neurons) per event.
  std::vector<double> e(G, 0.0), lam(V);
  std::vector<event_score> scores;
  auto spike = [&](std::size_t n) {
    const std::size_t Q = std::size_t(group_of[n]);
    for (std::size_t P = 0; P < G; ++P) e[P] += beta * alpha[P * G + Q];
  };
  spike(std::size_t(seq.ids[0]));
  for (std::size_t i = 1; i < end; ++i) {
    // Between events the ground intensity is M + A exp(-beta s), A from the state after event i-1.
    const double A = std::inner_product(e.begin(), e.end(), group_size.begin(), 0.0);
    const double tau = seq.tau[i];
    const double decay = std::exp(-beta * tau);
    for (double& v : e) v *= decay;
    if (i >= first) {
      for (std::size_t n = 0; n < V; ++n) lam[n] = mu[n] + e[std::size_t(group_of[n])];
      const std::size_t m = std::size_t(seq.ids[i]);
      const double ground = M + A * decay, compensator = M * tau + A * -std::expm1(-beta * tau) / beta;
      event_score s;
      s.nll_time = -std::log(ground) + compensator;
      s.nll_mark = -std::log(lam[m] / ground);
      s.rank = int(std::count_if(lam.begin(), lam.end(), [&](double l) { return l > lam[m]; }));
      s.ties = int(std::count(lam.begin(), lam.end(), lam[m])) - 1;
      s.u = -std::expm1(-compensator);
      s.actual_ms = tau;
      // E[interval] = integral of the survival exp(-(M x + A (1 - e^{-beta x}) / beta)) dx, by
      // Simpson's rule in u = log x (integrand S(x) x, smooth in u) from far below both time scales
      // to where the survival is negligible; [0, lo] adds lo, where the survival is 1.
      const double lo = 1e-6 / (M + A + beta), hi = 50 / M;
      const int steps = 600;
      const double h = std::log(hi / lo) / steps;
      auto integrand = [&](int k) {
        const double x = lo * std::exp(h * k);
        return std::exp(-(M * x + A * -std::expm1(-beta * x) / beta)) * x;
      };
      double sum = integrand(0) + integrand(steps);
      for (int k = 1; k < steps; ++k) sum += (k % 2 ? 4 : 2) * integrand(k);
      s.predicted_ms = lo + sum * h / 3;
      scores.push_back(s);
    }
    spike(std::size_t(seq.ids[i]));
  }
  return scores;
}

}  // namespace gs::predictor
