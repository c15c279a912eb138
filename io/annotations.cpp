#include "io/annotations.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "io/hdf5_handle.hpp"
#include "io/staged_file.hpp"

namespace gs::io {

namespace {

// Per-neuron columns of the listed populations, in global id order.
struct neuron_columns {
  std::vector<uint64_t> id;
  std::vector<std::string> population, layer, type, model;
  std::vector<double> x, y;
  std::vector<uint8_t> hidden;
};

neuron_columns columns_of(const run_config& cfg, const network& net, const std::vector<std::string>& pops,
                          const std::vector<uint8_t>& hidden) {
  neuron_columns c;
  for (size_t p = 0; p < cfg.populations.size(); ++p) {
    const population_spec& ps = cfg.populations[p];
    if (std::find(pops.begin(), pops.end(), ps.name) == pops.end()) continue;
    const uint32_t first = net.populations[p]->first_gid;
    for (uint32_t i = 0; i < ps.size; ++i) {
      c.id.push_back(first + i);
      c.population.push_back(ps.name);
      c.layer.push_back(ps.layer);
      c.type.push_back(ps.type);
      c.model.push_back(ps.model);
      const bool placed = !net.positions[p].empty();
      c.x.push_back(placed ? net.positions[p][i][0] : std::nan(""));
      c.y.push_back(placed ? net.positions[p][i][1] : std::nan(""));
      c.hidden.push_back(hidden[first + i]);
    }
  }
  return c;
}

// The model's parameters with their defaults, overridden by the run file's (numbers or distributions).
json params_of(const run_config& cfg, const population_spec& ps) {
  json out = json::object();
  for (const auto& pi : default_registry().find_model(ps.model)->params) out[pi.name] = pi.default_value;
  const json& given = cfg.document["populations"][ps.name];
  if (given.contains("params"))
    for (const auto& [k, v] : given["params"].items()) out[k] = v;
  return out;
}

json stimulus_json(const protocol_stimulus& s) {
  if (s.kind == protocol_stimulus::rate_file)
    return {{"rate_file", {{"path", s.table->path}, {"frame", s.table->frame_ms}}}};
  return {{"grating",
           {{"orientation", s.g.orientation_deg}, {"spatial_frequency", s.g.spatial_frequency},
            {"temporal_frequency", s.g.temporal_frequency_hz}, {"contrast", s.g.contrast}, {"phase", s.g.phase_deg}}}};
}

// The protocol's time line and examples as columns.
struct protocol_columns {
  std::vector<double> start, end, ex_start, ex_end;
  std::vector<uint32_t> trial, index, ex_trial, ex_segment;
  std::vector<int32_t> stimulus, ex_stimulus;
  std::vector<std::string> kind, stimulus_name, ex_split;
  std::vector<uint8_t> ex_split_code;
};

const char* const split_names[] = {"train", "validation", "test"};

protocol_columns protocol_of(const protocol_spec& p) {
  protocol_columns c;
  const auto tl = p.timeline();
  for (const auto& s : tl) {
    c.start.push_back(s.start);
    c.end.push_back(s.end);
    c.trial.push_back(s.trial);
    c.index.push_back(s.index);
    c.stimulus.push_back(s.stimulus);
    c.kind.push_back(s.stimulus < 0 ? "blank" : "stimulus");
    c.stimulus_name.push_back(s.stimulus < 0 ? "" : p.stimuli[size_t(s.stimulus)].name);
  }
  for (const auto& e : p.examples(tl)) {
    c.ex_start.push_back(e.start);
    c.ex_end.push_back(e.end);
    c.ex_trial.push_back(e.trial);
    c.ex_segment.push_back(e.segment);
    c.ex_stimulus.push_back(e.stimulus);
    c.ex_split_code.push_back(e.split);
    c.ex_split.push_back(split_names[e.split]);
  }
  return c;
}

std::vector<std::string> all_populations(const run_config& cfg) {
  std::vector<std::string> names;
  for (const auto& ps : cfg.populations) names.push_back(ps.name);
  return names;
}

}  // namespace

void write_annotations(const std::filesystem::path& path, const run_config& cfg, const network& net,
                       const std::vector<uint8_t>& hidden, const std::vector<std::array<double, 2>>& centres) {
  staged_file staged(path);
  h5::writer out(staged.temp(), path);
  out.string_attribute("/", "run_file", cfg.file);
  out.string_attribute("/", "run_document", cfg.document.dump());
  out.attribute("/", "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &cfg.seed);
  out.attribute("/", "duration_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &cfg.duration);

  const neuron_columns n = columns_of(cfg, net, all_populations(cfg), hidden);
  const hsize_t N = n.id.size();
  out.group("/neurons");
  out.dataset("/neurons/id", {N}, n.id.data());
  out.string_dataset("/neurons/population", n.population);
  out.string_dataset("/neurons/layer", n.layer);
  out.string_dataset("/neurons/type", n.type);
  out.string_dataset("/neurons/model", n.model);
  out.dataset("/neurons/x", {N}, n.x.data());
  out.dataset("/neurons/y", {N}, n.y.data());
  out.dataset("/neurons/hidden", {N}, n.hidden.data());

  out.group("/populations");
  for (size_t p = 0; p < cfg.populations.size(); ++p) {
    const population_spec& ps = cfg.populations[p];
    const std::string g = "/populations/" + ps.name;
    out.group(g);
    const uint64_t first = net.populations[p]->first_gid, size = ps.size;
    out.attribute(g, "first_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &first);
    out.attribute(g, "size", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &size);
    out.string_attribute(g, "model", ps.model);
    out.string_attribute(g, "layer", ps.layer);
    out.string_attribute(g, "type", ps.type);
    out.string_attribute(g, "params", params_of(cfg, ps).dump());
    // Parameters drawn per neuron: the values each neuron ran with, in id order.
    const auto& table = default_registry().find_model(ps.model)->params;
    bool drawn = false;
    for (const auto& nv : ps.params) {
      if (nv.value.is_constant()) continue;
      if (!drawn) out.group(g + "/drawn"), drawn = true;
      const auto index = static_cast<int>(
          std::find_if(table.begin(), table.end(), [&](const param_info& pi) { return pi.name == nv.name; }) -
          table.begin());
      std::vector<double> values(ps.size);
      for (uint32_t i = 0; i < ps.size; ++i) values[i] = net.populations[p]->parameter(i, index);
      out.dataset(g + "/drawn/" + nv.name, {hsize_t(ps.size)}, values.data());
    }
  }

  out.group("/hidden");
  out.attribute("/hidden", "fraction", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &cfg.hidden.fraction);
  out.string_attribute("/hidden", "selection", cfg.hidden.selection);
  out.attribute("/hidden", "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &cfg.hidden.seed);
  out.strings_attribute("/hidden", "populations",
                        cfg.hidden.populations.empty() ? all_populations(cfg) : cfg.hidden.populations);
  out.dataset("/hidden/centre", {centres.size(), 2}, centres.data()->data());

  if (cfg.protocol) {
    const protocol_spec& p = *cfg.protocol;
    out.group("/stimuli");
    std::vector<std::string> names;
    for (const auto& s : p.stimuli) names.push_back(s.name);
    out.strings_attribute("/stimuli", "names", names);
    for (const auto& s : p.stimuli) {
      out.group("/stimuli/" + s.name);
      out.string_attribute("/stimuli/" + s.name, "definition", stimulus_json(s).dump());
    }
    const protocol_columns c = protocol_of(p);
    const hsize_t S = c.start.size(), E = c.ex_start.size();
    out.group("/segments");
    out.dataset("/segments/start_ms", {S}, c.start.data());
    out.dataset("/segments/end_ms", {S}, c.end.data());
    out.dataset("/segments/trial", {S}, c.trial.data());
    out.dataset("/segments/index", {S}, c.index.data());
    out.dataset("/segments/stimulus_id", {S}, c.stimulus.data());
    out.string_dataset("/segments/kind", c.kind);
    out.string_dataset("/segments/stimulus", c.stimulus_name);
    out.group("/examples");
    out.dataset("/examples/start_ms", {E}, c.ex_start.data());
    out.dataset("/examples/end_ms", {E}, c.ex_end.data());
    out.dataset("/examples/trial", {E}, c.ex_trial.data());
    out.dataset("/examples/segment", {E}, c.ex_segment.data());
    out.dataset("/examples/stimulus_id", {E}, c.ex_stimulus.data());
    out.dataset("/examples/split", {E}, c.ex_split_code.data());
    out.strings_attribute("/examples/split", "names", {split_names, split_names + 3});
    out.attribute("/", "trials", H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &p.trials);
    out.attribute("/", "protocol_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &p.seed);
  }
  out.close();
  staged.commit();
}

namespace {

// What NWB asks of every typed object.
class nwb_writer {
 public:
  nwb_writer(h5::writer& out) : out_(out) {}

  void typed(const std::string& object, const char* type) {
    out_.string_attribute(object, "namespace", type == std::string("NWBFile") || !hdmf(type) ? "core" : "hdmf-common");
    out_.string_attribute(object, "neurodata_type", type);
    out_.string_attribute(object, "object_id", uuid());
  }
  template <class T>
  void column(const std::string& table, const std::string& name, const std::vector<T>& v, const std::string& doc) {
    const std::string path = table + "/" + name;
    if constexpr (std::is_same_v<T, std::string>) out_.string_dataset(path, v);
    else out_.dataset(path, {hsize_t(v.size())}, v.data());
    out_.string_attribute(path, "description", doc);
    typed(path, "VectorData");
  }
  void ids(const std::string& table, size_t n) {
    std::vector<int64_t> id(n);
    for (size_t k = 0; k < n; ++k) id[k] = int64_t(k);
    out_.dataset(table + "/id", {hsize_t(n)}, id.data());
    typed(table + "/id", "ElementIdentifiers");
  }
  void table(const std::string& path, const char* type, const std::string& doc, const std::vector<std::string>& cols) {
    out_.group(path);
    typed(path, type);
    out_.string_attribute(path, "description", doc);
    out_.strings_attribute(path, "colnames", cols);
  }

 private:
  static bool hdmf(const std::string& t) { return t == "VectorData" || t == "VectorIndex" || t == "ElementIdentifiers"; }
  std::string uuid() {
    const uint64_t a = gen_(), b = gen_();
    return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", uint32_t(a >> 32), uint32_t(a >> 16) & 0xffff,
                       uint32_t(a) & 0xfff, (uint32_t(b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
  }
  h5::writer& out_;
  std::mt19937_64 gen_{std::random_device{}()};
};

std::string iso_now() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

}  // namespace

void write_nwb(const std::filesystem::path& path, const run_config& cfg, const network& net, const spike_replay& spikes,
               const std::vector<uint8_t>& hidden) {
  constexpr size_t slice_spikes = size_t(1) << 22;
  staged_file staged(path);
  h5::writer out(staged.temp(), path);
  nwb_writer nwb(out);
  nwb.typed("/", "NWBFile");
  out.string_attribute("/", "nwb_version", "2.7.0");
  const std::string now = iso_now();
  out.string_scalar("/identifier", fmt::format("gillespike {} seed {}", cfg.file, cfg.seed));
  out.string_scalar("/session_description", fmt::format("simulated by gillespike {} from {}", GILLESPIKE_VERSION, cfg.file));
  // Simulated time 0 is the session start.
  out.string_scalar("/session_start_time", now);
  out.string_scalar("/timestamps_reference_time", now);
  out.string_dataset("/file_create_date", {now});
  for (const char* g : {"/acquisition", "/analysis", "/processing", "/stimulus", "/stimulus/presentation",
                        "/stimulus/templates", "/general", "/intervals"})
    out.group(g);

  // Units: every neuron of the recorded populations, spikes grouped by neuron in time order.
  const neuron_columns n = columns_of(cfg, net, cfg.spike_populations, hidden);
  std::vector<int64_t> row_of(net.neurons, -1);
  for (size_t r = 0; r < n.id.size(); ++r) row_of[n.id[r]] = int64_t(r);
  const size_t units = n.id.size();
  std::vector<uint64_t> ends(units + 1, 0);  // ends[r + 1]: spikes of units up to r
  spikes([&](std::span<const double>, std::span<const uint32_t> gids) {
    for (uint32_t g : gids)
      if (row_of[g] >= 0) ++ends[size_t(row_of[g]) + 1];
  });
  for (size_t r = 0; r < units; ++r) ends[r + 1] += ends[r];

  nwb.table("/units", "Units", "simulated neurons (id = row; neuron_id = gillespike global id)",
            {"spike_times", "neuron_id", "population", "layer", "type", "model", "x", "y", "hidden"});
  nwb.ids("/units", units);
  // Units [lo, hi) at a time, as many as fit in slice_spikes, each slice filled by one replay.
  h5::growing_dataset<double> spike_times = out.growing<double>("/units/spike_times");
  std::vector<double> slice;
  std::vector<uint64_t> fill;
  for (size_t lo = 0, hi; lo < units; lo = hi) {
    hi = lo + 1;
    while (hi < units && ends[hi + 1] - ends[lo] <= slice_spikes) ++hi;
    if (ends[hi] == ends[lo]) continue;
    // A larger slice frees the last one first: two at once would double the peak.
    if (slice.capacity() < ends[hi] - ends[lo]) std::vector<double>().swap(slice);
    slice.assign(ends[hi] - ends[lo], 0.0);
    fill.assign(ends.begin() + std::ptrdiff_t(lo), ends.begin() + std::ptrdiff_t(hi));
    spikes([&](std::span<const double> times, std::span<const uint32_t> gids) {
      for (size_t k = 0; k < gids.size(); ++k)
        if (const int64_t r = row_of[gids[k]]; r >= int64_t(lo) && r < int64_t(hi))
          slice[fill[size_t(r) - lo]++ - ends[lo]] = times[k] * 1e-3;
    });
    spike_times.append(slice);
  }
  out.string_attribute("/units/spike_times", "description", "spike times (s)");
  nwb.typed("/units/spike_times", "VectorData");
  ends.erase(ends.begin());
  out.dataset("/units/spike_times_index", {hsize_t(ends.size())}, ends.data());
  out.string_attribute("/units/spike_times_index", "description", "index into spike_times");
  nwb.typed("/units/spike_times_index", "VectorIndex");
  out.reference_attribute("/units/spike_times_index", "target", "/units/spike_times");
  nwb.column("/units", "neuron_id", n.id, "gillespike global neuron id");
  nwb.column("/units", "population", n.population, "population");
  nwb.column("/units", "layer", n.layer, "layer label of the population");
  nwb.column("/units", "type", n.type, "excitatory, inhibitory or empty (untyped)");
  nwb.column("/units", "model", n.model, "cell model");
  nwb.column("/units", "x", n.x, "position x (run file's length unit; NaN without positions)");
  nwb.column("/units", "y", n.y, "position y (run file's length unit; NaN without positions)");
  nwb.column("/units", "hidden", n.hidden, "1: hidden neuron (outputs.hidden)");

  if (cfg.protocol) {
    const protocol_spec& p = *cfg.protocol;
    const protocol_columns c = protocol_of(p);
    auto seconds = [](std::vector<double> v) {
      for (auto& x : v) x *= 1e-3;
      return v;
    };
    nwb.table("/intervals/segments", "TimeIntervals", "protocol segments (blank or stimulus) of every trial",
              {"start_time", "stop_time", "trial", "segment_index", "kind", "stimulus_id", "stimulus"});
    nwb.ids("/intervals/segments", c.start.size());
    nwb.column("/intervals/segments", "start_time", seconds(c.start), "start (s)");
    nwb.column("/intervals/segments", "stop_time", seconds(c.end), "end (s)");
    nwb.column("/intervals/segments", "trial", c.trial, "trial");
    nwb.column("/intervals/segments", "segment_index", c.index, "position in the trial");
    nwb.column("/intervals/segments", "kind", c.kind, "blank or stimulus");
    nwb.column("/intervals/segments", "stimulus_id", c.stimulus, "stimulus id (-1: blank)");
    nwb.column("/intervals/segments", "stimulus", c.stimulus_name, "stimulus name");

    std::vector<double> t0(p.trials), t1(p.trials);
    std::vector<std::string> split(p.trials);
    const auto splits = p.trial_splits();
    for (uint32_t t = 0; t < p.trials; ++t) {
      t0[t] = t * p.trial_length() * 1e-3;
      t1[t] = (t + 1) * p.trial_length() * 1e-3;
      split[t] = split_names[splits[t]];
    }
    nwb.table("/intervals/trials", "TimeIntervals", "trials of the protocol", {"start_time", "stop_time", "split"});
    nwb.ids("/intervals/trials", p.trials);
    nwb.column("/intervals/trials", "start_time", t0, "start (s)");
    nwb.column("/intervals/trials", "stop_time", t1, "end (s)");
    nwb.column("/intervals/trials", "split", split, "train, validation or test");
  }
  out.close();
  staged.commit();
}

}  // namespace gs::io
