// Statistics for validation tests: one-sample and two-sample Kolmogorov-Smirnov tests with the
// asymptotic p-value (Stephens' small-sample correction), and spike-train summaries.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace gs::test {

// P(D > d) for the Kolmogorov distribution at effective sample size n.
inline double ks_p_value(double d, double n) {
  const double sn = std::sqrt(n);
  const double lambda = (sn + 0.12 + 0.11 / sn) * d;
  if (lambda < 0.2) return 1.0;
  double p = 0;
  for (int k = 1; k <= 100; ++k) p += 2 * ((k % 2) ? 1.0 : -1.0) * std::exp(-2.0 * k * k * lambda * lambda);
  return std::clamp(p, 0.0, 1.0);
}

struct ks_result {
  double d, p;
};

// Sample against a continuous CDF.
inline ks_result ks_test(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, f - static_cast<double>(i) / n, static_cast<double>(i + 1) / n - f});
  }
  return {d, ks_p_value(d, n)};
}

// Two samples from the same distribution?
inline ks_result ks_test_2(std::vector<double> a, std::vector<double> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double v = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / na - static_cast<double>(j) / nb));
  }
  return {d, ks_p_value(d, na * nb / (na + nb))};
}

// Mean over neurons of the ISI coefficient of variation (sample standard deviation / mean),
// for neurons with at least 4 spikes.
inline double mean_isi_cv(const std::vector<std::vector<double>>& trains) {
  double cv_sum = 0;
  int cv_n = 0;
  for (const auto& t : trains) {
    if (t.size() < 4) continue;
    double m = 0, m2 = 0;
    for (size_t k = 1; k < t.size(); ++k) m += t[k] - t[k - 1];
    m /= static_cast<double>(t.size() - 1);
    for (size_t k = 1; k < t.size(); ++k) m2 += (t[k] - t[k - 1] - m) * (t[k] - t[k - 1] - m);
    cv_sum += std::sqrt(m2 / static_cast<double>(t.size() - 2)) / m;
    ++cv_n;
  }
  return cv_sum / cv_n;
}

}  // namespace gs::test
