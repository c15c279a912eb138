// The new learning layers against central finite differences in double precision:
// - the surrogate derivatives against the derivatives of their primitives;
// - the spiking network's readout (weights, bias, learnable leak) over recurrent LIF layers with
//   learnable time constants, for both readouts and with substeps. The Heaviside's true
//   derivative is zero almost everywhere, so finite differences cannot check the LIF layers'
//   surrogate gradients (test_surrogate_torch checks them against PyTorch); with the surrogate
//   made negligible (slope 1e9) their analytic gradients must vanish, as the finite differences do;
// - the GRU layer and the MLP and GRU decoders, whose gradients are exact.
// Each window starts from a warm state that is restored before every evaluation, because
// truncated BPTT does not differentiate through the state it starts from.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <vector>

#include "learning/decode/train.hpp"
#include "learning/nn/gradcheck.hpp"
#include "learning/nn/gru.hpp"
#include "learning/surrogate/snn.hpp"

using namespace gs;
using dmat = nn::mat<double>;
using surrogate::sequence;

namespace {

sequence<double> random_sequence(std::size_t steps, Eigen::Index B, Eigen::Index width, nn::init_rng& rng,
                                 double std = 1.0) {
  sequence<double> s(steps);
  for (auto& m : s) {
    m.resize(B, width);
    nn::fill_normal(m, std, rng);
  }
  return s;
}

// Sum over the window of R_t . y_t for fixed random R_t: every output gets a gradient.
double weighted_sum(const sequence<double>& y, const sequence<double>& R) {
  double s = 0;
  for (std::size_t t = 0; t < y.size(); ++t) s += y[t].cwiseProduct(R[t]).sum();
  return s;
}

void require_close(const std::vector<nn::gradcheck_report>& reports, double tolerance = 1e-6) {
  REQUIRE(!reports.empty());
  for (const auto& r : reports) {
    INFO(r.name << ": relative error " << r.rel_error << ", gradient norm " << r.grad_norm << ", " << r.checked
                << " entries");
    MESSAGE(r.name << ": relative error " << r.rel_error);
    CHECK(r.checked > 0);
    CHECK(r.grad_norm > 1e-8);
    CHECK(r.rel_error < tolerance);
  }
}

// Runs `model` over `window` from the state `restore` sets, backpropagates R, and compares the
// gradients of `checked` (default: every parameter) with finite differences of the same computation.
template <class Model>
void check_model(Model& model, const sequence<double>& window, const std::function<void()>& restore,
                 nn::init_rng& rng, nn::param_list<double> checked = {}) {
  restore();
  const sequence<double> y = model.forward(window);
  const sequence<double> R = random_sequence(y.size(), y[0].rows(), y[0].cols(), rng);
  const auto ps = model.parameters();
  if (checked.empty()) checked = ps;
  nn::zero_grad(ps);
  model.backward(R);
  require_close(nn::check_gradients(nn::as_checked(checked), [&] {
    restore();
    return weighted_sum(model.forward(window), R);
  }));
}

}  // namespace

TEST_CASE("surrogate derivatives are the derivatives of their primitives") {
  // fast sigmoid: x / (1 + k|x|); arctan: atan(pi/2 k x) / pi + 1/2.
  for (const double k : {0.5, 2.0, 5.0})
    for (const double x : {-2.0, -0.3, -0.01, 0.02, 0.4, 3.0}) {
      const double h = 1e-6;
      auto fs = [&](double u) { return u / (1 + k * std::abs(u)); };
      auto at = [&](double u) { return std::atan(std::numbers::pi / 2 * k * u) / std::numbers::pi + 0.5; };
      CHECK(surrogate::surrogate_derivative(surrogate::surrogate_kind::fast_sigmoid, k, x) ==
            doctest::Approx((fs(x + h) - fs(x - h)) / (2 * h)).epsilon(1e-7));
      CHECK(surrogate::surrogate_derivative(surrogate::surrogate_kind::arctan, k, x) ==
            doctest::Approx((at(x + h) - at(x - h)) / (2 * h)).epsilon(1e-7));
    }
  // Both peak at the threshold: fast sigmoid at 1, arctan at k / 2.
  CHECK(surrogate::surrogate_derivative(surrogate::surrogate_kind::fast_sigmoid, 5, 0) == 1.0);
  CHECK(surrogate::surrogate_derivative(surrogate::surrogate_kind::arctan, 5, 0) == 2.5);
}

TEST_CASE("spiking network: the readout's gradients match finite differences; without surrogate, the LIF layers' vanish") {
  struct variant {
    const char* name;
    bool recurrent, learn_tau, membrane;
    int substeps;
  };
  for (const variant v : {variant{"recurrent, learnable taus, membrane readout", true, true, true, 1},
                          variant{"recurrent, fixed taus, spikes readout", true, false, false, 1},
                          variant{"feedforward, learnable taus, membrane readout, 3 substeps", false, true, true, 3}}) {
    CAPTURE(v.name);
    surrogate::snn_config c;
    c.inputs = 4;
    c.outputs = 3;
    c.hidden = {6, 5};
    c.recurrent = v.recurrent;
    c.learn_tau = v.learn_tau;
    c.membrane_readout = v.membrane;
    c.substeps = v.substeps;
    c.slope = 1e9;  // the surrogate is below 1e-12 wherever |u - 1| > 1e-3
    c.bin_ms = 5;
    c.tau_mem_ms = 8;
    c.tau_out_ms = 12;
    surrogate::spiking_net<double> net(c, 3);
    nn::init_rng rng(4);
    for (auto* p : net.parameters()) nn::fill_normal(p->value, 0.8, rng);
    const Eigen::Index B = 3;
    net.reset(B);
    net.forward(random_sequence(10, B, c.inputs, rng, 1.5));  // warm state, with spikes
    std::vector<dmat> v0, s0;
    for (auto& l : net.layers) v0.push_back(l.v), s0.push_back(l.s);
    const dmat y0 = net.readout.y;
    const sequence<double> window = random_sequence(12, B, c.inputs, rng, 1.5);
    auto restore = [&] {
      for (std::size_t k = 0; k < net.layers.size(); ++k) net.layers[k].v = v0[k], net.layers[k].s = s0[k];
      net.readout.y = y0;
    };
    restore();
    net.forward(window);
    for (const double f : net.firing()) {  // otherwise the check would skip the spike-driven paths
      CHECK(f > 0.05);
      CHECK(f < 0.95);
    }
    nn::param_list<double> readout;
    net.readout.collect(readout);
    check_model(net, window, restore, rng, readout);
    CHECK(readout.size() == (v.learn_tau && v.membrane ? 3u : 2u));
    for (auto& l : net.layers) {
      nn::param_list<double> ps;
      l.collect(ps);
      CHECK(ps.size() == 2u + (v.recurrent ? 1u : 0u) + (v.learn_tau ? 1u : 0u));
      for (auto* p : ps) {
        INFO(p->name);
        CHECK(p->grad.norm() < 1e-9);
      }
    }
  }
}

TEST_CASE("GRU layer and the MLP and GRU decoders match finite differences") {
  nn::init_rng rng(5);
  const Eigen::Index B = 2;
  const sequence<double> prefix = random_sequence(4, B, 3, rng), window = random_sequence(7, B, 3, rng);

  decode::gru_decoder<double> gru(3, 2, 5, 6);
  for (auto* p : gru.parameters()) nn::fill_normal(p->value, 0.7, rng);
  gru.reset(B);
  gru.forward(prefix);
  const dmat h0 = gru.cell.h;
  REQUIRE(h0.norm() > 0);
  check_model(gru, window, [&] { gru.cell.h = h0; }, rng);

  // The MLP's carried state is the previous inputs, which do not depend on the parameters.
  decode::mlp_decoder<double> mlp(3, 2, 6, 4, 7);
  for (auto* p : mlp.parameters()) nn::fill_normal(p->value, 0.7, rng);
  check_model(mlp, window, [&] {
    mlp.reset(B);
    mlp.forward(prefix);
  }, rng);
}

TEST_CASE("MLP decoder: the features of a step are the last `history` inputs, across windows") {
  // With fc1 an identity-like selector, output t is the input `history - 1` steps back.
  decode::mlp_decoder<double> mlp(1, 1, 3, 3, 1);
  mlp.fc1.W.value.setZero();
  mlp.fc1.W.value(0, 0) = 1;  // oldest of the three bins
  mlp.fc1.b.value.setConstant(10);  // GELU(10 + x) = 10 + x to within 1e-20 for |x| < 5
  mlp.fc2.W.value.setZero();
  mlp.fc2.W.value(0, 0) = 1;
  mlp.fc2.b.value.setConstant(-10);
  mlp.reset(1);
  sequence<double> a(4), b(3);
  for (int t = 0; t < 4; ++t) a[std::size_t(t)] = dmat::Constant(1, 1, t + 1);
  for (int t = 0; t < 3; ++t) b[std::size_t(t)] = dmat::Constant(1, 1, t + 5);
  const auto ya = mlp.forward(a), yb = mlp.forward(b);
  const std::vector<double> expect_a = {0, 0, 1, 2}, expect_b = {3, 4, 5};
  for (std::size_t t = 0; t < 4; ++t) CHECK(ya[t](0, 0) == doctest::Approx(expect_a[t]).epsilon(1e-12));
  for (std::size_t t = 0; t < 3; ++t) CHECK(yb[t](0, 0) == doctest::Approx(expect_b[t]).epsilon(1e-12));
}
