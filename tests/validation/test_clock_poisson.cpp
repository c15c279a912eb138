// The clock backend draws a Poisson stimulus's inputs as per-step counts per target. Each target
// here is a lossless counter (a delta-synapse neuron with no leak and an unreachable threshold,
// 1 mV per input), so its V_m is the number of inputs received. Checked against the Poisson law:
// per-step counts (small and large means), totals over windows with piecewise rates and start
// and stop off the grid, independence of targets, and the same counts on 1 and 2 threads.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/support/sim.hpp"

using namespace gs;

namespace {

std::string counters(uint32_t n, const std::string& poisson, double duration, double interval) {
  std::vector<uint32_t> ids(n);
  for (uint32_t i = 0; i < n; ++i) ids[i] = i;
  return fmt::format(R"({{
    "run": {{"duration": {}, "seed": 5, "backend": "clock", "dt": 0.1}},
    "populations": {{"c": {{"size": {}, "model": "lif_psc_delta",
                           "params": {{"tau_m": 1e15, "E_L": 0.0, "V_reset": 0.0, "V_th": 1e12, "t_ref": 0.0}},
                           "initial": {{"V_m": 0.0}}}}}},
    "stimuli": [{{"poisson": {}}}],
    "recorders": [{{"state": {{"population": "c", "variables": ["V_m"], "interval": {}, "ids": [{}]}}}}]
  }})",
                     duration, n, poisson, interval, fmt::join(ids, ", "));
}

// The count of every target at each sample, [sample][target]: V_m rounded (the leak left by
// tau_m = 1e15 ms takes less than 1e-10 mV off it over these runs).
std::vector<std::vector<double>> samples(const run_result& res, uint32_t n) {
  const auto& v = res.traces.at(0).values.at(0);
  std::vector<std::vector<double>> out(v.size() / n);
  for (size_t s = 0; s < out.size(); ++s)
    for (size_t i = 0; i < n; ++i) out[s].push_back(std::round(v[s * n + i]));
  return out;
}

double pmf(double lambda, int k) { return std::exp(-lambda + k * std::log(lambda) - std::lgamma(k + 1.0)); }

// Counts against Poisson(lambda): mean and variance within 3 standard errors, and the frequency
// of each count with at least 1% of the mass within 3 standard errors.
void check_poisson(const std::vector<double>& counts, double lambda) {
  const double n = static_cast<double>(counts.size());
  double sum = 0, sq = 0;
  for (double c : counts) sum += c, sq += c * c;
  const double mean = sum / n, var = (sq - n * mean * mean) / (n - 1);
  CAPTURE(lambda);
  CHECK(std::fabs(mean - lambda) < 3 * std::sqrt(lambda / n));
  // Var of a sample variance of Poisson counts: (mu4 - sigma^4 (n - 3) / (n - 1)) / n, with
  // mu4 = lambda (1 + 3 lambda).
  CHECK(std::fabs(var - lambda) < 3 * std::sqrt((lambda * (1 + 3 * lambda) - lambda * lambda) / n));
  for (int k = 0; k < 10 * lambda + 10; ++k) {
    const double p = pmf(lambda, k);
    if (p < 0.01) continue;
    double seen = 0;
    for (double c : counts) seen += (c == k);
    INFO(fmt::format("count {}: {} seen, {:.1f} expected", k, seen, n * p));
    CHECK(std::fabs(seen - n * p) < 3 * std::sqrt(n * p * (1 - p)));
  }
}

// Per-step counts: differences of successive samples, every target and step.
std::vector<double> per_step(const std::vector<std::vector<double>>& s) {
  std::vector<double> out;
  for (size_t k = 1; k < s.size(); ++k)
    for (size_t i = 0; i < s[k].size(); ++i) out.push_back(s[k][i] - s[k - 1][i]);
  return out;
}

}  // namespace

TEST_CASE("per-step counts follow the Poisson law, small and large means") {
  // 2 kHz: lambda 0.2 per 0.1 ms step (counts by linear search); 1 MHz: lambda 100 (the table
  // starts above 0 and is searched by bisection).
  for (double rate : {2000.0, 1e6}) {
    const uint32_t n = 50;
    const auto run = test::simulate_json(counters(n, fmt::format(R"({{"target": "c", "rate": {}}})", rate), 50.05, 0.1));
    const auto s = samples(run.res, n);
    REQUIRE(s.size() == 501);
    check_poisson(per_step(s), rate * 1e-4);
  }
}

TEST_CASE("piecewise rates, start and stop off the grid: totals per target") {
  // 0 Hz until 20 ms, then 3 kHz until 60 ms, then 1 kHz; the stimulus runs over [10.05, 90.05).
  const uint32_t n = 2000;
  const auto run = test::simulate_json(
      counters(n, R"({"target": "c", "rate_times": [0.0, 20.0, 60.0], "rate_values": [0.0, 3000.0, 1000.0],
                      "start": 10.05, "stop": 90.05})",
               100, 20));
  const auto s = samples(run.res, n);  // at 0, 20, 40, 60, 80 ms (samples are taken before the end)
  REQUIRE(s.size() == 5);
  std::vector<double> middle, tail;
  for (uint32_t i = 0; i < n; ++i) {
    CHECK(s[1][i] == 0);                 // (0, 20]: rate 0, and nothing before the start
    middle.push_back(s[3][i] - s[1][i]);  // (20, 60]: 3 kHz for 40 ms
    tail.push_back(s[4][i] - s[3][i]);    // (60, 80]: 1 kHz for 20 ms
  }
  check_poisson(middle, 3000 * 40e-3);
  check_poisson(tail, 1000 * 20e-3);
}

TEST_CASE("a step cut by start or stop gets the part of the rate inside") {
  // 200 kHz over [10.05, 10.25): half of step (10.0, 10.1], all of (10.1, 10.2], half of (10.2, 10.3].
  const uint32_t n = 4000;
  const auto run = test::simulate_json(
      counters(n, R"({"target": "c", "rate": 200000.0, "start": 10.05, "stop": 10.25})", 10.45, 0.1));
  const auto s = samples(run.res, n);
  REQUIRE(s.size() == 105);
  auto step = [&](size_t k) {  // counts of the step that ends at k * 0.1 ms
    std::vector<double> c;
    for (uint32_t i = 0; i < n; ++i) c.push_back(s[k][i] - s[k - 1][i]);
    return c;
  };
  for (double c : step(100)) CHECK(c == 0);  // (9.9, 10.0]
  check_poisson(step(101), 10.0);             // (10.0, 10.1]: 0.05 ms
  check_poisson(step(102), 20.0);
  check_poisson(step(103), 10.0);
  for (double c : step(104)) CHECK(c == 0);
}

TEST_CASE("targets are independent and the counts do not depend on the thread count") {
  const uint32_t n = 1000;
  const std::string text = counters(n, R"({"target": "c", "rate": 5000.0})", 20.05, 20);
  const auto one = test::simulate_json(text, {"run.threads=1"});
  const auto two = test::simulate_json(text, {"run.threads=2"});
  CHECK(one.res.traces[0].values == two.res.traces[0].values);
  // Neighbouring targets' totals are uncorrelated (|r| within 3 / sqrt(n)).
  const auto s = samples(one.res, n);
  REQUIRE(s.size() == 2);
  std::vector<double> a, b;
  for (uint32_t i = 0; i + 1 < n; i += 2) a.push_back(s[1][i]), b.push_back(s[1][i + 1]);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= a.size(), mb /= b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  CHECK(std::fabs(sab / std::sqrt(saa * sbb)) < 3 / std::sqrt(double(a.size())));
  check_poisson(s[1], 5000 * 20e-3);
}
