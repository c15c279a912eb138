// The Hawkes baseline against a Hawkes process simulated here by Ogata's thinning with known
// parameters: EM recovers them and the decay rate, the fit is at least as likely as the truth on
// the data it saw (maximum likelihood), its held-out NLL comes within 0.02 nats of the truth's, and
// the truth's time-rescaled intervals are uniform (KS). Without excitation it scores exactly as the
// independent Poisson baseline.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/hawkes.hpp"

using namespace gs::predictor;

namespace {

// lambda_n(t) = mu_n + sum_k alpha[n][k] E_k(t), E_k = sum over k's spikes of beta exp(-beta (t - t_j)).
spike_train simulate_hawkes(const std::vector<double>& mu, const std::vector<std::vector<double>>& alpha, double beta,
                            std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::size_t V = mu.size();
  std::vector<double> E(V, 0.0);
  auto intensities = [&] {
    std::vector<double> l(V);
    for (std::size_t a = 0; a < V; ++a) {
      l[a] = mu[a];
      for (std::size_t k = 0; k < V; ++k) l[a] += alpha[a][k] * E[k];
    }
    return l;
  };
  spike_train s;
  double t = 0;
  while (s.size() < n) {
    // Intensities only decay until the next spike, so the current total bounds them.
    const auto l0 = intensities();
    double bound = 0;
    for (double v : l0) bound += v;
    const double step = -std::log(1 - uniform(rng)) / bound;
    t += step;
    for (double& e : E) e *= std::exp(-beta * step);
    const auto l = intensities();
    double total = 0;
    for (double v : l) total += v;
    const double u = uniform(rng) * bound;
    if (u >= total) continue;  // rejected
    double acc = 0;
    std::size_t who = 0;
    while (acc + l[who] <= u) acc += l[who++];
    s.t_ms.push_back(t);
    s.ids.push_back(int(who));
    E[who] += beta;
  }
  s.populations = {{"phy", 0, int(V)}};
  s.source = "hawkes";
  return s;
}

}  // namespace

TEST_CASE("Hawkes baseline: without excitation it is the Poisson baseline") {
  spike_train s;
  s.t_ms = {0.0, 0.5, 1.7, 2.0, 4.5, 4.6, 7.0};
  s.ids = {0, 2, 1, 0, 0, 2, 1};
  s.populations = {{"phy", 0, 3}};
  const event_sequence seq = to_events(s, 1e-4);
  poisson_baseline p;
  p.rate_per_ms = {0.4, 0.1, 0.25};
  hawkes_baseline h;
  h.neurons = 3;
  h.groups = 3;
  h.group_of = neuron_groups(3);
  h.group_size = {1, 1, 1};
  h.beta = 3;
  h.mu = p.rate_per_ms;
  h.alpha.assign(9, 0.0);
  const auto a = p.score(seq, 2, 7), b = h.score(seq, 2, 7);
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(b[k].nll_time == doctest::Approx(a[k].nll_time).epsilon(1e-12));
    CHECK(b[k].nll_mark == doctest::Approx(a[k].nll_mark).epsilon(1e-12));
    CHECK(b[k].rank == a[k].rank);
    CHECK(b[k].u == doctest::Approx(a[k].u).epsilon(1e-12));
    CHECK(b[k].predicted_ms == doctest::Approx(a[k].predicted_ms).epsilon(1e-4));  // quadrature vs 1 / rate
  }
}

TEST_CASE("Hawkes baseline: maximum likelihood recovers a simulated Hawkes process") {
  const std::vector<double> mu = {0.2, 0.1};
  const std::vector<std::vector<double>> alpha = {{0.3, 0.0}, {0.4, 0.2}};
  const double beta = 2.0;
  const spike_train data = simulate_hawkes(mu, alpha, beta, 20000, 17);
  const event_sequence seq = to_events(data, 1e-9);
  const split sp = chronological_split(data.size(), 0.8, 0.1);
  const hawkes_baseline fit = hawkes_baseline::fit(seq, neuron_groups(2), 0, sp.train_end, {0.5, 1.0, 2.0, 4.0}, 60);
  CHECK(fit.beta == 2.0);
  CHECK(fit.mu[0] == doctest::Approx(0.2).epsilon(0.2));
  CHECK(fit.mu[1] == doctest::Approx(0.1).epsilon(0.2));
  CHECK(fit.alpha[0] == doctest::Approx(0.3).epsilon(0.2));  // alpha[n * 2 + k]: the effect of k on n
  CHECK(fit.alpha[2] == doctest::Approx(0.4).epsilon(0.2));
  CHECK(fit.alpha[3] == doctest::Approx(0.2).epsilon(0.3));
  CHECK(std::abs(fit.alpha[1]) < 0.05);

  hawkes_baseline truth = fit;
  truth.beta = beta;
  truth.mu = mu;
  truth.alpha = {alpha[0][0], alpha[0][1], alpha[1][0], alpha[1][1]};
  CHECK(fit.log_likelihood >= truth.mean_log_likelihood(seq, 0, sp.train_end) - 1e-6);

  const metrics t = summarise(truth.score(seq, sp.val_end, sp.n));
  const metrics f = summarise(fit.score(seq, sp.val_end, sp.n));
  INFO("truth NLL " << t.nll() << ", fitted " << f.nll() << ", KS " << t.ks);
  CHECK(std::abs(f.nll() - t.nll()) < 0.02);
  CHECK(t.ks < 0.05);
  CHECK(f.events == sp.n - sp.val_end);
  // The Hawkes structure is worth something over the Poisson fit of the same events.
  const metrics p = summarise(poisson_baseline::fit(data, 0, sp.train_end).score(seq, sp.val_end, sp.n));
  CHECK(p.nll() > t.nll() + 0.02);
}

TEST_CASE("Hawkes baseline: kernels shared by population pairs") {
  // Two populations of two neurons: a spike in population Q adds alpha[P][Q] to each neuron of P.
  const std::vector<double> mu = {0.1, 0.05, 0.08, 0.08};
  const std::vector<std::vector<double>> group_alpha = {{0.2, 0.0}, {0.15, 0.1}};
  const std::vector<int> group = {0, 0, 1, 1};
  std::vector<std::vector<double>> alpha(4, std::vector<double>(4));
  for (int n = 0; n < 4; ++n)
    for (int k = 0; k < 4; ++k) alpha[std::size_t(n)][std::size_t(k)] = group_alpha[std::size_t(group[std::size_t(n)])][std::size_t(group[std::size_t(k)])];
  const spike_train data = simulate_hawkes(mu, alpha, 1.0, 20000, 23);
  const event_sequence seq = to_events(data, 1e-9);
  const hawkes_baseline fit =
      hawkes_baseline::fit(seq, population_groups({{"a", 0, 2}, {"b", 2, 2}}), 0, data.size(), {0.5, 1.0, 2.0}, 60);
  CHECK(fit.groups == 2);
  CHECK(fit.beta == 1.0);
  CHECK(fit.alpha[0] == doctest::Approx(0.2).epsilon(0.2));
  CHECK(fit.alpha[2] == doctest::Approx(0.15).epsilon(0.2));
  CHECK(fit.alpha[3] == doctest::Approx(0.1).epsilon(0.3));
  CHECK(std::abs(fit.alpha[1]) < 0.03);
  for (std::size_t n = 0; n < 4; ++n) CHECK(fit.mu[n] == doctest::Approx(mu[n]).epsilon(0.2));
}
