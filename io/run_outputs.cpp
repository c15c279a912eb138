#include "io/run_outputs.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
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

namespace {

bool wants(const run_config& cfg, const char* format) {
  return std::find(cfg.formats.begin(), cfg.formats.end(), format) != cfg.formats.end();
}

[[noreturn]] void cannot(const char* what, const fs::path& path) {
  throw std::runtime_error(fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(errno)));
}

// The recorded spikes in batches as they came ([n][n times][n gids]), for the NWB writer's replays.
class spike_spool {
 public:
  explicit spike_spool(const fs::path& path) : staged_(path), file_(std::fopen(staged_.temp().c_str(), "w+b")) {
    if (!file_) cannot("create", staged_.temp());
  }
  ~spike_spool() { std::fclose(file_); }  // staged_, never committed, then removes the file
  spike_spool(const spike_spool&) = delete;
  spike_spool& operator=(const spike_spool&) = delete;

  void add(std::span<const double> times, std::span<const uint32_t> gids) {
    const uint64_t n = times.size();
    if (std::fwrite(&n, sizeof n, 1, file_) != 1 || std::fwrite(times.data(), sizeof(double), n, file_) != n ||
        std::fwrite(gids.data(), sizeof(uint32_t), n, file_) != n)
      cannot("write", staged_.temp());
  }
  void replay(const io::spike_batch_fn& batch) {
    if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) cannot("read back", staged_.temp());
    uint64_t n;
    while (std::fread(&n, sizeof n, 1, file_) == 1) {
      times_.resize(n);
      gids_.resize(n);
      if (std::fread(times_.data(), sizeof(double), n, file_) != n || std::fread(gids_.data(), sizeof(uint32_t), n, file_) != n)
        cannot("read back", staged_.temp());
      batch(times_, gids_);
    }
    if (std::ferror(file_)) cannot("read back", staged_.temp());
  }

 private:
  io::staged_file staged_;
  std::FILE* file_;
  std::vector<double> times_;
  std::vector<uint32_t> gids_;
};

}  // namespace

struct spike_outputs::files {
  files(const fs::path& d, const run_config& c, const network& n) : dir(d), cfg(c), net(n) {}
  fs::path dir;
  const run_config& cfg;
  const network& net;
  std::optional<io::sonata_spike_writer> sonata;
  std::vector<size_t> sonata_index;  // population index -> group in spikes.h5
  std::vector<std::vector<double>> pop_times;  // one batch split by population
  std::vector<std::vector<uint64_t>> pop_ids;
  std::optional<io::npy_writer<int64_t>> phy_samples;
  std::optional<io::npy_writer<int32_t>> phy_clusters;
  std::optional<io::npy_writer<double>> phy_seconds;
  std::vector<int64_t> samples;
  std::vector<int32_t> clusters;
  std::vector<double> seconds;
  std::optional<spike_spool> spool;
  // Folders this run created (the output folder, phy/), innermost last; a run that fails removes
  // them again when they are empty, as a run refused before it started leaves none.
  std::vector<fs::path> made;
  bool finished = false;

  void make_dir(const fs::path& d) {
    if (fs::is_directory(d)) return;
    if (d.has_parent_path()) make_dir(d.parent_path());
    fs::create_directory(d);
    made.push_back(d);
  }
};

spike_outputs::spike_outputs(const fs::path& dir, const run_config& cfg, const network& net)
    : files_(std::make_unique<files>(dir, cfg, net)) {
  files& f = *files_;
  f.make_dir(dir);
  if (!cfg.record_spikes) return;
  if (wants(cfg, "sonata")) {
    std::vector<io::sonata_spike_writer::population> pops;
    f.sonata_index.assign(net.populations.size(), 0);
    for (const auto& name : cfg.spike_populations) {
      f.sonata_index[size_t(cfg.population_index(name))] = pops.size();
      pops.push_back({name, io::spike_sorting::by_time});  // backends hand spikes over in time order
    }
    f.sonata.emplace(dir / "spikes.h5", pops);
    f.pop_times.resize(pops.size());
    f.pop_ids.resize(pops.size());
  }
  if (wants(cfg, "phy")) {
    f.make_dir(dir / "phy");
    f.phy_samples.emplace(dir / "phy" / "spike_times.npy");
    f.phy_clusters.emplace(dir / "phy" / "spike_clusters.npy");
    f.phy_seconds.emplace(dir / "phy" / "spikes.times.npy");
  }
  if (wants(cfg, "nwb")) f.spool.emplace(dir / "spikes.spool");
}

spike_outputs::~spike_outputs() {
  if (files_->finished) return;
  files_->sonata.reset();  // their temporary files go first, then the folders if nothing else is there
  files_->phy_samples.reset();
  files_->phy_clusters.reset();
  files_->phy_seconds.reset();
  files_->spool.reset();
  std::error_code ignored;  // not empty (other files were there before): left alone
  for (auto d = files_->made.rbegin(); d != files_->made.rend(); ++d) fs::remove(*d, ignored);
}

void spike_outputs::take(std::span<const double> times_ms, std::span<const uint32_t> gids) {
  files& f = *files_;
  if (f.sonata) {
    for (size_t k = 0; k < times_ms.size(); ++k) {
      const uint32_t p = f.net.population_of(gids[k]);
      const size_t s = f.sonata_index[p];
      f.pop_times[s].push_back(times_ms[k]);
      f.pop_ids[s].push_back(gids[k] - f.net.populations[p]->first_gid);
    }
    for (size_t s = 0; s < f.pop_times.size(); ++s) {
      f.sonata->append(s, f.pop_times[s], f.pop_ids[s]);
      f.pop_times[s].clear();
      f.pop_ids[s].clear();
    }
  }
  if (f.phy_samples) {
    const size_t n = times_ms.size();
    f.samples.resize(n);
    f.clusters.resize(n);
    f.seconds.resize(n);
    for (size_t k = 0; k < n; ++k) {
      f.seconds[k] = times_ms[k] * 1e-3;
      f.samples[k] = static_cast<int64_t>(std::llround(f.seconds[k] * f.cfg.phy_sample_rate));
      f.clusters[k] = static_cast<int32_t>(gids[k]);
    }
    f.phy_samples->append(f.samples);
    f.phy_clusters->append(f.clusters);
    f.phy_seconds->append(f.seconds);
  }
  if (f.spool) f.spool->add(times_ms, gids);
}

void spike_outputs::finish(const std::vector<uint8_t>& hidden) {
  files& f = *files_;
  f.finished = true;  // from here the folders hold finished files
  if (f.sonata) f.sonata->finish();
  if (f.phy_samples) {
    f.phy_samples->finish();
    f.phy_clusters->finish();
    f.phy_seconds->finish();
    write_text(f.dir / "phy" / "params.py",
               fmt::format("# written by gillespike: simulated spikes, no raw data file\n"
                           "dat_path = []\nn_channels_dat = 0\ndtype = 'int16'\noffset = 0\n"
                           "sample_rate = {:.1f}\nhp_filtered = False\n",
                           f.cfg.phy_sample_rate));
  }
  if (f.spool) {
    io::write_nwb(f.dir / "spikes.nwb", f.cfg, f.net, [&](const io::spike_batch_fn& batch) { f.spool->replay(batch); },
                  hidden);
    f.spool.reset();  // removes the spool file
  }
}

void write_run_data(const fs::path& dir, const run_config& cfg, const network& net, const run_result& res,
                    spike_outputs& spikes) {
  fs::create_directories(dir);
  std::vector<std::array<double, 2>> centres;
  const std::vector<uint8_t> hidden = wants(cfg, "annotations") || wants(cfg, "nwb") ? hidden_mask(cfg, &centres)
                                                                                       : std::vector<uint8_t>{};
  spikes.finish(hidden);
  if (wants(cfg, "annotations")) io::write_annotations(dir / "annotations.h5", cfg, net, hidden, centres);
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
