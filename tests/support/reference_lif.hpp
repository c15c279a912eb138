// Reference integrations for validation tests, written independently of the models: the
// exponential-current LIF by adaptive Dormand-Prince 5(4) (relative tolerance 1e-12) with
// threshold crossings located by bisection on re-integrated sub-steps.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <utility>

namespace gs::test {

struct lif_exp_reference {
  double tau_m, C_m, E_L, V_th, V_reset, t_ref, tau_ex, tau_in, I_e;

  struct neuron {
    double V, I_ex = 0, I_in = 0, refractory_until = -1;
  };
  using y_t = std::array<double, 3>;  // V, I_ex, I_in

  y_t deriv(const y_t& y, bool refractory) const {
    return {refractory ? 0.0 : -(y[0] - E_L) / tau_m + (y[1] + y[2] + I_e) / C_m, -y[1] / tau_ex, -y[2] / tau_in};
  }

  // One Dormand-Prince step: the 5th-order solution and the scaled error estimate.
  std::pair<y_t, double> step(const y_t& y, double h, bool refr) const {
    static constexpr double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15,
                            a43 = 32.0 / 9, a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                            a54 = -212.0 / 729, a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                            a64 = 49.0 / 176, a65 = -5103.0 / 18656, b1 = 35.0 / 384, b3 = 500.0 / 1113,
                            b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84, e1 = 71.0 / 57600,
                            e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525,
                            e7 = -1.0 / 40;
    auto comb = [&](std::initializer_list<std::pair<double, const y_t*>> terms) {
      y_t r = y;
      for (auto [c, k] : terms)
        for (int i = 0; i < 3; ++i) r[i] += h * c * (*k)[i];
      return r;
    };
    const y_t k1 = deriv(y, refr);
    const y_t k2 = deriv(comb({{a21, &k1}}), refr);
    const y_t k3 = deriv(comb({{a31, &k1}, {a32, &k2}}), refr);
    const y_t k4 = deriv(comb({{a41, &k1}, {a42, &k2}, {a43, &k3}}), refr);
    const y_t k5 = deriv(comb({{a51, &k1}, {a52, &k2}, {a53, &k3}, {a54, &k4}}), refr);
    const y_t k6 = deriv(comb({{a61, &k1}, {a62, &k2}, {a63, &k3}, {a64, &k4}, {a65, &k5}}), refr);
    const y_t y5 = comb({{b1, &k1}, {b3, &k3}, {b4, &k4}, {b5, &k5}, {b6, &k6}});
    const y_t k7 = deriv(y5, refr);
    double err = 0;
    for (int i = 0; i < 3; ++i) {
      const double e = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
      const double scale = 1e-12 + 1e-12 * std::max(std::fabs(y[i]), std::fabs(y5[i]));
      err = std::max(err, std::fabs(e) / scale);
    }
    return {y5, err};
  }

  // Free (refractory-aware) integration over [0, h] in sub-steps small enough to be accurate.
  y_t integrate(y_t y, double h, bool refr) const {
    const int n = 1 + static_cast<int>(h / 1e-3);
    for (int k = 0; k < n; ++k) y = step(y, h / n, refr).first;
    return y;
  }

  // Advances n from t to t_end without input. Returns the time of the first threshold crossing
  // (n is left at it, not reset) or infinity (n is at t_end).
  double advance(neuron& n, double t, double t_end) const {
    y_t y{n.V, n.I_ex, n.I_in};
    double h = std::min(t_end - t, 0.5);  // the error control shrinks it where needed
    while (t < t_end) {
      const bool refr = t < n.refractory_until;
      const double stop = refr ? std::min(t_end, n.refractory_until) : t_end;
      const double hs = std::min(h, stop - t);
      auto [y1, err] = step(y, hs, refr);
      if (err > 1) {
        h = hs * std::max(0.1, 0.9 * std::pow(err, -0.2));
        continue;
      }
      if (!refr && y1[0] >= V_th) {  // bisect the crossing inside the accepted step
        double lo = 0, hi = hs;
        for (int it = 0; it < 200 && hi - lo > 1e-15 * (t + hi); ++it) {
          const double mid = 0.5 * (lo + hi);
          (integrate(y, mid, false)[0] >= V_th ? hi : lo) = mid;
        }
        y = integrate(y, hi, false);
        n.V = y[0], n.I_ex = y[1], n.I_in = y[2];
        return t + hi;
      }
      t += hs;
      y = y1;
      if (refr && t >= n.refractory_until) y[0] = V_reset;
      h = hs * std::min(5.0, 0.9 * std::pow(std::max(err, 1e-10), -0.2));
    }
    n.V = y[0], n.I_ex = y[1], n.I_in = y[2];
    return std::numeric_limits<double>::infinity();
  }

  void fire(neuron& n, double t) const {
    n.V = V_reset;
    n.refractory_until = t + t_ref;
  }
};

}  // namespace gs::test
