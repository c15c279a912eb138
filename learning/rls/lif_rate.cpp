#include "learning/rls/lif_rate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace gs::rls {

namespace {

// exp(x^2) erfc(x), without overflow for large x (asymptotic series past 25).
double erfcx(double x) {
  if (x < 25) return std::exp(x * x) * std::erfc(x);
  const double x2 = x * x;
  return (1 - 1 / (2 * x2) + 3 / (4 * x2 * x2)) / (x * std::sqrt(std::numbers::pi));
}

}  // namespace

double lif_rate(double mu, const lif_noise& n) {
  // exp(u^2) (1 + erf u) = erfcx(-u); Simpson's rule with steps of at most 0.01 in u.
  const double a = (n.V_reset - mu) / n.sigma, b = (n.V_th - mu) / n.sigma;
  const int panels = 2 * std::max(100, int(std::ceil((b - a) / 0.02)));
  const double h = (b - a) / panels;
  double sum = erfcx(-a) + erfcx(-b);
  for (int k = 1; k < panels; ++k) sum += (k % 2 ? 4 : 2) * erfcx(-(a + k * h));
  const double integral = sum * h / 3;
  return 1000 / (n.t_ref + n.tau_m * std::sqrt(std::numbers::pi) * integral);
}

std::vector<double> lif_inputs_for_rates(const std::vector<double>& rates_hz, const lif_noise& n, double min_rate) {
  const double max_rate = 0.95 * 1000 / n.t_ref;
  double lowest = max_rate, highest = min_rate;
  for (double r : rates_hz) {
    if (!(r < max_rate))
      throw std::invalid_argument(fmt::format("rate {} Hz is not below 0.95 / t_ref = {} Hz", r, max_rate));
    lowest = std::min(lowest, std::max(r, min_rate));
    highest = std::max(highest, r);
  }
  // The table spans only the rates asked for: [lo, hi] with rate(lo) <= lowest and rate(hi) >=
  // highest (rate rises with mu), found by steps that double.
  const double first_step = n.sigma + (n.V_th - n.V_reset);
  double lo = n.V_th, hi = n.V_th;
  for (double step = first_step; lif_rate(lo, n) > lowest; step *= 2) lo -= step;
  for (double step = first_step; lif_rate(hi, n) < highest; step *= 2) hi += step;
  constexpr int points = 2048;
  std::vector<double> mu(points), log_rate(points);
  for (int k = 0; k < points; ++k) {
    mu[k] = lo + (hi - lo) * k / (points - 1);
    log_rate[k] = std::log(lif_rate(mu[k], n));
  }
  std::vector<double> out;
  out.reserve(rates_hz.size());
  for (double r : rates_hz) {
    const double x = std::log(std::max(r, min_rate));
    const auto k = size_t(std::clamp<std::ptrdiff_t>(
        std::upper_bound(log_rate.begin(), log_rate.end(), x) - log_rate.begin(), 1, points - 1));
    const double f = (x - log_rate[k - 1]) / (log_rate[k] - log_rate[k - 1]);
    out.push_back(mu[k - 1] + f * (mu[k] - mu[k - 1]));
  }
  return out;
}

}  // namespace gs::rls
