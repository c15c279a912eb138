#include "io/run_outputs.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cmath>
#include <fstream>

#include "dataset/hidden.hpp"
#include "io/annotations.hpp"
#include "io/npy.hpp"
#include "io/sonata.hpp"
#include "io/staged_file.hpp"
#include "io/traces.hpp"

namespace gs {

namespace fs = std::filesystem;

double peak_memory_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

static void write_text(const fs::path& path, const std::string& text) {
  io::staged_file f(path);
  {
    std::ofstream out(f.temp(), std::ios::binary);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
  }
  f.commit();
}

void write_run_data(const fs::path& dir, const run_config& cfg, const network& net, const run_result& res) {
  fs::create_directories(dir);
  auto wants = [&](const char* f) { return std::find(cfg.formats.begin(), cfg.formats.end(), f) != cfg.formats.end(); };
  if (cfg.record_spikes && wants("sonata")) {
    // Spikes are recorded in time order; split them by population keeping that order.
    std::vector<std::vector<double>> times(net.populations.size());
    std::vector<std::vector<uint64_t>> ids(net.populations.size());
    for (size_t k = 0; k < res.spike_times.size(); ++k) {
      const uint32_t p = net.population_of(res.spike_gids[k]);
      times[p].push_back(res.spike_times[k]);
      ids[p].push_back(res.spike_gids[k] - net.populations[p]->first_gid);
    }
    std::vector<io::spike_population> pops;
    for (const auto& name : cfg.spike_populations) {
      const auto p = static_cast<size_t>(cfg.population_index(name));
      pops.push_back({name, times[p], ids[p], io::spike_sorting::by_time});
    }
    io::write_sonata_spikes(dir / "spikes.h5", pops);
  }
  if (cfg.record_spikes && wants("phy")) {
    const fs::path phy = dir / "phy";
    fs::create_directories(phy);
    const size_t n = res.spike_times.size();
    std::vector<int64_t> samples(n);
    std::vector<int32_t> clusters(n);
    std::vector<double> seconds(n);
    for (size_t k = 0; k < n; ++k) {
      seconds[k] = res.spike_times[k] * 1e-3;
      samples[k] = static_cast<int64_t>(std::llround(seconds[k] * cfg.phy_sample_rate));
      clusters[k] = static_cast<int32_t>(res.spike_gids[k]);
    }
    io::write_npy(phy / "spike_times.npy", std::span<const int64_t>(samples));
    io::write_npy(phy / "spike_clusters.npy", std::span<const int32_t>(clusters));
    io::write_npy(phy / "spikes.times.npy", std::span<const double>(seconds));
    write_text(phy / "params.py",
               fmt::format("# written by gillespike: simulated spikes, no raw data file\n"
                           "dat_path = []\nn_channels_dat = 0\ndtype = 'int16'\noffset = 0\n"
                           "sample_rate = {:.1f}\nhp_filtered = False\n",
                           cfg.phy_sample_rate));
  }
  if (wants("annotations") || wants("nwb")) {
    std::vector<std::array<double, 2>> centres;
    const std::vector<uint8_t> hidden = hidden_mask(cfg, &centres);
    if (wants("annotations")) io::write_annotations(dir / "annotations.h5", cfg, net, hidden, centres);
    if (wants("nwb") && cfg.record_spikes) io::write_nwb(dir / "spikes.nwb", cfg, net, res, hidden);
  }
  if (!res.traces.empty()) {
    std::vector<io::trace_group> groups;
    std::vector<std::vector<uint64_t>> ids;
    for (const auto& tr : res.traces) ids.emplace_back(tr.spec->ids.begin(), tr.spec->ids.end());
    for (size_t r = 0; r < res.traces.size(); ++r) {
      const auto& tr = res.traces[r];
      const model_info* m = default_registry().find_model(net.populations[cfg.population_index(tr.spec->population)]->model);
      io::trace_group g;
      g.name = tr.spec->name;
      g.population = tr.spec->population;
      g.times_ms = tr.times;
      g.node_ids = ids[r];
      for (size_t v = 0; v < tr.spec->variables.size(); ++v) {
        std::string unit;
        for (const auto& s : m->state)
          if (s.name == tr.spec->variables[v]) unit = s.unit;
        g.variables.emplace_back(tr.spec->variables[v], unit);
        g.values.emplace_back(tr.values[v]);
      }
      groups.push_back(std::move(g));
    }
    io::write_traces(dir / "traces.h5", groups);
  }
}

json run_summary(const run_config& cfg, const network& net, const run_result& res, const run_timing& timing) {
  json s;
  s["version"] = GILLESPIKE_VERSION;
  s["run_file"] = cfg.file;
  s["backend"] = cfg.backend;
  s["method"] = cfg.method;
  if (cfg.clock_driven()) {
    s["spike_times"] = fmt::format("on the grid, dt = {} ms ({} backend)", cfg.dt, cfg.backend);
    s["dt_ms"] = cfg.dt;
    if (cfg.backend == "clock") s["threads"] = res.threads;
    // The GPU's time in the step loop, and the part spent copying spikes and traces out.
    if (cfg.backend == "cuda") s["cuda"] = {{"device_s", res.device_s}, {"copy_s", res.copy_s}};
  } else {
    s["spike_times"] = "continuous (event-driven, not on a grid)";
  }
  s["seed"] = cfg.seed;
  s["duration_ms"] = cfg.duration;
  uint64_t spikes = 0, synapses = 0;
  for (auto c : res.spikes_per_population) spikes += c;
  for (const auto& p : net.projections) synapses += p.synapses();
  s["neurons"] = net.neurons;
  s["synapses"] = synapses;
  s["spikes"] = spikes;
  s["mean_rate_hz"] = static_cast<double>(spikes) / net.neurons / (cfg.duration * 1e-3);
  s["events"] = res.events;  // clock backend: neuron updates (steps times neurons)
  s["synaptic_events"] = res.synaptic_events;
  json pops = json::object();
  for (size_t i = 0; i < net.populations.size(); ++i) {
    const auto& p = *net.populations[i];
    pops[p.name] = {{"model", p.model},
                    {"size", p.size},
                    {"first_id", p.first_gid},
                    {"last_id", p.first_gid + p.size - 1},
                    {"spikes", res.spikes_per_population[i]},
                    {"rate_hz", static_cast<double>(res.spikes_per_population[i]) / p.size / (cfg.duration * 1e-3)}};
  }
  s["populations"] = pops;
  s["build_time_s"] = timing.build_s;
  s["simulate_time_s"] = timing.simulate_s;
  s["write_time_s"] = timing.write_s;
  s["wall_time_s"] = timing.wall_s;
  s["synaptic_events_per_s"] = timing.simulate_s > 0 ? static_cast<double>(res.synaptic_events) / timing.simulate_s : 0.0;
  s["peak_memory_mb"] = peak_memory_mb();
  return s;
}

void write_summary(const fs::path& dir, const json& summary) {
  fs::create_directories(dir);
  write_text(dir / "summary.json", summary.dump(2) + "\n");
}

}  // namespace gs
