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

#include "tests/support/dormand_prince.hpp"

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
    return dormand_prince_step(y, h, [&](const y_t& x) { return deriv(x, refr); });
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
