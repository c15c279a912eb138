// Annotations of a synthetic data set written beside the spikes (docs/datasets.md): per neuron
// (population, layer, type, model, position, hidden), per population (model parameters), per
// segment and per example of the protocol, in annotations.h5 and in an NWB 2.7 file (units table
// with extra columns, segments and trials as TimeIntervals) that pynwb reads.
#pragma once
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs::io {

// `centres`: per population, the point a clustered hidden selection is nearest to (NaN otherwise).
void write_annotations(const std::filesystem::path& path, const run_config& cfg, const network& net,
                       const std::vector<uint8_t>& hidden, const std::vector<std::array<double, 2>>& centres);

// Replays a run's recorded spikes (ms, global ids) in time order, batch by batch, as often as it is
// called: the NWB writer reads them once to count each unit's spikes and once per slice of units.
using spike_batch_fn = std::function<void(std::span<const double> times_ms, std::span<const uint32_t> gids)>;
using spike_replay = std::function<void(const spike_batch_fn&)>;

// Units are the neurons of the recorded populations (ids are global neuron ids); spike times in s,
// grouped by unit. Units are filled a slice at a time, each slice holding at most 4,194,304 spike
// times (32 MB; one unit may exceed it alone), so a recording of any length is written in bounded
// memory.
void write_nwb(const std::filesystem::path& path, const run_config& cfg, const network& net, const spike_replay& spikes,
               const std::vector<uint8_t>& hidden);

}  // namespace gs::io
