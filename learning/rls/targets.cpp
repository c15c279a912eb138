// The built-in RLS target generator, registered as a plugin's would be (registry::add_target):
// one sinusoid per trained neuron with a random phase, the reference default of TrainSpikingNet
// (Arthur et al. 2023), around the neuron's mean current before training.
#include <cmath>
#include <numbers>

#include "engine/rng.hpp"
#include "plugins/registry.hpp"

namespace gs {

void register_builtin_targets(registry& reg) {
  target_info sin;
  sin.name = "sinusoids";
  sin.origin = "built-in";
  sin.doc = "per neuron amplitude * sin(2 pi (t - phase) / period) + its mean current, phase uniform in [0, period)";
  sin.params = {{"amplitude", "", "amplitude, in the units of the trained current", 0.5},
                {"period", "ms", "period", 1000},
                {"around_mean", "", "add each neuron's mean current before training (else centre on 0)", 1,
                 param_info::boolean}};
  sin.check = [](const json& p) -> std::pair<std::string, std::string> {
    if (!(p["period"].get<double>() > 0)) return {"period", "must be > 0"};
    return {};
  };
  sin.make = [](const json& p, const target_context& c) {
    const double amplitude = p["amplitude"].get<double>(), period = p["period"].get<double>();
    const bool around_mean = p["around_mean"].get<bool>();
    const size_t n_t = c.times_ms.size();
    std::vector<double> out(size_t(c.neurons) * n_t);
    for (uint32_t i = 0; i < c.neurons; ++i) {
      const double phase = period * rng_stream(c.seed, rng_purpose::rls_target, i).uniform();
      const double mean = around_mean ? c.mean_current[i] : 0.0;
      for (size_t j = 0; j < n_t; ++j)
        out[i * n_t + j] = amplitude * std::sin(2 * std::numbers::pi * (c.times_ms[j] - phase) / period) + mean;
    }
    return out;
  };
  reg.add_target(std::move(sin));
}

}  // namespace gs
