// The adaptive Dormand-Prince integrator of models/ode.hpp against closed forms (exponential
// decay, harmonic oscillator), and its stop at the first crossing, also on trajectories that
// diverge in finite time just after it.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "models/ode.hpp"

using namespace gs;

namespace {

struct never {
  template <class Y>
  bool operator()(const Y&) const { return false; }
};

constexpr double pi = std::numbers::pi;

// x'' = -omega^2 x from x = 1, x' = 0.
struct oscillator {
  double omega;
  ode::vec<2> operator()(double, const ode::vec<2>& y) const { return {y[1], -omega * omega * y[0]}; }
};

}  // namespace

TEST_CASE("exponential decay matches exp(-k t) to the tolerance") {
  for (double k : {0.1, 2.0, 50.0}) {
    ode::vec<1> y{3.0};
    auto decay = [k](double, const ode::vec<1>& v) { return ode::vec<1>{-k * v[0]}; };
    const auto out = ode::integrate(y, 4.0, decay, never{}, ode::tolerances{});
    const double exact = 3.0 * std::exp(-k * 4.0);
    MESSAGE(fmt::format("k {}: {} steps ({} rejected), error {:.3g}", k, out.accepted, out.rejected, y[0] - exact));
    CHECK(out.t == 4.0);
    CHECK_FALSE(out.crossed);
    CHECK(std::fabs(y[0] - exact) <= 1e-8 * 3.0);
  }
}

TEST_CASE("harmonic oscillator over ten periods; the error follows the tolerance") {
  const double omega = 2 * pi / 5, T = 50;
  auto error_at = [&](double rtol, int& steps) {
    ode::vec<2> y{1.0, 0.0};
    const auto out = ode::integrate(y, T, oscillator{omega}, never{}, ode::tolerances{rtol, rtol, 1e-12});
    steps = out.accepted;
    CHECK(out.t == T);
    return std::hypot(y[0] - std::cos(omega * T), y[1] + omega * std::sin(omega * T));
  };
  int loose_steps = 0, tight_steps = 0;
  const double loose = error_at(1e-6, loose_steps), tight = error_at(1e-10, tight_steps);
  MESSAGE(fmt::format("rtol 1e-6: error {:.3g} in {} steps; rtol 1e-10: {:.3g} in {} steps", loose, loose_steps, tight,
                      tight_steps));
  CHECK(tight <= 1e-8);
  CHECK(tight < loose / 100);
  CHECK(tight_steps > loose_steps);
  CHECK(tight_steps < 3000);  // adaptive, not crawling
}

TEST_CASE("time-dependent right-hand side: y' = cos(t) - y / 2 with its closed form") {
  // The periodic particular solution plus the decay of the initial difference.
  auto f = [](double t, const ode::vec<1>& y) { return ode::vec<1>{std::cos(t) - 0.5 * y[0]}; };
  auto exact = [](double t) {
    const double a = 0.4, b = 0.8;  // y_p = a cos t + b sin t solves y' + y/2 = cos t
    return a * std::cos(t) + b * std::sin(t) + (1.0 - a) * std::exp(-0.5 * t);
  };
  ode::vec<1> y{1.0};
  const auto out = ode::integrate(y, 12.0, f, never{}, ode::tolerances{});
  CHECK(out.t == 12.0);
  CHECK(std::fabs(y[0] - exact(12.0)) <= 1e-8);
}

TEST_CASE("the split of an interval barely changes the result") {
  const double omega = 1.3;
  ode::vec<2> whole{1.0, 0.0}, split{1.0, 0.0};
  ode::integrate(whole, 7.0, oscillator{omega}, never{}, ode::tolerances{});
  ode::integrate(split, 2.5, oscillator{omega}, never{}, ode::tolerances{});
  ode::integrate(split, 4.5, oscillator{omega}, never{}, ode::tolerances{});
  CHECK(std::fabs(whole[0] - split[0]) <= 1e-8);
  CHECK(std::fabs(whole[1] - split[1]) <= 1e-8);
}

TEST_CASE("stops at the first crossing, within t_tol past it") {
  const ode::tolerances tol{1e-9, 1e-9, 1e-10};
  SUBCASE("a straight line") {
    ode::vec<1> y{0.0};
    const auto out = ode::integrate(y, 10.0, [](double, const ode::vec<1>&) { return ode::vec<1>{1.0}; },
                                    [](const ode::vec<1>& v) { return v[0] >= 0.7; }, tol);
    CHECK(out.crossed);
    CHECK(out.t >= 0.7);
    CHECK(out.t <= 0.7 + tol.t_tol);
    CHECK(y[0] >= 0.7);
    CHECK(y[0] <= 0.7 + 2 * tol.t_tol);
  }
  SUBCASE("the first of several crossings of an oscillation") {
    const double omega = 2.0;
    ode::vec<2> y{1.0, 0.0};
    const auto out = ode::integrate(y, 20.0, oscillator{omega}, [](const ode::vec<2>& v) { return v[0] <= -0.5; }, tol);
    const double first = (2 * pi / 3) / omega;  // cos(omega t) = -1/2
    MESSAGE(fmt::format("crossing at {:.15f}, exact {:.15f}", out.t, first));
    CHECK(out.crossed);
    CHECK(std::fabs(out.t - first) <= 1e-8);
    CHECK(y[0] <= -0.5);
  }
  SUBCASE("already crossed: nothing moves") {
    ode::vec<1> y{2.0};
    const auto out = ode::integrate(y, 1.0, [](double, const ode::vec<1>&) { return ode::vec<1>{1.0}; },
                                    [](const ode::vec<1>& v) { return v[0] >= 1.0; }, tol);
    CHECK(out.crossed);
    CHECK(out.t == 0.0);
    CHECK(y[0] == 2.0);
  }
  SUBCASE("an empty interval") {
    ode::vec<1> y{0.5};
    const auto out = ode::integrate(y, 0.0, [](double, const ode::vec<1>&) { return ode::vec<1>{1.0}; }, never{}, tol);
    CHECK_FALSE(out.crossed);
    CHECK(out.t == 0.0);
    CHECK(y[0] == 0.5);
  }
}

TEST_CASE("a trajectory that diverges in finite time stops at its crossing, finite") {
  const ode::tolerances tol{1e-9, 1e-9, 1e-10};
  SUBCASE("y' = y^2: y = 1 / (1 - t), cut at 1e6") {
    ode::vec<1> y{1.0};
    const auto out = ode::integrate(y, 5.0, [](double, const ode::vec<1>& v) { return ode::vec<1>{v[0] * v[0]}; },
                                    [](const ode::vec<1>& v) { return v[0] >= 1e6; }, tol);
    MESSAGE(fmt::format("crossing at {:.15f} ({} steps, {} rejected), y {:.6g}", out.t, out.accepted, out.rejected,
                        y[0]));
    CHECK(out.crossed);
    CHECK(std::isfinite(y[0]));
    CHECK(y[0] >= 1e6);
    CHECK(std::fabs(out.t - (1 - 1e-6)) <= 1e-9);
  }
  SUBCASE("AdEx-like y' = exp(y), clamped past the cut at 30: blows up at t = 1") {
    // The crossing is 1e-13 before the blow-up, below t_tol: steps reach their floor there.
    ode::vec<1> y{0.0};
    auto f = [](double, const ode::vec<1>& v) { return ode::vec<1>{std::exp(std::fmin(v[0], 30.0))}; };
    const auto out = ode::integrate(y, 5.0, f, [](const ode::vec<1>& v) { return v[0] >= 30; }, tol);
    MESSAGE(fmt::format("crossing at {:.15f} ({} steps, {} rejected), y {:.6g}", out.t, out.accepted, out.rejected,
                        y[0]));
    CHECK(out.crossed);
    CHECK(std::isfinite(y[0]));
    CHECK(y[0] >= 30);
    CHECK(std::fabs(out.t - (1 - std::exp(-30.0))) <= 1e-9);
  }
}
