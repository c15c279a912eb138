// The exponential-current LIF under a fixed input spike train, against an adaptive
// Dormand-Prince 5(4) integration of the ODEs (tests/support/reference_lif.hpp, relative
// tolerance 1e-12). Nothing of the model's propagator is reused.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <vector>

#include "tests/support/reference_lif.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

// Spike times of one neuron under (time, weight, receptor) inputs, by the reference integrator.
std::vector<double> reference_spikes(const test::lif_exp_reference& ref, double T,
                                     const std::vector<std::tuple<double, double, int>>& inputs) {
  std::vector<double> out;
  test::lif_exp_reference::neuron n{ref.E_L};
  double t = 0;
  size_t next = 0;
  while (t < T) {
    const double stop = next < inputs.size() ? std::get<0>(inputs[next]) : T;
    const double cross = ref.advance(n, t, stop);
    if (cross < stop) {
      out.push_back(cross);
      ref.fire(n, cross);
      t = cross;
      continue;
    }
    t = stop;
    while (next < inputs.size() && std::get<0>(inputs[next]) <= t) {
      auto [ti, w, rec] = inputs[next++];
      (rec == 0 ? n.I_ex : n.I_in) += w;
    }
  }
  return out;
}

std::vector<double> times_json(const std::vector<double>& t) {
  return t;
}

void compare(double tau_ex, double tau_in) {
  // A fixed, irregular input train from a small LCG: excitatory and inhibitory spikes.
  std::vector<double> ex, in;
  test::lcg uni{12345};
  for (double t = 0;;) {
    t += -std::log(1 - uni()) * 1.5;
    if (t >= 500) break;
    (uni() < 0.75 ? ex : in).push_back(std::round(t * 1e4) / 1e4);
  }
  const test::lif_exp_reference ref{10.0, 250.0, -70.0, -55.0, -70.0, 2.0, tau_ex, tau_in, 300.0};
  std::vector<std::tuple<double, double, int>> inputs;
  for (double t : ex) inputs.emplace_back(t, 300.0, 0);
  for (double t : in) inputs.emplace_back(t, -200.0, 1);
  std::sort(inputs.begin(), inputs.end());
  const std::vector<double> expected = reference_spikes(ref, 500.0, inputs);

  const std::string cfg = fmt::format(R"({{
    "run": {{"duration": 500.0}},
    "populations": {{"n": {{"size": 1, "model": "lif_psc_exp",
      "params": {{"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0,
                 "tau_syn_ex": {}, "tau_syn_in": {}, "I_e": 300.0}}}}}},
    "stimuli": [{{"spike_generator": {{"target": "n", "spike_times": {}, "weight": 300.0, "receptor": "excitatory"}}}},
                {{"spike_generator": {{"target": "n", "spike_times": {}, "weight": -200.0, "receptor": "inhibitory"}}}}],
    "recorders": [{{"spikes": {{}}}}]
  }})", tau_ex, tau_in, fmt::format("[{}]", fmt::join(times_json(ex), ",")),
                                      fmt::format("[{}]", fmt::join(times_json(in), ",")));
  const auto run = test::simulate_json(cfg);
  const auto got = test::spikes_of(run.res, 0);
  REQUIRE(expected.size() > 20);
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::fabs(got[k] - expected[k]));
  MESSAGE(fmt::format("tau_syn {} / {}: {} spikes, largest difference {:.3g} ms", tau_ex, tau_in, got.size(), worst));
  CHECK(worst <= 1e-6);
}

}  // namespace

TEST_CASE("commensurate (tau_m = 5 tau_ex) and unrelated (tau_in = 3) synaptic time constants") {
  compare(2.0, 3.0);
}

TEST_CASE("both synaptic time constants divide tau_m (inputs summed per row, then folded in)") {
  compare(2.0, 5.0);
}

TEST_CASE("synaptic time constant equal to the membrane's") {
  compare(10.0, 3.7);
}
