// Annotations of a synthetic data set written beside the spikes (docs/datasets.md): per neuron
// (population, layer, type, model, position, hidden), per population (model parameters), per
// segment and per example of the protocol, in annotations.h5 and in an NWB 2.7 file (units table
// with extra columns, segments and trials as TimeIntervals) that pynwb reads.
#pragma once
#include <filesystem>
#include <vector>

#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs::io {

// `centres`: per population, the point a clustered hidden selection is nearest to (NaN otherwise).
void write_annotations(const std::filesystem::path& path, const run_config& cfg, const network& net,
                       const std::vector<uint8_t>& hidden, const std::vector<std::array<double, 2>>& centres);

// Units are the neurons of the recorded populations (ids are global neuron ids); spike times in s.
void write_nwb(const std::filesystem::path& path, const run_config& cfg, const network& net, const run_result& res,
               const std::vector<uint8_t>& hidden);

}  // namespace gs::io
