// Everything a run leaves in its output folder: spikes.h5 (SONATA), phy/, spikes.nwb,
// annotations.h5, traces.h5 and summary.json. Each file is written under a temporary name and
// renamed when complete. Spikes are written while the run goes on (spike_outputs), so a long
// recording is never held in memory whole.
#pragma once
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

struct run_timing {
  double build_s = 0, simulate_s = 0, write_s = 0, wall_s = 0;
};

// The spike files the run file asks for, fed by the backend as a spike_sink: SONATA and phy arrays
// grow batch by batch; NWB groups spikes by neuron, so they also go to a spool file in the output
// folder (12 B a spike on disk) that finish() replays and removes. Nothing appears under a final
// name before finish(); dropped unfinished (a failed run), it leaves nothing.
class spike_outputs : public spike_sink {
 public:
  spike_outputs(const std::filesystem::path& dir, const run_config& cfg, const network& net);
  ~spike_outputs() override;
  void take(std::span<const double> times_ms, std::span<const uint32_t> gids) override;
  // `hidden`: the hidden-neuron mask, a column of the NWB units table.
  void finish(const std::vector<uint8_t>& hidden);

 private:
  struct files;
  std::unique_ptr<files> files_;
};

// Writes the data files (not the summary), finishing `spikes`, which the run fed.
void write_run_data(const std::filesystem::path& dir, const run_config& cfg, const network& net, const run_result& res,
                    spike_outputs& spikes);

// The summary, written last; `timing.wall_s` is the whole command up to this point.
json run_summary(const run_config& cfg, const network& net, const run_result& res, const run_timing& timing);
void write_summary(const std::filesystem::path& dir, const json& summary);

double peak_memory_mb();

}  // namespace gs
