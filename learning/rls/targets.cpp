// The built-in RLS target generators, registered as a plugin's would be (registry::add_target):
// "sinusoids", one sinusoid per trained neuron with a random phase, the reference default of
// TrainSpikingNet (Arthur et al. 2023), around the neuron's mean current before training; and
// "psth", target rates (PSTHs) turned into the currents that give them (learning/rls/lif_rate.hpp).
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "engine/rng.hpp"
#include "io/config.hpp"
#include "io/npy.hpp"
#include "learning/rls/lif_rate.hpp"
#include "plugins/registry.hpp"

namespace gs {

namespace {

rls::lif_noise neuron_of(const json& p) {
  const double E_L = p["E_L"].get<double>();
  return {p["tau_m"].get<double>(), p["V_th"].get<double>() - E_L, p["V_reset"].get<double>() - E_L,
          p["t_ref"].get<double>(), p["sigma"].get<double>()};
}

// The rates file: neurons x bins, in Hz.
std::vector<double> read_rates(const json& p, size_t& rows, size_t& cols) {
  return io::read_npy_matrix(p["file"].get<std::string>(), rows, cols);
}

target_info psth_generator() {
  constexpr double required = std::numeric_limits<double>::quiet_NaN();
  target_info t;
  t.name = "psth";
  t.origin = "built-in";
  t.doc = "per neuron the mean synaptic current at which a noise-driven LIF neuron fires at the rate of the PSTH "
          "file (neurons x bins, Hz) in the bin that ends at or after the learning time (Siegert's formula, inverted)";
  t.params = {{"file", "", "2-D float .npy: one row per trained neuron, one column per bin, rates in Hz", required,
               param_info::file},
              {"bin", "ms", "width of the file's bins; column k covers (k bin, (k + 1) bin]", required},
              {"sigma", "mV", "input noise: tau_m dV/dt = -(V - E_L) + R I + sigma sqrt(tau_m) xi(t)", required},
              {"tau_m", "ms", "membrane time constant of the trained neurons", 10},
              {"C_m", "pF", "membrane capacitance (R = tau_m / C_m)", 250},
              {"E_L", "mV", "resting potential", -70},
              {"V_th", "mV", "threshold", -55},
              {"V_reset", "mV", "reset potential", -70},
              {"t_ref", "ms", "refractory period, > 0", 2},
              {"I_e", "pA", "bias current the neurons also receive, taken off the target", 0}};
  t.check = [](const json& p) -> std::pair<std::string, std::string> {
    for (const char* k : {"bin", "sigma", "tau_m", "C_m", "t_ref"})
      if (!(p[k].get<double>() > 0)) return {k, "must be > 0"};
    if (!(p["V_th"].get<double>() > p["V_reset"].get<double>())) return {"V_th", "must be above V_reset"};
    size_t rows = 0, cols = 0;
    std::vector<double> rates;
    try {
      rates = read_rates(p, rows, cols);
    } catch (const std::exception& e) {
      return {"file", e.what()};
    }
    const double max_rate = 0.95 * 1000 / p["t_ref"].get<double>();
    for (size_t k = 0; k < rates.size(); ++k)
      if (!(rates[k] >= 0 && rates[k] < max_rate))
        return {"file", fmt::format("rate of neuron {} in bin {} is {} Hz; expected >= 0 and below 0.95 / t_ref = {} Hz",
                                    k / cols, k % cols, rates[k], max_rate)};
    return {};
  };
  t.make = [](const json& p, const target_context& c) {
    const std::string file = p["file"].get<std::string>(), where = "learning.rls.targets.generator.psth.file";
    size_t rows = 0, cols = 0;
    const std::vector<double> rates = read_rates(p, rows, cols);
    const double bin = p["bin"].get<double>();
    if (rows != c.neurons)
      throw config_error(file, where, fmt::format("expected one row per trained neuron ({}), found {} rows", c.neurons, rows));
    // Each learning time t takes the bin that ends at or after it: column ceil(t / bin) - 1.
    std::vector<size_t> column;
    for (double t : c.times_ms) {
      const double k = std::ceil(t / bin - 1e-9) - 1;
      if (k >= double(cols))
        throw config_error(file, where, fmt::format("{} bins of {} ms end at {} ms, before the learning time {} ms", cols,
                                                    bin, cols * bin, t));
      column.push_back(size_t(std::max(k, 0.0)));
    }
    const std::vector<double> mu = rls::lif_inputs_for_rates(rates, neuron_of(p));
    const double to_current = p["C_m"].get<double>() / p["tau_m"].get<double>(), I_e = p["I_e"].get<double>();
    std::vector<double> out(size_t(c.neurons) * c.times_ms.size());
    for (size_t i = 0; i < c.neurons; ++i)
      for (size_t j = 0; j < column.size(); ++j) out[i * column.size() + j] = mu[i * cols + column[j]] * to_current - I_e;
    return out;
  };
  return t;
}

}  // namespace

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
  reg.add_target(psth_generator());
}

}  // namespace gs
