// A run's spike files are written while it runs (io/run_outputs.hpp, spike_outputs), not from a
// recording held in memory. A run of 10 million spikes (120 MB as the in-memory list the backends
// used to keep, 12 B a spike, before the files' own copies) must finish under a peak memory cap
// well below that, and its SONATA, phy and NWB files must hold exactly the spikes of the same run
// simulated in-process with every spike kept in memory. A run that fails leaves no folder.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#if defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/device_info.hpp"
#endif
#include "io/hdf5_read.hpp"
#include "io/npy.hpp"
#include "tests/support/sim.hpp"

using namespace gs;
using namespace gs::test;

namespace {

// Two populations of independent Poisson processes (Hawkes neurons without inputs): 5000 neurons at
// 500 Hz for 4 s, about 10 million spikes.
const char* run_file = R"({
  "run": {"duration": 4000.0, "seed": 21, "backend": "event"},
  "populations": {
    "a": {"size": 3000, "model": "hawkes_linear", "params": {"mu": 500.0, "tau": 5.0}},
    "b": {"size": 2000, "model": "hawkes_linear", "params": {"mu": 500.0, "tau": 5.0}}
  },
  "recorders": [{"spikes": {"populations": ["a", "b"]}}],
  "outputs": {"formats": ["sonata", "phy", "nwb"]}
})";

// The peak resident memory allowed to the run. The process itself takes 22 MB (summary.json of a
// 1-spike run); streaming adds batch buffers of a few MB and the NWB writer's slice of 4 M spike
// times (32 MB): 72 MB measured. Before streaming, this run peaked at 325 MB.
constexpr double cap_mb = 90;

}  // namespace

TEST_CASE("a run's spike files are streamed: bounded memory, exactly the simulated spikes") {
  const scratch_dir dir;
  const auto file = dir.write("run.json", run_file);
  const auto out = dir.path / "out";
  const cli_result r = cli({"run", file.string(), "-o", out.string(), "--quiet"}, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const auto summary = nlohmann::json::parse(slurp(out / "summary.json"));
  const uint64_t spikes = summary["spikes"].get<uint64_t>();
  const double peak = summary["peak_memory_mb"].get<double>();
  MESSAGE("spikes ", spikes, ", peak memory ", peak, " MB");
  CHECK(spikes > 9'000'000);
  CHECK(peak < cap_mb);
  for (const char* f : {"spikes.spool", "spikes.h5", "spikes.nwb", "phy/spikes.times.npy"})
    CHECK(std::filesystem::exists(out / f) == (std::string(f) != "spikes.spool"));

  // The same run in this process, every spike kept (no sink): the reference.
  const sim_run ref = simulate_json(run_file);
  REQUIRE(ref.res.spike_times.size() == spikes);
  const uint32_t first_b = ref.net.populations[1]->first_gid;

  CHECK(io::read_npy<double>(out / "phy" / "spikes.times.npy").size() == spikes);
  {
    const auto seconds = io::read_npy<double>(out / "phy" / "spikes.times.npy");
    const auto clusters = io::read_npy<int32_t>(out / "phy" / "spike_clusters.npy");
    bool same = clusters.size() == spikes;
    for (size_t k = 0; same && k < spikes; ++k)
      same = seconds[k] == ref.res.spike_times[k] * 1e-3 && uint32_t(clusters[k]) == ref.res.spike_gids[k];
    CHECK_MESSAGE(same, "phy/ differs from the in-memory spikes");
  }
  {
    std::vector<double> ta, tb;
    std::vector<uint64_t> ia, ib;
    for (size_t k = 0; k < spikes; ++k) {
      const uint32_t g = ref.res.spike_gids[k];
      (g < first_b ? ta : tb).push_back(ref.res.spike_times[k]);
      (g < first_b ? ia : ib).push_back(g < first_b ? g : g - first_b);
    }
    const auto h5 = out / "spikes.h5";
    CHECK(io::read_h5_doubles(h5, "/spikes/a/timestamps") == ta);
    CHECK(io::read_h5_uint64(h5, "/spikes/a/node_ids") == ia);
    CHECK(io::read_h5_doubles(h5, "/spikes/b/timestamps") == tb);
    CHECK(io::read_h5_uint64(h5, "/spikes/b/node_ids") == ib);
  }
  {
    // NWB units: each neuron's spikes in time order, neurons in id order, ends in spike_times_index.
    std::vector<std::vector<double>> per_neuron(ref.net.neurons);
    for (size_t k = 0; k < spikes; ++k) per_neuron[ref.res.spike_gids[k]].push_back(ref.res.spike_times[k] * 1e-3);
    std::vector<double> times;
    std::vector<uint64_t> ends;
    for (const auto& v : per_neuron) {
      times.insert(times.end(), v.begin(), v.end());
      ends.push_back(times.size());
    }
    const auto nwb = out / "spikes.nwb";
    CHECK(io::read_h5_uint64(nwb, "/units/spike_times_index") == ends);
    CHECK(io::read_h5_doubles(nwb, "/units/spike_times") == times);
  }
}

#if defined(GILLESPIKE_HAVE_CUDA)
TEST_CASE("a run that fails after its spike files were opened leaves no folder behind") {
  // The cuda backend without a usable GPU fails once the run has started (its files are open).
  if (!cuda_unusable_reason().empty()) {
    const scratch_dir dir;
    const auto file = dir.write("run.json", run_file);
    const auto out = dir.path / "out" / "deeper";
    const cli_result r = cli({"run", file.string(), "-o", out.string(), "--set", "run.backend=\"cuda\""}, dir.path);
    CHECK(r.status == 1);
    CHECK_MESSAGE(has(r.err, "no usable GPU"), r.err);
    CHECK(!std::filesystem::exists(dir.path / "out"));
  }
}
#endif
