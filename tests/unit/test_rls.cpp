// Recursive least squares (learning/rls) against the closed form it must reach: after any number
// of updates each neuron's weights are the regularised least-squares solution
//   w = (L + R'R)^-1 (R'f + L w0),  L = lambda I + mu C (C_jk = 1 for sources of the same sign),
// and its P is (L + R'R)^-1. The closed form is solved here in long double by a separate method
// (LDLT of the normal equations), on a linear readout problem with noisy targets.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>

#include "learning/rls/rls.hpp"
#include "tests/support/rls_closed_form.hpp"

using gs::rls::neuron_inputs;
using gs::rls::trainer;

TEST_CASE("RLS equals closed-form ridge regression with same-sign coupling, per neuron") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> rate(0, 2);
  const int sources = 12;
  std::vector<bool> excitatory(sources);
  for (int k = 0; k < sources; ++k) excitatory[std::size_t(k)] = k < 8;
  const std::vector<std::vector<int>> subsets = {{0, 3, 5, 9, 11}, {1, 2, 4, 6, 7, 8, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
  std::vector<neuron_inputs> neurons;
  std::vector<Eigen::VectorXd> truth;
  for (const auto& s : subsets) {
    Eigen::VectorXd w0(Eigen::Index(s.size())), wt(Eigen::Index(s.size()));
    for (Eigen::Index j = 0; j < w0.size(); ++j) w0(j) = 0.3 * normal(rng), wt(j) = normal(rng);
    neurons.push_back({s, w0});
    truth.push_back(wt);
  }
  const double lambda = 0.7, mu = 0.4;
  trainer rls(neurons, excitatory, lambda, mu);

  // P starts as the inverse of the regulariser.
  for (std::size_t i = 0; i < subsets.size(); ++i) {
    const Eigen::Index p = Eigen::Index(subsets[i].size());
    Eigen::MatrixXd L = lambda * Eigen::MatrixXd::Identity(p, p);
    for (Eigen::Index j = 0; j < p; ++j)
      for (Eigen::Index k = 0; k < p; ++k)
        if (excitatory[std::size_t(subsets[i][std::size_t(j)])] == excitatory[std::size_t(subsets[i][std::size_t(k)])])
          L(j, k) += mu;
    CHECK((rls.inverse_correlation(i) * L - Eigen::MatrixXd::Identity(p, p)).norm() < 1e-12);
  }

  const int steps = 400;
  std::vector<Eigen::VectorXd> activity;
  Eigen::MatrixXd targets(steps, Eigen::Index(subsets.size()));
  for (int t = 0; t < steps; ++t) {
    Eigen::VectorXd a(sources);
    for (int k = 0; k < sources; ++k) a(k) = rate(rng);
    for (std::size_t i = 0; i < subsets.size(); ++i) {
      double f = 0.1 * normal(rng);
      for (std::size_t j = 0; j < subsets[i].size(); ++j) f += truth[i](Eigen::Index(j)) * a(subsets[i][j]);
      targets(t, Eigen::Index(i)) = f;
    }
    rls.update(a, targets.row(t).transpose());
    activity.push_back(a);
  }

  for (std::size_t i = 0; i < subsets.size(); ++i) {
    CAPTURE(i);
    const Eigen::Index p = Eigen::Index(subsets[i].size());
    const auto [w, P] = gs::test::ridge_closed_form(subsets[i], excitatory, lambda, mu, neurons[i].weights, activity,
                                                    targets.col(Eigen::Index(i)));
    const double werr = (rls.weights(i) - w).norm() / w.norm(), perr = (rls.inverse_correlation(i) - P).norm() / P.norm();
    MESSAGE("neuron " << i << " (" << p << " inputs): weights relative error " << werr << ", P relative error " << perr);
    CHECK(werr < 1e-8);
    CHECK(perr < 1e-8);
    CHECK((rls.weights(i) - truth[i]).norm() < 0.1 * truth[i].norm());  // and it learned the readout
  }
  // input() is each neuron's w . r.
  const Eigen::VectorXd in = rls.input(activity.back());
  for (std::size_t i = 0; i < subsets.size(); ++i) {
    double s = 0;
    for (std::size_t j = 0; j < subsets[i].size(); ++j) s += rls.weights(i)(Eigen::Index(j)) * activity.back()(subsets[i][j]);
    CHECK(in(Eigen::Index(i)) == doctest::Approx(s).epsilon(1e-14));
  }
}

TEST_CASE("RLS refuses a non-positive ridge term and mismatched weights") {
  const std::vector<bool> exc = {true, false};
  CHECK_THROWS_AS(trainer({{{0, 1}, Eigen::Vector2d(0, 0)}}, exc, 0.0, 0.1), std::invalid_argument);
  CHECK_THROWS_AS(trainer({{{0, 1}, Eigen::Vector3d(0, 0, 0)}}, exc, 1.0, 0.1), std::invalid_argument);
  CHECK_THROWS_AS(trainer({{{0, 2}, Eigen::Vector2d(0, 0)}}, exc, 1.0, 0.1), std::invalid_argument);
}

TEST_CASE("RLS with P in single precision stays close to double precision (validated above)") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> rate(0, 2);
  const int sources = 40;
  std::vector<bool> excitatory(sources);
  for (int k = 0; k < sources; ++k) excitatory[std::size_t(k)] = k < 20;
  std::vector<neuron_inputs> neurons;
  for (int i = 0; i < 4; ++i) {
    std::vector<int> s;
    for (int k = i; k < sources; k += 2) s.push_back(k);
    Eigen::VectorXd w0(Eigen::Index(s.size()));
    for (Eigen::Index j = 0; j < w0.size(); ++j) w0(j) = 0.3 * normal(rng);
    neurons.push_back({s, w0});
  }
  trainer full(neurons, excitatory, 2.0, 0.1), single(neurons, excitatory, 2.0, 0.1, true);
  for (int t = 0; t < 300; ++t) {
    Eigen::VectorXd a(sources), f(4);
    for (int k = 0; k < sources; ++k) a(k) = rate(rng);
    for (int i = 0; i < 4; ++i) f(i) = std::sin(0.05 * t + i) + 0.1 * normal(rng);
    full.update(a, f);
    single.update(a, f);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    const double werr = (single.weights(i) - full.weights(i)).norm() / full.weights(i).norm();
    const double perr = (single.inverse_correlation(i) - full.inverse_correlation(i)).norm() / full.inverse_correlation(i).norm();
    MESSAGE("neuron " << i << ": single vs double, weights " << werr << ", P " << perr);
    CHECK(werr < 1e-4);
    CHECK(perr < 1e-4);
  }
}
