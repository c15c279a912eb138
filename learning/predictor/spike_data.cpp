#include "learning/predictor/spike_data.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <ranges>
#include <regex>

#include "io/hdf5_handle.hpp"
#include "io/hdf5_read.hpp"
#include "io/npy.hpp"

namespace gs::predictor {

namespace fs = std::filesystem;

namespace {

// The io readers throw std::runtime_error naming the file; for the predictor, a file it cannot
// read is bad input.
template <class F>
auto reading(F&& f) {
  try {
    return f();
  } catch (const data_error&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw data_error(e.what());
  }
}

double read_sample_rate(const fs::path& params) {
  std::ifstream in(params);
  if (!in) throw data_error(fmt::format("{}: cannot open (needed for sample_rate)", params.string()));
  const std::regex line(R"(^\s*sample_rate\s*=\s*([0-9.eE+-]+)\s*(#.*)?$)");
  std::string text;
  std::smatch m;
  while (std::getline(in, text)) {
    if (std::regex_match(text, m, line)) {
      double rate = 0;
      const std::string v = m[1];
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), rate);
      if (ec != std::errc{} || end != v.data() + v.size() || !(rate > 0) || !std::isfinite(rate))
        throw data_error(fmt::format("{}: expected a positive sample_rate, found '{}'", params.string(), v));
      return rate;
    }
  }
  throw data_error(fmt::format("{}: expected a line 'sample_rate = <Hz>', found none", params.string()));
}

void require_sorted(const std::vector<double>& t, const std::string& what) {
  for (std::size_t k = 1; k < t.size(); ++k) {
    if (!(t[k] >= t[k - 1]))
      throw data_error(fmt::format("{}: expected non-decreasing spike times, found {} after {} at index {}", what,
                                   t[k], t[k - 1], k));
  }
  for (std::size_t k = 0; k < t.size(); ++k)
    if (!std::isfinite(t[k])) throw data_error(fmt::format("{}: spike time {} at index {} is not finite", what, t[k], k));
}

}  // namespace

spike_train read_phy(const fs::path& dir) {
  spike_train s;
  s.source = dir.string();
  const fs::path clusters = dir / "spike_clusters.npy", seconds = dir / "spikes.times.npy",
                 samples = dir / "spike_times.npy";
  if (!fs::exists(clusters)) throw data_error(fmt::format("{}: expected spike_clusters.npy, found none", dir.string()));
  const std::vector<std::int32_t> ids = reading([&] { return io::read_npy<std::int32_t>(clusters); });
  fs::path times_file;
  if (fs::exists(seconds)) {
    times_file = seconds;
    const std::vector<double> t = reading([&] { return io::read_npy<double>(seconds); });
    s.t_ms.resize(t.size());
    std::transform(t.begin(), t.end(), s.t_ms.begin(), [](double v) { return v * 1e3; });
  } else if (fs::exists(samples)) {
    times_file = samples;
    const double rate = read_sample_rate(dir / "params.py");
    const std::vector<std::int64_t> t = reading([&] { return io::read_npy<std::int64_t>(samples); });
    s.t_ms.resize(t.size());
    std::transform(t.begin(), t.end(), s.t_ms.begin(), [&](std::int64_t v) { return double(v) / rate * 1e3; });
  } else {
    throw data_error(fmt::format("{}: expected spikes.times.npy or spike_times.npy, found neither", dir.string()));
  }
  if (ids.empty()) throw data_error(fmt::format("{}: no spikes (empty file)", clusters.string()));
  if (ids.size() != s.t_ms.size())
    throw data_error(fmt::format("{}: {} spike times but {} has {} ids; expected equal lengths", times_file.string(),
                                 s.t_ms.size(), clusters.filename().string(), ids.size()));
  require_sorted(s.t_ms, times_file.string());
  const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
  if (*lo < 0)
    throw data_error(fmt::format("{}: expected cluster ids >= 0, found {} at index {}", clusters.string(), *lo,
                                 lo - ids.begin()));
  s.ids.assign(ids.begin(), ids.end());
  s.populations = {{"phy", 0, *hi + 1}};
  return s;
}

spike_train read_sonata(const fs::path& file) {
  io::h5::quiet_errors();
  std::vector<std::string> names;
  const auto f = reading([&] { return io::h5::make(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, file, "open file"); });
  if (H5Lexists(f.get(), "/spikes", H5P_DEFAULT) <= 0)
    throw data_error(fmt::format("{}: expected a SONATA /spikes group, found none", file.string()));
  {
    const auto g = reading([&] { return io::h5::make(H5Gopen2(f.get(), "/spikes", H5P_DEFAULT), H5Gclose, file, "open /spikes"); });
    H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
                  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
                  return 0;
                },
                &names);
  }
  if (names.empty()) throw data_error(fmt::format("{}: /spikes holds no population", file.string()));
  spike_train s;
  s.source = file.string();
  std::vector<std::pair<double, int>> events;  // (time, token), merged below
  int offset = 0;
  for (const auto& name : names) {
    const std::string base = "/spikes/" + name;
    const auto t = reading([&] { return io::read_h5_doubles(file, base + "/timestamps"); });
    const auto ids = reading([&] { return io::read_h5_uint64(file, base + "/node_ids"); });
    if (t.size() != ids.size())
      throw data_error(fmt::format("{}: {} has {} timestamps but {} node_ids; expected equal lengths", file.string(),
                                   base, t.size(), ids.size()));
    if (t.empty()) continue;
    const std::uint64_t top = *std::max_element(ids.begin(), ids.end());
    if (top >= std::uint64_t(std::numeric_limits<int>::max() - offset))
      throw data_error(fmt::format("{}: {} node id {} is too large for a vocabulary", file.string(), base, top));
    // SONATA's `sorting` says how a population is ordered; only by_time promises sorted times.
    const bool by_time = H5Aexists_by_name(f.get(), base.c_str(), "sorting", H5P_DEFAULT) > 0 &&
                         reading([&] { return io::read_h5_enum_attr(file, base, "sorting"); }) == 2;
    if (by_time) require_sorted(t, fmt::format("{} {}/timestamps", file.string(), base));
    for (std::size_t k = 0; k < t.size(); ++k) {
      if (!std::isfinite(t[k]))
        throw data_error(fmt::format("{}: {}/timestamps[{}] = {} is not finite", file.string(), base, k, t[k]));
      events.emplace_back(t[k], offset + int(ids[k]));
    }
    s.populations.push_back({name, offset, int(top) + 1});
    offset += int(top) + 1;
  }
  if (events.empty()) throw data_error(fmt::format("{}: no spikes in any population", file.string()));
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  s.t_ms.reserve(events.size());
  s.ids.reserve(events.size());
  for (const auto& [t, id] : events) {
    s.t_ms.push_back(t);
    s.ids.push_back(id);
  }
  return s;
}

spike_train read_nwb(const fs::path& file) {
  spike_train s;
  s.source = file.string();
  const auto times = reading([&] { return io::read_h5_doubles(file, "/units/spike_times"); });
  const auto ends = reading([&] { return io::read_h5_uint64(file, "/units/spike_times_index"); });
  const auto neuron = reading([&] { return io::read_h5_uint64(file, "/units/neuron_id"); });
  if (ends.size() != neuron.size())
    throw data_error(fmt::format("{}: /units has {} spike_times_index entries but {} neuron_id; expected one per unit",
                                 file.string(), ends.size(), neuron.size()));
  std::vector<std::pair<double, int>> events;
  events.reserve(times.size());
  std::uint64_t begin = 0, top = 0;
  for (std::size_t u = 0; u < ends.size(); ++u) {
    if (ends[u] < begin || ends[u] > times.size())
      throw data_error(fmt::format("{}: /units/spike_times_index[{}] = {} is outside [{}, {}]", file.string(), u,
                                   ends[u], begin, times.size()));
    if (neuron[u] >= std::uint64_t(std::numeric_limits<int>::max()))
      throw data_error(fmt::format("{}: /units/neuron_id[{}] = {} is too large for a vocabulary", file.string(), u,
                                   neuron[u]));
    for (std::uint64_t k = begin; k < ends[u]; ++k) {
      if (!std::isfinite(times[k]))
        throw data_error(fmt::format("{}: /units/spike_times[{}] = {} is not finite", file.string(), k, times[k]));
      events.emplace_back(times[k] * 1e3, int(neuron[u]));
    }
    top = std::max(top, neuron[u]);
    begin = ends[u];
  }
  if (events.empty()) throw data_error(fmt::format("{}: no spikes in /units", file.string()));
  std::stable_sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [t, id] : events) {
    s.t_ms.push_back(t);
    s.ids.push_back(id);
  }
  s.populations = {{"nwb", 0, int(top) + 1}};
  return s;
}

spike_train read_spikes(const fs::path& path) {
  if (!fs::exists(path)) throw data_error(fmt::format("{}: no such file or folder", path.string()));
  if (fs::is_directory(path)) {
    if (fs::exists(path / "spike_clusters.npy")) return read_phy(path);
    if (fs::exists(path / "phy" / "spike_clusters.npy")) return read_phy(path / "phy");
    if (fs::exists(path / "spikes.h5")) return read_sonata(path / "spikes.h5");
    if (fs::exists(path / "spikes.nwb")) return read_nwb(path / "spikes.nwb");
    throw data_error(fmt::format("{}: expected a phy folder (spike_clusters.npy), a run output folder (phy/, "
                                 "spikes.h5 or spikes.nwb), a SONATA .h5 file or an NWB .nwb file",
                                 path.string()));
  }
  if (path.extension() == ".nwb") return read_nwb(path);
  return read_sonata(path);
}

void use_vocabulary(spike_train& train, const std::vector<population_range>& vocabulary) {
  std::vector<int> shift(train.populations.size());
  for (std::size_t p = 0; p < train.populations.size(); ++p) {
    const auto& have = train.populations[p];
    const auto it = std::find_if(vocabulary.begin(), vocabulary.end(), [&](const auto& v) { return v.name == have.name; });
    if (it == vocabulary.end())
      throw data_error(fmt::format("{}: population '{}' is not in the model's vocabulary (trained on {})",
                                   train.source, have.name,
                                   fmt::join(vocabulary | std::views::transform(&population_range::name), ", ")));
    if (have.size > it->size)
      throw data_error(fmt::format("{}: population '{}' has node ids up to {}, outside the model's vocabulary "
                                   "(ids 0..{})",
                                   train.source, have.name, have.size - 1, it->size - 1));
    shift[p] = it->offset - have.offset;
  }
  for (auto& id : train.ids) {
    const auto p = std::upper_bound(train.populations.begin(), train.populations.end(), id,
                                    [](int v, const population_range& r) { return v < r.offset; }) -
                   train.populations.begin() - 1;
    id += shift[std::size_t(p)];
  }
  train.populations = vocabulary;
}

split chronological_split(std::size_t n, double train_fraction, double val_fraction) {
  if (!(train_fraction > 0 && val_fraction >= 0 && train_fraction + val_fraction < 1))
    throw data_error(fmt::format("expected split fractions train > 0, validation >= 0, train + validation < 1; found "
                                 "{} and {}",
                                 train_fraction, val_fraction));
  split s;
  s.n = n;
  s.train_end = std::size_t(std::floor(double(n) * train_fraction));
  s.val_end = std::size_t(std::floor(double(n) * (train_fraction + val_fraction)));
  return s;
}

}  // namespace gs::predictor
