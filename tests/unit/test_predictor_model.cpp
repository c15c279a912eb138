// The whole next-spike transformer: its gradient against finite differences in double precision,
// float against double, the NLL's two parts against the heads' probabilities, and a short training
// run on a Poisson recording, where the true model is known: the trained model's held-out NLL per
// event must come close to the truth's, and the fitted Poisson baseline closer still.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unistd.h>
#include <vector>

#include "learning/nn/gradcheck.hpp"
#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/model.hpp"
#include "learning/predictor/sample.hpp"
#include "learning/predictor/train.hpp"

using namespace gs::predictor;
namespace nn = gs::nn;

namespace {

model_config tiny_config() {
  model_config c;
  c.width = 8;
  c.blocks = 2;
  c.heads = 2;
  c.mlp_ratio = 2;
  c.context = 6;
  c.components = 3;
  c.frequencies = 2;
  c.log_tau_shift = -0.5;
  c.log_tau_scale = 1.3;
  c.populations = {{"a", 0, 4}, {"b", 4, 3}};
  return c;
}

// Independent neurons firing as homogeneous Poisson processes at rates_per_ms.
spike_train poisson_train(const std::vector<double>& rates_per_ms, std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double total = std::accumulate(rates_per_ms.begin(), rates_per_ms.end(), 0.0);
  std::exponential_distribution<double> gap(total);
  std::discrete_distribution<int> who(rates_per_ms.begin(), rates_per_ms.end());
  spike_train s;
  double t = 0;
  for (std::size_t k = 0; k < n; ++k) {
    t += gap(rng);
    s.t_ms.push_back(t);
    s.ids.push_back(who(rng));
  }
  s.populations = {{"phy", 0, int(rates_per_ms.size())}};
  s.source = "poisson";
  return s;
}

}  // namespace

TEST_CASE("spike transformer: loss gradient matches finite differences (double)") {
  spike_transformer<double> model(tiny_config(), 11);
  nn::init_rng rng(12);
  for (auto* p : model.parameters()) nn::fill_normal(p->value, 0.3, rng);
  const std::vector<int> ids = {0, 5, 3, 3, 6, 1, 2};
  const std::vector<double> tau = {0.2, 1.5, 0.01, 3.0, 0.4, 0.7, 2.2};
  const window w{std::span(ids).first(6), std::span(ids).subspan(1), std::span(tau).first(6), std::span(tau).subspan(1)};
  const std::vector<double> ct = {0.3, -1.0, 0.5, 2.0, 0.1, 1.0}, cm = {1.0, 0.2, -0.4, 0.7, 1.5, -0.3};
  auto total = [&] {
    const auto out = model.forward(w);
    double s = 0;
    for (std::size_t i = 0; i < 6; ++i) s += ct[i] * out.time[i] + cm[i] * out.mark[i];
    return s;
  };
  total();
  const auto ps = model.parameters();
  nn::zero_grad(ps);
  model.backward(ct, cm);
  const auto reports = nn::check_gradients(nn::as_checked(ps), total, 1e-6, 60);
  CHECK(reports.size() == ps.size());
  for (const auto& r : reports) {
    INFO(r.name << ": relative error " << r.rel_error << ", gradient norm " << r.grad_norm);
    CHECK(r.grad_norm > 1e-8);
    CHECK(r.rel_error < 1e-6);
  }
}

TEST_CASE("spike transformer: NLL parts are -log of the heads' probability and density; float agrees") {
  spike_transformer<double> md(tiny_config(), 3);
  spike_transformer<float> mf(tiny_config(), 3);
  const std::vector<int> ids = {1, 4, 4, 0};
  const std::vector<double> tau = {0.5, 0.25, 1.0, 4.0};
  const window w{std::span(ids).first(3), std::span(ids).subspan(1), std::span(tau).first(3), std::span(tau).subspan(1)};
  const auto od = md.forward(w);
  const auto of = mf.forward(w);
  for (Eigen::Index i = 0; i < 3; ++i) {
    const auto k = std::size_t(i);
    CHECK(od.mark[k] == doctest::Approx(-std::log(md.mark_probabilities()(i, ids[k + 1]))).epsilon(1e-12));
    CHECK(od.time[k] == doctest::Approx(-md.interval_mixture(i).log_density(tau[k + 1])).epsilon(1e-12));
    CHECK(double(of.mark[k]) == doctest::Approx(od.mark[k]).epsilon(1e-5));
    CHECK(double(of.time[k]) == doctest::Approx(od.time[k]).epsilon(1e-5));
  }
  // Causal: the first position's prediction ignores what follows.
  const std::vector<int> ids2 = {1, 4, 2, 0};
  const window w2{std::span(ids2).first(3), std::span(ids2).subspan(1), std::span(tau).first(3),
                  std::span(tau).subspan(1)};
  const auto od2 = md.forward(w2);
  CHECK(od2.time[0] == od.time[0]);
  CHECK(od2.time[2] != od.time[2]);
}

TEST_CASE("spike transformer: the key/value cache predicts as forward over the same tokens") {
  // What sampling draws from: the neuron probabilities and the interval mixture of the newest
  // position, token by token, with the cache and with a full forward pass over the window.
  spike_transformer<double> cached(tiny_config(), 21);
  nn::init_rng rng(22);
  for (auto* p : cached.parameters()) nn::fill_normal(p->value, 0.3, rng);
  spike_transformer<double> full = cached;
  const std::vector<int> ids = {0, 5, 3, 3, 6, 1, 2, 4, 4, 0};
  const std::vector<double> tau = {0.2, 1.5, 0.01, 3.0, 0.4, 0.7, 2.2, 0.05, 9.0, 1.1};
  for (int pass = 0; pass < 2; ++pass) {  // the second after a reset, from a later token
    const std::size_t first = pass == 0 ? 0 : 4;
    cached.reset_cache();
    for (std::size_t n = first; n < ids.size(); ++n) {
      cached.append(ids[n], tau[n]);
      const auto w_ids = std::span(ids).subspan(first, n + 1 - first);
      const auto w_tau = std::span(tau).subspan(first, n + 1 - first);
      full.forward({w_ids, w_ids, w_tau, w_tau});  // targets are placeholders
      const auto last = Eigen::Index(n - first);
      INFO("pass " << pass << ", token " << n);
      CHECK((cached.mark_probabilities().row(0) - full.mark_probabilities().row(last)).cwiseAbs().maxCoeff() < 1e-12);
      const auto a = cached.interval_mixture(0), b = full.interval_mixture(last);
      for (std::size_t k = 0; k < a.mu.size(); ++k) {
        CHECK(a.log_w[k] == doctest::Approx(b.log_w[k]).epsilon(1e-12));
        CHECK(a.mu[k] == doctest::Approx(b.mu[k]).epsilon(1e-12));
        CHECK(a.sigma[k] == doctest::Approx(b.sigma[k]).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("untrained, the model is the fits it starts from: Poisson's neuron law, the interval law, dead times") {
  // Neurons with a dead time: each fires at Exp(rate) after the end of d = 4 ms since its last
  // spike; 20 of them, so that the next event almost always comes within a neuron's dead time (the
  // neuron head predicts who fires next, not when). Without the history term the untrained model's neuron part must equal the Poisson
  // baseline's and its interval part (the marginal law) be at least as good as the exponential;
  // with it, the neuron part must be clearly better, and the history heights must be strongly negative at ages inside the
  // dead time and near zero far beyond it (a renewal process forgets).
  const double dead = 4.0;
  std::mt19937_64 rng(41);
  std::vector<std::pair<double, int>> events;
  for (int n = 0; n < 20; ++n) {
    std::exponential_distribution<double> gap(0.1 + 0.02 * n);  // per ms, after the dead time
    for (double t = gap(rng); t < 20000; t += dead + gap(rng)) events.push_back({t, n});
  }
  std::sort(events.begin(), events.end());
  spike_train data;
  for (const auto& [t, n] : events) {
    data.t_ms.push_back(t);
    data.ids.push_back(n);
  }
  data.populations = {{"phy", 0, 20}};
  data.source = "dead-time";
  model_config mc;
  mc.width = 8;
  mc.heads = 2;
  mc.blocks = 1;
  mc.context = 128;  // knots from the mean interval (0.4 ms) to 128 of them (50 ms)
  train_config tc;
  const split s = chronological_split(data.size(), tc.train_fraction, tc.val_fraction);
  const event_sequence seq = to_events(data, mc.min_interval_ms);
  const metrics poisson = summarise(poisson_baseline::fit(data, 0, s.train_end).score(seq, s.val_end, s.n));

  mc.history_basis = 0;
  const training_state plain = start_training(data, mc, tc);
  const metrics p = summarise(score_model(plain.model, seq, s.val_end, s.n, mc.context / 2, 0));
  INFO("no history: " << p.nll_time << " + " << p.nll_mark << ", Poisson " << poisson.nll_time << " + " << poisson.nll_mark);
  CHECK(p.nll_mark == doctest::Approx(poisson.nll_mark).epsilon(1e-5));
  CHECK(p.nll_time < poisson.nll_time + 0.005);

  mc.history_basis = 12;
  const training_state with = start_training(data, mc, tc);
  const auto& m = with.model;
  const metrics h = summarise(score_model(m, seq, s.val_end, s.n, mc.context / 2, 0));
  INFO("history: " << h.nll_time << " + " << h.nll_mark);
  CHECK(h.nll_mark < poisson.nll_mark - 0.05);
  const double step = std::log(m.cfg.history_max_ms / m.cfg.history_min_ms) / 11;
  for (int b = 0; b < 12; ++b) {
    const double age = m.cfg.history_min_ms * std::exp(step * b);
    INFO("knot " << b << " at " << age << " ms: " << m.history.coef.value(0, b));
    // Knot b's hat reaches to knot b + 1: ages there plus the next interval stay inside the dead time.
    if (age * std::exp(step) < 0.75 * dead) CHECK(m.history.coef.value(0, b) < -3);
    if (age > 5 * dead) CHECK(std::abs(m.history.coef.value(0, b)) < 0.3);
  }
}

TEST_CASE("training on a Poisson recording approaches the true NLL") {
  const std::vector<double> rates = {0.5, 0.25, 0.15, 0.1};  // per ms
  const spike_train data = poisson_train(rates, 12000, 5);
  model_config mc;
  mc.width = 16;
  mc.heads = 2;
  mc.blocks = 1;
  mc.context = 16;
  mc.components = 2;
  mc.frequencies = 2;
  train_config tc;
  tc.batch = 8;
  tc.epochs = 3;
  tc.steps_per_epoch = 100;
  tc.lr = 1e-2;
  tc.seed = 3;
  training_state state = start_training(data, mc, tc);
  const auto dir = std::filesystem::temp_directory_path() / ("gs-test-pred-model-" + std::to_string(::getpid()));
  continue_training(state, data, dir);
  std::filesystem::remove_all(dir);
  REQUIRE(state.history.size() == 3);

  const split s = chronological_split(data.size(), tc.train_fraction, tc.val_fraction);
  const event_sequence seq = to_events(data, mc.min_interval_ms);
  const metrics model = summarise(score_model(state.model, seq, s.val_end, s.n, mc.context / 2, 0));
  const metrics poisson = summarise(poisson_baseline::fit(data, 0, s.train_end).score(seq, s.val_end, s.n));
  // The truth: exponential intervals at the total rate, neuron n with probability rate_n / total.
  double truth_time = 0, truth_mark = 0;
  const double total = 1.0;
  for (std::size_t j = s.val_end; j < s.n; ++j) {
    truth_time += -std::log(total) + total * seq.tau[j];
    truth_mark += -std::log(rates[std::size_t(seq.ids[j])] / total);
  }
  truth_time /= double(s.n - s.val_end);
  truth_mark /= double(s.n - s.val_end);
  INFO("model " << model.nll_time << " + " << model.nll_mark << ", Poisson fit " << poisson.nll_time << " + "
                << poisson.nll_mark << ", truth " << truth_time << " + " << truth_mark);
  CHECK(model.events == s.n - s.val_end);
  CHECK(std::abs(poisson.nll() - (truth_time + truth_mark)) < 0.01);
  CHECK(model.nll() - (truth_time + truth_mark) < 0.05);
  CHECK(model.top1 == doctest::Approx(poisson.top1).epsilon(0.05));
  CHECK(model.ks < 0.05);
  // Spikes generated by the trained model fire at the true rates.
  const spike_train generated = sample_spikes(state.model, seq, s.val_end, data.t_ms[s.val_end - 1], 3000.0, 8);
  std::vector<double> count(rates.size(), 0.0);
  for (int id : generated.ids) count[std::size_t(id)] += 1;
  for (std::size_t n = 0; n < rates.size(); ++n) {
    INFO("neuron " << n << ": " << count[n] / 3000.0 << " per ms, true " << rates[n]);
    CHECK(count[n] / 3000.0 == doctest::Approx(rates[n]).epsilon(0.15));
  }
  REQUIRE(generated.size() > 1);
  CHECK(generated.t_ms.front() > data.t_ms[s.val_end - 1]);
  CHECK(std::is_sorted(generated.t_ms.begin(), generated.t_ms.end()));
  // Training lowered the validation NLL.
  CHECK(state.history.back().validation.nll() < state.history.front().validation.nll() + 1e-9);
}
