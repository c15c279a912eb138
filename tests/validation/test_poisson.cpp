// Poisson sources, recorded through parrot neurons: counts against the rate within 3 standard
// errors, interspike intervals exponential (CV within 0.05 of 1), piecewise rates and windows.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "tests/support/sim.hpp"

using namespace gs;

namespace {

std::string parrots(uint32_t n, const std::string& poisson, double duration) {
  return fmt::format(R"({{
    "run": {{"duration": {}, "seed": 11}},
    "populations": {{"p": {{"size": {}, "model": "parrot_neuron"}}}},
    "stimuli": [{{"poisson": {}}}],
    "recorders": [{{"spikes": {{}}}}]
  }})", duration, n, poisson);
}

// Count of spikes in [a, b) against n * rate * (b - a), within 3 Poisson standard errors.
void check_count(const run_result& res, double a, double b, uint32_t n, double rate_hz) {
  size_t count = 0;
  for (double t : res.spike_times) count += (t >= a && t < b);
  const double expected = n * rate_hz * (b - a) * 1e-3;
  CAPTURE(a);
  CAPTURE(b);
  CHECK(std::fabs(static_cast<double>(count) - expected) <= 3 * std::sqrt(expected));
}

}  // namespace

TEST_CASE("constant rate: count and interspike-interval CV per target") {
  const uint32_t n = 500;
  const auto run = test::simulate_json(parrots(n, R"({"target": "p", "rate": 20.0})", 10000.0));
  check_count(run.res, 0, 10000, n, 20.0);
  std::vector<std::vector<double>> per(n);
  for (size_t k = 0; k < run.res.spike_times.size(); ++k) per[run.res.spike_gids[k]].push_back(run.res.spike_times[k]);
  double cv_sum = 0;
  for (const auto& t : per) {
    REQUIRE(t.size() > 10);
    double m = 0, m2 = 0;
    for (size_t k = 1; k < t.size(); ++k) m += t[k] - t[k - 1];
    m /= static_cast<double>(t.size() - 1);
    for (size_t k = 1; k < t.size(); ++k) m2 += (t[k] - t[k - 1] - m) * (t[k] - t[k - 1] - m);
    cv_sum += std::sqrt(m2 / static_cast<double>(t.size() - 2)) / m;
  }
  const double cv = cv_sum / n;
  MESSAGE(fmt::format("mean ISI CV {:.4f}", cv));
  CHECK(std::fabs(cv - 1.0) <= 0.05);
}

TEST_CASE("piecewise-constant rate, start and stop") {
  const uint32_t n = 200;
  const auto run = test::simulate_json(
      parrots(n, R"({"target": "p", "rate_times": [0.0, 2000.0, 3000.0], "rate_values": [5.0, 50.0, 0.0],
                    "start": 500.0, "stop": 4000.0})", 5000.0));
  check_count(run.res, 0, 500, n, 0.0);
  check_count(run.res, 500, 2000, n, 5.0);
  check_count(run.res, 2000, 3000, n, 50.0);
  check_count(run.res, 3000, 5000, n, 0.0);
}

TEST_CASE("ids restrict the targets") {
  const auto run = test::simulate_json(parrots(10, R"({"target": "p", "ids": [2, 7], "rate": 100.0})", 1000.0));
  REQUIRE(!run.res.spike_gids.empty());
  for (uint32_t g : run.res.spike_gids) CHECK((g == 2 || g == 7));
}
