// Every layer of learning/nn: its backward pass against central finite differences in double
// precision (parameters and inputs), with randomised parameters so that no gradient is trivially
// zero; the interval density against the closed-form log-normal and numerical integration.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "learning/nn/gradcheck.hpp"
#include "learning/nn/layers.hpp"

using namespace gs::nn;
using dmat = mat<double>;

namespace {

dmat random_mat(Eigen::Index r, Eigen::Index c, init_rng& rng, double std = 1.0) {
  dmat m(r, c);
  fill_normal(m, std, rng);
  return m;
}

void randomise(const param_list<double>& ps, init_rng& rng, double std = 0.5) {
  for (auto* p : ps) fill_normal(p->value, std, rng);
}

std::span<double> span_of(dmat& m) { return {m.data(), std::size_t(m.size())}; }

void require_close(const std::vector<gradcheck_report>& reports) {
  REQUIRE(!reports.empty());
  for (const auto& r : reports) {
    INFO(r.name << ": relative error " << r.rel_error << ", gradient norm " << r.grad_norm << ", " << r.checked
                << " entries");
    CHECK(r.checked > 0);
    CHECK(r.grad_norm > 1e-8);
    CHECK(r.rel_error < 1e-6);
  }
}

// loss = sum(R . f(x)) for a fixed random R, so dloss/df = R reaches every output.
void check_layer(const param_list<double>& ps, dmat* x, const std::function<dmat()>& forward,
                 const std::function<dmat(const dmat&)>& backward, init_rng& rng) {
  const dmat y = forward();
  const dmat R = random_mat(y.rows(), y.cols(), rng);
  zero_grad(ps);
  dmat dx = backward(R);
  std::vector<checked_array> arrays = as_checked(ps);
  if (x) arrays.push_back({"input", span_of(*x), span_of(dx)});
  require_close(check_gradients(arrays, [&] { return forward().cwiseProduct(R).sum(); }));
}

}  // namespace

TEST_CASE("linear: backward matches finite differences") {
  init_rng rng(1);
  linear<double> layer(5, 7, "lin", rng);
  param_list<double> ps;
  layer.collect(ps);
  randomise(ps, rng);
  dmat x = random_mat(4, 5, rng);
  check_layer(ps, &x, [&] { return layer.forward(x); }, [&](const dmat& d) { return layer.backward(d); }, rng);
}

TEST_CASE("embedding: backward matches finite differences, repeated ids accumulate") {
  init_rng rng(2);
  embedding<double> layer(6, 4, "emb", rng);
  param_list<double> ps;
  layer.collect(ps);
  const std::vector<int> ids = {3, 0, 3, 5, 1, 3};
  check_layer(ps, nullptr, [&] { return layer.forward(ids); },
              [&](const dmat& d) {
                layer.backward(d);
                return dmat();
              },
              rng);
  // Rows never looked up get no gradient.
  CHECK(layer.table.grad.row(2).norm() == 0);
  CHECK(layer.table.grad.row(4).norm() == 0);
}

TEST_CASE("layer_norm: forward normalises, backward matches finite differences") {
  init_rng rng(3);
  layer_norm<double> layer(6, "ln");
  dmat x = random_mat(5, 6, rng, 3.0);
  const dmat y = layer.forward(x);
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    CHECK(std::abs(y.row(i).mean()) < 1e-12);
    // Biased variance: mean of squares is 1 up to eps / var.
    CHECK(y.row(i).squaredNorm() / 6 == doctest::Approx(1.0).epsilon(1e-4));
  }
  param_list<double> ps;
  layer.collect(ps);
  randomise(ps, rng);
  check_layer(ps, &x, [&] { return layer.forward(x); }, [&](const dmat& d) { return layer.backward(d); }, rng);
}

TEST_CASE("gelu: exact values, backward matches finite differences") {
  init_rng rng(4);
  gelu<double> layer;
  dmat x(1, 3);
  x << -1.0, 0.0, 2.0;
  const dmat y = layer.forward(x);
  // x * Phi(x) with Phi from the standard normal CDF, 0.5 erfc(-x / sqrt 2).
  for (int k = 0; k < 3; ++k) CHECK(y(0, k) == doctest::Approx(x(0, k) * 0.5 * std::erfc(-x(0, k) / std::sqrt(2.0))));
  dmat z = random_mat(4, 5, rng, 2.0);
  check_layer({}, &z, [&] { return layer.forward(z); }, [&](const dmat& d) { return layer.backward(d); }, rng);
}

TEST_CASE("causal self-attention: token i ignores later tokens; backward matches finite differences") {
  init_rng rng(5);
  causal_self_attention<double> layer(8, 2, "attn", rng, 0.02);
  param_list<double> ps;
  layer.collect(ps);
  randomise(ps, rng);
  dmat x = random_mat(6, 8, rng);
  const dmat y = layer.forward(x);
  dmat x2 = x;
  x2.row(4) += dmat::Ones(1, 8);  // change a late token
  const dmat y2 = layer.forward(x2);
  CHECK((y2.topRows(4) - y.topRows(4)).norm() == 0);
  CHECK((y2.row(4) - y.row(4)).norm() > 1e-6);
  // The first token attends only to itself: its output is proj(v_0).
  const dmat qkv = x.row(0) * layer.qkv.W.value + layer.qkv.b.value;
  const dmat expected = qkv.rightCols(8) * layer.proj.W.value + layer.proj.b.value;
  CHECK((y.row(0) - expected).norm() < 1e-12);
  check_layer(ps, &x, [&] { return layer.forward(x); }, [&](const dmat& d) { return layer.backward(d); }, rng);
}

TEST_CASE("transformer block: backward matches finite differences") {
  init_rng rng(6);
  transformer_block<double> block(8, 4, 16, 2, "block", rng);
  param_list<double> ps;
  block.collect(ps);
  CHECK(ps.size() == 12);
  randomise(ps, rng, 0.3);
  dmat x = random_mat(5, 8, rng);
  check_layer(ps, &x, [&] { return block.forward(x); }, [&](const dmat& d) { return block.backward(d); }, rng);
}

TEST_CASE("softmax cross-entropy: value and backward") {
  init_rng rng(7);
  softmax_cross_entropy<double> xent;
  dmat logits = random_mat(4, 6, rng, 2.0);
  const std::vector<int> targets = {0, 5, 2, 2};
  const std::vector<double> loss = xent.forward(logits, targets);
  for (int i = 0; i < 4; ++i) {
    double z = 0;
    for (int k = 0; k < 6; ++k) z += std::exp(logits(i, k));
    CHECK(loss[std::size_t(i)] == doctest::Approx(std::log(z) - logits(i, targets[std::size_t(i)])).epsilon(1e-12));
  }
  const std::vector<double> weights = {0.5, -1.0, 2.0, 0.25};
  const dmat d = xent.backward(weights);
  auto total = [&] {
    const auto l = xent.forward(logits, targets);
    double s = 0;
    for (std::size_t i = 0; i < l.size(); ++i) s += weights[i] * l[i];
    return s;
  };
  require_close(check_gradients({{"logits", span_of(logits), {d.data(), std::size_t(d.size())}}}, total));
}

TEST_CASE("log-normal mixture: one component is the closed-form log-normal density") {
  lognormal_mixture<double> head(1);
  head.shift = -0.7;
  head.scale = 1.9;
  dmat params(3, 3);
  params << 0.3, 0.2, -0.4,  //
      -2.0, -1.0, 0.5,       //
      1.0, 0.0, 0.0;
  const std::vector<double> tau = {0.05, 3.0, 1.0};
  const std::vector<double> nll = head.forward(params, tau);
  for (int i = 0; i < 3; ++i) {
    const double m = head.shift + head.scale * params(i, 1), s = head.scale * std::exp(params(i, 2));
    const double t = tau[std::size_t(i)];
    const double logpdf = -std::log(t * s * std::sqrt(2 * std::numbers::pi)) -
                          (std::log(t) - m) * (std::log(t) - m) / (2 * s * s);
    CHECK(nll[std::size_t(i)] == doctest::Approx(-logpdf).epsilon(1e-13));
    const auto mix = head.row(params, i);
    CHECK(mix.log_density(t) == doctest::Approx(logpdf).epsilon(1e-13));
    CHECK(mix.mean() == doctest::Approx(std::exp(m + s * s / 2)).epsilon(1e-13));
    CHECK(mix.cdf(t) == doctest::Approx(0.5 * std::erfc(-(std::log(t) - m) / (s * std::sqrt(2.0)))).epsilon(1e-13));
  }
}

TEST_CASE("log-normal mixture: density integrates to 1, cdf and mean agree with quadrature") {
  lognormal_mixture<double> head(3);
  head.shift = 0.5;
  head.scale = 0.8;
  dmat params(1, 9);
  params << 0.2, -1.0, 0.7, -1.5, 0.3, 1.2, -0.5, 0.1, -0.9;
  const auto mix = head.row(params, 0);
  // Trapezoid rule in u = log tau, where the integrand p(tau) tau is smooth: int p = int p(e^u) e^u du.
  const double lo = -15, hi = 15;
  const int n = 200000;
  const double du = (hi - lo) / n;
  double mass = 0, mean = 0, cdf_at_1 = 0;
  for (int k = 0; k <= n; ++k) {
    const double u = lo + k * du, w = (k == 0 || k == n) ? 0.5 : 1.0;
    const double f = std::exp(mix.log_density(std::exp(u)) + u) * du * w;
    mass += f;
    mean += f * std::exp(u);
    if (u <= 0) cdf_at_1 += f;
  }
  CHECK(mass == doctest::Approx(1.0).epsilon(1e-8));
  CHECK(mix.mean() == doctest::Approx(mean).epsilon(1e-7));
  CHECK(mix.cdf(1.0) == doctest::Approx(cdf_at_1).epsilon(1e-4));  // the half-step at u = 0
  // forward's NLL is the same density.
  const std::vector<double> tau = {2.5};
  CHECK(head.forward(params, tau)[0] == doctest::Approx(-mix.log_density(2.5)).epsilon(1e-13));
}

TEST_CASE("log-normal mixture: backward matches finite differences") {
  init_rng rng(8);
  lognormal_mixture<double> head(4);
  head.shift = 1.0;
  head.scale = 2.0;
  dmat params = random_mat(5, 12, rng);
  const std::vector<double> tau = {0.01, 0.5, 2.0, 7.0, 40.0};
  const std::vector<double> weights = {1.0, 0.3, -0.7, 2.0, 0.9};
  head.forward(params, tau);
  const dmat d = head.backward(weights);
  auto total = [&] {
    const auto l = head.forward(params, tau);
    double s = 0;
    for (std::size_t i = 0; i < l.size(); ++i) s += weights[i] * l[i];
    return s;
  };
  require_close(check_gradients({{"params", span_of(params), {d.data(), std::size_t(d.size())}}}, total));
}

TEST_CASE("float and double layers agree to float precision") {
  init_rng rng_d(9), rng_f(9);
  transformer_block<double> bd(8, 2, 16, 1, "b", rng_d);
  transformer_block<float> bf(8, 2, 16, 1, "b", rng_f);
  init_rng rng(10);
  const dmat x = random_mat(6, 8, rng);
  const dmat yd = bd.forward(x);
  const dmat yf = bf.forward(x.cast<float>()).cast<double>();
  CHECK((yd - yf).norm() / yd.norm() < 1e-5);
}
