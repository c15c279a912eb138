// Everything a run leaves in its output folder: spikes.h5 (SONATA), phy/, traces.h5 and
// summary.json. Each file is written under a temporary name and renamed when complete.
#pragma once
#include <filesystem>

#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

struct run_timing {
  double build_s = 0, simulate_s = 0, write_s = 0, wall_s = 0;
};

// Writes the data files (not the summary).
void write_run_data(const std::filesystem::path& dir, const run_config& cfg, const network& net, const run_result& res);

// The summary, written last; `timing.wall_s` is the whole command up to this point.
json run_summary(const run_config& cfg, const network& net, const run_result& res, const run_timing& timing);
void write_summary(const std::filesystem::path& dir, const json& summary);

double peak_memory_mb();

}  // namespace gs
