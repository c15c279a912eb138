// LIF neurons under constant suprathreshold drive against the closed-form interspike interval
// T = t_ref + tau_m ln((V_inf - V_reset) / (V_inf - V_th)), V_inf = E_L + tau_m I / C_m.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "tests/support/sim.hpp"

using namespace gs;

namespace {

std::string single_neuron(const std::string& model, const std::string& extra_params, const std::string& stimuli) {
  return fmt::format(R"({{
    "run": {{"duration": 1000.0, "seed": 3}},
    "populations": {{"n": {{"size": 1, "model": "{}",
      "params": {{"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0 {}}}}}}},
    "stimuli": [{}],
    "recorders": [{{"spikes": {{}}}}]
  }})", model, extra_params, stimuli);
}

void check_regular(const std::vector<double>& t, double first, double isi) {
  REQUIRE(t.size() > 10);
  CHECK(std::fabs(t[0] - first) <= 1e-9 * first);
  for (size_t k = 1; k < t.size(); ++k) CHECK(std::fabs((t[k] - t[k - 1]) - isi) <= 1e-9 * isi);
  // No spike was lost: the count over 1000 ms is what the interval predicts.
  CHECK(t.size() == static_cast<size_t>(std::floor((1000.0 - first) / isi)) + 1);
}

}  // namespace

TEST_CASE("constant bias current: closed-form interspike interval") {
  const double v_inf = -70.0 + 10.0 * 500.0 / 250.0;  // -50 mV
  const double rise = 10.0 * std::log((v_inf + 70.0) / (v_inf + 55.0));
  for (const char* model : {"lif_psc_exp", "lif_psc_delta"}) {
    CAPTURE(model);
    const auto run = test::simulate_json(single_neuron(model, R"(, "I_e": 500.0)", ""));
    check_regular(test::spikes_of(run.res, 0), rise, 2.0 + rise);
  }
}

TEST_CASE("DC generator step: first spike and interval from the closed form") {
  // From rest, a 400 pA step at 100 ms: V_inf = -54 mV.
  const double v_inf = -70.0 + 10.0 * 400.0 / 250.0;
  const double rise = 10.0 * std::log((v_inf + 70.0) / (v_inf + 55.0));
  for (const char* model : {"lif_psc_exp", "lif_psc_delta"}) {
    CAPTURE(model);
    const auto run = test::simulate_json(
        single_neuron(model, "", R"({"dc": {"target": "n", "amplitude": 400.0, "start": 100.0}})"));
    check_regular(test::spikes_of(run.res, 0), 100.0 + rise, 2.0 + rise);
  }
}

TEST_CASE("subthreshold drive never fires") {
  const auto run = test::simulate_json(single_neuron("lif_psc_exp", R"(, "I_e": 370.0)", ""));  // V_inf -55.2
  CHECK(run.res.spike_times.empty());
}

TEST_CASE("DC amplitude drawn per target: each neuron follows the closed form of its own current") {
  const auto run = test::simulate_json(R"({
    "run": {"duration": 300.0, "seed": 4},
    "populations": {"n": {"size": 200, "model": "lif_psc_delta",
      "params": {"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0}}},
    "stimuli": [{"dc": {"target": "n", "amplitude": {"uniform": [400.0, 500.0]}, "start": 10.0}}],
    "recorders": [{"spikes": {}}]
  })");
  double sum = 0;
  for (uint32_t g = 0; g < 200; ++g) {
    const auto t = test::spikes_of(run.res, g);
    REQUIRE(t.size() > 5);
    // The current implied by the interspike interval, then the first spike it predicts from rest.
    const double x = std::exp((t[1] - t[0] - 2.0) / 10.0);
    const double v_inf = (-70.0 - x * -55.0) / (1 - x), current = (v_inf + 70.0) * 250.0 / 10.0;
    CHECK(current >= 400.0 - 1e-6);
    CHECK(current <= 500.0 + 1e-6);
    CHECK(std::fabs(t[0] - (10.0 + 10.0 * std::log((v_inf + 70.0) / (v_inf + 55.0)))) <= 1e-8);
    for (size_t k = 2; k < t.size(); ++k) CHECK(std::fabs((t[k] - t[k - 1]) - (t[1] - t[0])) <= 1e-9);
    sum += current;
  }
  // Uniform on [400, 500]: mean 450, standard error 100 / sqrt(12 * 200).
  CHECK(std::fabs(sum / 200 - 450.0) <= 3 * 100 / std::sqrt(12.0 * 200));
}
