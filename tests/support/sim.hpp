// Test helpers: run a network given as JSON text in-process, and write scratch files.
#pragma once
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>
#include <unistd.h>

#include "engine/backends/clock/simulator.hpp"
#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "engine/simulate.hpp"
#include "io/config.hpp"
#include "tests/support/stats.hpp"

namespace gs::test {

// A folder under the system temp dir, removed when the object goes away.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("gillespike-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() { std::filesystem::remove_all(path); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

struct sim_run {
  run_config cfg;
  network net;
  run_result res;
};

inline sim_run simulate_json(const std::string& json_text, const std::vector<std::string>& sets = {}) {
  scratch_dir dir;
  const auto file = dir.write("run.json", json_text);
  sim_run r{load_config(file, sets, default_registry()), {}, {}};
  r.net = build_network(r.cfg, default_registry());
  r.res = simulate(r.net, r.cfg);
  return r;
}

// A run file of examples/, as text.
inline std::string read_example(const std::string& name) {
  // GS_SOURCE_DIR in the environment wins: a bundle of test binaries runs from another tree
  // (tools/gpu_check.sh).
  const char* source = std::getenv("GS_SOURCE_DIR");
  std::ifstream in(std::string(source ? source : GS_SOURCE_DIR) + "/examples/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A network's mean rate (Hz) and mean ISI CV over its spikes in [skip, duration).
struct net_stats {
  double rate, cv;
};
inline net_stats stats_after(const sim_run& run, double duration, double skip) {
  std::vector<std::vector<double>> per(run.net.neurons);
  size_t counted = 0;
  for (size_t k = 0; k < run.res.spike_times.size(); ++k)
    if (run.res.spike_times[k] >= skip) per[run.res.spike_gids[k]].push_back(run.res.spike_times[k]), ++counted;
  return {counted / (run.net.neurons * (duration - skip) * 1e-3), mean_isi_cv(per)};
}

// A run file's network with one seed on the event backend and on the clock backend (dt 0.1 ms),
// and how the two compare: {event, clock}, printed as a test message.
inline std::pair<net_stats, net_stats> event_and_clock(const std::string& text, int seed, double duration,
                                                       double skip) {
  std::vector<std::string> sets{"run.seed=" + std::to_string(seed), "run.duration=" + std::to_string(duration)};
  const net_stats e = stats_after(simulate_json(text, sets), duration, skip);
  sets.insert(sets.end(), {"run.backend=clock", "run.dt=0.1"});
  const net_stats c = stats_after(simulate_json(text, sets), duration, skip);
  MESSAGE("seed " << seed << ": rate event " << e.rate << " Hz, clock " << c.rate << " Hz ("
                  << 100 * (c.rate / e.rate - 1) << " %); ISI CV event " << e.cv << ", clock " << c.cv);
  return {e, c};
}

// A fixed pseudo-random sequence in [0, 1) for hand-made input trains (independent of the
// engine's generators, so a change there cannot move a reference).
struct lcg {
  uint64_t s;
  double operator()() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) * 0x1.0p-53;
  }
};

// Spike times of one global id.
inline std::vector<double> spikes_of(const run_result& res, uint32_t gid) {
  std::vector<double> t;
  for (size_t k = 0; k < res.spike_times.size(); ++k)
    if (res.spike_gids[k] == gid) t.push_back(res.spike_times[k]);
  return t;
}

}  // namespace gs::test
