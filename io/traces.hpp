// Sampled neuron state (traces.h5): per recorder a group with sample times, the recorded node ids
// and one [n_samples, n_ids] dataset per variable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace gs::io {

struct trace_group {                    // one state recorder
  std::string name;                     // group name, e.g. the population name
  std::string population;
  std::span<const double> times_ms;     // sample times, n_samples
  std::span<const std::uint64_t> node_ids;  // population-local ids, n_ids
  std::vector<std::pair<std::string, std::string>> variables;  // (variable name, units)
  std::vector<std::span<const double>> values;  // per variable, row-major [n_samples][n_ids]
};

// Layout: /<name>/time (attr units="ms"), /<name>/node_ids, /<name>/<variable> (attr units), and
// group attr population. Writes through a staged_file. Throws std::invalid_argument on mismatched
// sizes or unusable names, std::runtime_error naming the file and operation when writing fails.
void write_traces(const std::filesystem::path& path, std::span<const trace_group> groups);

}  // namespace gs::io
