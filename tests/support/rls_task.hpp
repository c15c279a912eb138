// The 200-neuron version of the RLS reference task that the RLS tests train (test_rls_training on
// the CPU, test_rls_cuda with the updates on a GPU), as run-file text.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cli.hpp"

namespace gs::test {

// 100 excitatory and 100 inhibitory LIF neurons in the reference's units (threshold 1, reset 0,
// tau_m 10 ms, C_m = tau_m): static input through receptor "inhibitory" (3 ms), 10 + 10 plastic
// inputs per neuron through receptor "excitatory" (150 ms), a Poisson cue in [100, 200) ms and
// learning in (200, 1200] ms.
inline std::string small_task(const std::string& backend = "clock") {
  const std::string lif = R"("model": "lif_psc_exp",
      "params": {"tau_m": 10.0, "C_m": 10.0, "E_L": 0.0, "V_th": 1.0, "V_reset": 0.0, "t_ref": 0.1,
                 "tau_syn_ex": 150.0, "tau_syn_in": 3.0, "I_e": IE},
      "initial": {"V_m": {"normal": {"mean": 0.0, "std": 1.0}}})";
  auto pop = [&](const char* ie) {
    std::string s = lif;
    return s.replace(s.find("IE"), 2, ie);
  };
  return fmt::format(R"({{
  "run": {{"duration": 1200.0, "seed": 7, "backend": "{}", "dt": 0.1}},
  "populations": {{"exc": {{"size": 100, {}}}, "inh": {{"size": 100, {}}}}},
  "projections": [
    {{"source": "exc", "target": ["exc", "inh"], "rule": {{"fixed_outdegree": {{"outdegree": 20, "allow_multapses": false}}}},
     "weight": 0.15, "delay": 0.1, "receptor": "inhibitory"}},
    {{"source": "inh", "target": ["exc", "inh"], "rule": {{"fixed_outdegree": {{"outdegree": 20, "allow_multapses": false}}}},
     "weight": -0.3, "delay": 0.1, "receptor": "inhibitory"}},
    {{"name": "plastic_exc", "source": "exc", "target": ["exc", "inh"], "rule": {{"fixed_indegree": {{"indegree": 10, "allow_multapses": false}}}},
     "weight": 0.0124, "delay": 0.1, "receptor": "excitatory"}},
    {{"name": "plastic_inh", "source": "inh", "target": ["exc", "inh"], "rule": {{"fixed_indegree": {{"indegree": 10, "allow_multapses": false}}}},
     "weight": -0.0124, "delay": 0.1, "receptor": "excitatory"}}
  ],
  "stimuli": [{{"poisson": {{"rate": 500.0, "target": ["exc", "inh"], "weight": 0.3, "receptor": "inhibitory",
                            "start": 100.0, "stop": 200.0}}}}],
  "recorders": [{{"spikes": {{"populations": ["exc", "inh"]}}}}],
  "learning": {{"rls": {{
    "plastic": ["plastic_exc", "plastic_inh"], "trained": ["exc", "inh"],
    "plastic_current": "I_ex", "fixed_current": ["I_in"], "tau": 150.0,
    "lambda": 18000.0, "mu": 225.0, "learn_every": 10.0, "window": [200.0, 1200.0], "loops": 12,
    "targets": {{"generator": {{"sinusoids": {{"amplitude": 0.5, "period": 1000.0}}}}}},
    "test": {{"trials": 3, "psth_bin": 20.0}}, "checkpoint_every": 2
  }}}}
}})",
                     backend, pop("1.5"), pop("1.2"));
}

// The mean-correlation column of learning_curve.csv, as written (text, so equality is exact).
inline std::vector<std::string> curve_text(const std::filesystem::path& dir) {
  std::istringstream in(slurp(dir / "learning_curve.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    out.push_back(line.substr(a + 1, c - a - 1));  // correlation and rate
  }
  return out;
}

inline double correlation_of(const std::string& field) { return std::stod(field.substr(0, field.find(','))); }


// A 2-D float64 .npy file (format 1.0).
inline void write_npy_matrix(const std::filesystem::path& file, size_t rows, size_t cols, const std::vector<double>& v) {
  std::string header = fmt::format("{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream out(file, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(double)));
}

}  // namespace gs::test
