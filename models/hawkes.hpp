// Hawkes processes as cell models: the spike intensity is a baseline plus exponentially decaying
// kernels of the input spikes, linear (hawkes_linear) or through a link function
// (hawkes_nonlinear). Both are stochastic models: the engine samples them by thinning
// (docs/models.md).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "models/model.hpp"

namespace gs {

// lambda(t) = mu + sum_j w_j kappa(t - t_j), kappa(s) = exp(-s / tau) / tau: a weight is the
// expected number of spikes one input spike adds, so with W the matrix of summed weights the
// stationary rates are (I - W)^-1 mu when W's spectral radius is below 1.
struct hawkes_linear {
  static constexpr std::string_view name = "hawkes_linear";
  static constexpr std::string_view doc =
      "linear Hawkes process: intensity mu + sum of w exp(-s/tau)/tau over input spikes (w >= 0: the "
      "expected spikes one input adds); only an excitatory receptor";

  struct params {
    double mu = 10, tau = 10;               // Hz, ms
    double inv_tau = 0, jump = 0;           // derived: 1/tau, intensity jump per unit weight (Hz)
  };
  struct state {
    double h = 0, mu_dc = 0;  // Hz
  };

  static constexpr std::array param_table{
      field<params>{"mu", "Hz", &params::mu, "baseline intensity"},
      field<params>{"tau", "ms", &params::tau, "decay time of the kernel exp(-s/tau)/tau"},
  };
  static constexpr std::array state_table{
      field<state>{"h", "Hz", &state::h, "intensity added by past input spikes"},
      field<state>{"mu_dc", "Hz", &state::mu_dc, "baseline added by DC generators (amplitude read in Hz)"},
  };
  // A negative weight names the "inhibitory" receptor, which this model lacks: the run is
  // refused with that message rather than made silently nonlinear.
  static constexpr std::array<std::string_view, 1> receptors{"excitatory"};

  // Inputs adding up to this fraction of the intensity bound keep a bound valid: of 0.1 to 2,
  // the fastest for the next-reaction method on a sparse network (docs/models.md).
  static constexpr double margin_fraction = 1.0;

  static std::string check(const params& p) {
    if (!(p.mu >= 0)) return "mu must be >= 0";
    if (!(p.tau > 0)) return "tau must be > 0";
    return {};
  }
  static void prepare(params& p) {
    p.inv_tau = 1 / p.tau;
    p.jump = 1e3 / p.tau;
  }
  static state initial(const params&) { return {}; }

  GS_HD static void advance(state& s, const params& p, double h) { s.h *= std::exp(-h * p.inv_tau); }
  GS_HD static void receive(state& s, const params& p, double w, int receptor) {
    if (receptor == dc_receptor) s.mu_dc += w;
    else s.h += w * p.jump;
  }
  GS_HD static bool crossed(const state&, const params&) { return false; }
  GS_HD static void reset(state&, const params&) {}

  // Clamped at 0, which only a negative weight given with an explicit "excitatory" receptor or a
  // negative DC can reach; the model is then no longer linear.
  GS_HD static double hazard(const state& s, const params& p) { return std::max(0.0, p.mu + s.mu_dc + s.h) * 1e-3; }
  // h only decays toward 0, so lambda stays below max(mu, 0) + max(h, 0) for good; inputs add
  // their jumps.
  GS_HD static rate_bound hazard_bound(const state& s, const params& p) {
    const double top = std::max(0.0, p.mu + s.mu_dc) + std::max(0.0, s.h);
    const double margin = margin_fraction * top;
    return {(top + margin) * 1e-3, margin, 0};
  }
  static double input_effect(const params& p, double w, int receptor) {
    return w <= 0 ? 0 : receptor == dc_receptor ? w : w * p.jump;
  }
};

// lambda(t) = lambda_0 f(mu + h_ex + h_in), an input spike of weight w adding w to h_ex
// (excitatory) or h_in (inhibitory, w < 0), which decay with tau_ex, tau_in. f by `link`:
// 0 exp(x), 1 max(0, x), 2 log(1 + exp(x)) (softplus).
struct hawkes_nonlinear {
  static constexpr std::string_view name = "hawkes_nonlinear";
  static constexpr std::string_view doc =
      "nonlinear Hawkes process: intensity lambda_0 f(mu + h_ex + h_in), input spikes add w to h_ex or "
      "h_in, which decay exponentially; link 0: f = exp, 1: max(0, x), 2: softplus log(1 + e^x)";

  enum link_t { exponential = 0, rectified = 1, softplus = 2 };

  struct params {
    double lambda_0 = 10, mu = 0, tau_ex = 10, tau_in = 10, link = 0;  // Hz, 1, ms, ms, code
    double inv_tau_ex = 0, inv_tau_in = 0, c_0 = 0;                    // derived
    int f = exponential;                                               // derived from link
  };
  struct state {
    double h_ex = 0, h_in = 0, mu_dc = 0;
  };

  static constexpr std::array param_table{
      field<params>{"lambda_0", "Hz", &params::lambda_0, "intensity scale: lambda = lambda_0 f(x)"},
      field<params>{"mu", "1", &params::mu, "baseline drive x without input"},
      field<params>{"tau_ex", "ms", &params::tau_ex, "decay time of excitatory input (h_ex)"},
      field<params>{"tau_in", "ms", &params::tau_in, "decay time of inhibitory input (h_in)"},
      field<params>{"link", "", &params::link, "f: 0 exponential, 1 rectified linear, 2 softplus"},
  };
  static constexpr std::array state_table{
      field<state>{"h_ex", "1", &state::h_ex, "excitatory input drive"},
      field<state>{"h_in", "1", &state::h_in, "inhibitory input drive (<= 0)"},
      field<state>{"mu_dc", "1", &state::mu_dc, "drive added by DC generators (amplitude read in x units)"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.lambda_0 >= 0)) return "lambda_0 must be >= 0";
    if (!(p.tau_ex > 0)) return "tau_ex must be > 0";
    if (!(p.tau_in > 0)) return "tau_in must be > 0";
    if (!(p.link == 0 || p.link == 1 || p.link == 2))
      return "link must be 0 (exponential), 1 (rectified linear) or 2 (softplus)";
    return {};
  }
  static void prepare(params& p) {
    p.inv_tau_ex = 1 / p.tau_ex;
    p.inv_tau_in = 1 / p.tau_in;
    p.c_0 = p.lambda_0 * 1e-3;
    p.f = static_cast<int>(p.link);
  }
  static state initial(const params&) { return {}; }

  GS_HD static void advance(state& s, const params& p, double h) {
    s.h_ex *= std::exp(-h * p.inv_tau_ex);
    s.h_in *= std::exp(-h * p.inv_tau_in);
  }
  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == dc_receptor) s.mu_dc += w;
    else if (receptor == 0) s.h_ex += w;
    else s.h_in += w;
  }
  GS_HD static bool crossed(const state&, const params&) { return false; }
  GS_HD static void reset(state&, const params&) {}

  // f(x) times lambda_0, in 1/ms; non-decreasing in x for every link.
  GS_HD static double intensity(const params& p, double x) {
    switch (p.f) {
      case exponential: return p.c_0 * std::exp(x);
      case rectified: return p.c_0 * std::max(0.0, x);
      default: return p.c_0 * (x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)));
    }
  }
  GS_HD static double hazard(const state& s, const params& p) {
    return intensity(p, p.mu + s.mu_dc + s.h_ex + s.h_in);
  }
  // Each kernel decays toward 0: a positive part only falls, a negative part only rises toward
  // 0. So the drive stays below mu + max(h_ex, 0) + max(h_in, 0) for all later times (h_in < 0
  // cannot lower a bound that must hold for good), plus what inputs add. For the rectified link
  // the hazard is exactly 0 while inhibition still holds that bound below 0: with
  // a = mu + max(h_ex, 0) + margin > 0 and h_in < -a, for tau_in ln(-h_in / a) ms.
  // Margins (the fastest of 0.25, 0.5 and 1 times these on an E/I network): 0.5 in x for the
  // exponential link (a factor e^0.5 on the bound); max(1, |x|) for the rectified one, where f
  // grows linearly; max(1, x) for softplus, linear above 0 and exponential below.
  GS_HD static rate_bound hazard_bound(const state& s, const params& p) {
    const double top = p.mu + s.mu_dc + std::max(0.0, s.h_ex) + std::max(0.0, s.h_in);
    double margin = 0.5, dead = 0;
    if (p.f == rectified) {
      margin = std::max(1.0, std::abs(top));
      const double a = top + margin;
      if (a > 0 && s.h_in < -a) dead = p.tau_in * std::log(-s.h_in / a);
    } else if (p.f == softplus) {
      margin = std::max(1.0, top);
    }
    return {intensity(p, top + margin), margin, dead};
  }
  static double input_effect(const params&, double w, int) { return std::max(0.0, w); }
};

}  // namespace gs
