#include "learning/decode/commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "io/config.hpp"
#include "io/staged_file.hpp"

namespace gs::decode {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One section of the settings: its keys are checked against `known` and read with their types.
class section_reader {
 public:
  section_reader(const json& all, const std::string& name, std::vector<std::string> known, const std::string& source)
      : name_(name), source_(source) {
    static const json empty = json::object();
    j_ = all.contains(name) ? &all[name] : &empty;
    if (!j_->is_object()) throw data_error(fmt::format("{}: {}: expected an object", source, name));
    for (const auto& [key, value] : j_->items())
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        const std::string c = closest_name(key, known);
        throw data_error(fmt::format("{}: {}.{}: unknown setting{} (known: {})", source, name, key,
                                     c.empty() ? "" : fmt::format(", did you mean '{}'?", c), fmt::join(known, ", ")));
      }
  }
  double number(const std::string& key, double def, double lo, double hi) const {
    if (!j_->contains(key)) return def;
    const json& v = (*j_)[key];
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      throw data_error(fmt::format("{}: {}.{}: expected a number in [{}, {}], found {}", source_, name_, key, lo, hi,
                                   v.dump()));
    return v.get<double>();
  }
  int integer(const std::string& key, int def, int lo, int hi) const {
    if (!j_->contains(key)) return def;
    const json& v = (*j_)[key];
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      throw data_error(fmt::format("{}: {}.{}: expected an integer in [{}, {}], found {}", source_, name_, key, lo, hi,
                                   v.dump()));
    return v.get<int>();
  }
  bool boolean(const std::string& key, bool def) const {
    if (!j_->contains(key)) return def;
    const json& v = (*j_)[key];
    if (!v.is_boolean())
      throw data_error(fmt::format("{}: {}.{}: expected true or false, found {}", source_, name_, key, v.dump()));
    return v.get<bool>();
  }
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& allowed) const {
    if (!j_->contains(key)) return def;
    const json& v = (*j_)[key];
    if (!v.is_string() || std::find(allowed.begin(), allowed.end(), v.get<std::string>()) == allowed.end()) {
      const std::string c = v.is_string() ? closest_name(v.get<std::string>(), allowed) : "";
      throw data_error(fmt::format("{}: {}.{}: expected one of {}, found {}{}", source_, name_, key,
                                   fmt::join(allowed, ", "), v.dump(), c.empty() ? "" : fmt::format(" (did you mean '{}'?)", c)));
    }
    return v.get<std::string>();
  }
  std::vector<int> sizes(const std::string& key, const std::vector<int>& def) const {
    if (!j_->contains(key)) return def;
    const json& v = (*j_)[key];
    const bool ok = v.is_array() && !v.empty() &&
                    std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_number_integer() && e.get<long long>() >= 1 && e.get<long long>() <= 4096; });
    if (!ok)
      throw data_error(fmt::format("{}: {}.{}: expected a non-empty array of layer widths in [1, 4096], found {}",
                                   source_, name_, key, v.dump()));
    return v.get<std::vector<int>>();
  }

 private:
  const json* j_;
  std::string name_, source_;
};

json read_settings_json(const surrogate_options& o) {
  json j = o.config_file.empty() ? json::object() : read_json_object(o.config_file, "settings file");
  for (const auto& s : o.sets) {
    const auto eq = s.find('='), dot = s.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq)
      throw data_error(fmt::format("--set {}: expected SECTION.KEY=VALUE (sections data, snn, mlp, gru, train)", s));
    const std::string text = s.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;  // a bare word is a string: --set snn.surrogate=arctan
    j[s.substr(0, dot)][s.substr(dot + 1, eq - dot - 1)] = value;
  }
  return j;
}

// The run's duration_ms from the summary.json beside the spikes (a run's output folder, or the
// folder above its phy/ or spikes.h5), or -1 when there is none.
double run_duration_ms(const fs::path& data) {
  const fs::path dir = fs::is_directory(data) ? data : data.parent_path();
  for (const fs::path& f : {dir / "summary.json", dir.parent_path() / "summary.json"})
    if (fs::exists(f)) {
      const json j = read_json_object(f, "run summary");
      if (j.contains("duration_ms") && j["duration_ms"].is_number()) return j["duration_ms"].get<double>();
    }
  return -1;
}

json curve(const fit_result& f) {
  json h = json::array();
  for (const auto& e : f.history)
    h.push_back({{"epoch", e.epoch}, {"train_mse", e.train_mse}, {"validation_r2", e.validation_r2}});
  return h;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

decode_settings parse_settings(const json& j, const std::string& source) {
  const std::vector<std::string> sections = {"data", "snn", "mlp", "gru", "train"};
  for (const auto& [key, value] : j.items())
    if (std::find(sections.begin(), sections.end(), key) == sections.end()) {
      const std::string c = closest_name(key, sections);
      throw data_error(fmt::format("{}: unknown section '{}'{} (sections: {})", source, key,
                                   c.empty() ? "" : fmt::format(", did you mean '{}'?", c), fmt::join(sections, ", ")));
    }
  decode_settings s;
  const section_reader data(j, "data", {"bin_ms", "start_ms", "stop_ms", "train_fraction", "val_fraction"}, source);
  s.bin_ms = data.number("bin_ms", s.bin_ms, 1e-3, 1e6);
  s.start_ms = data.number("start_ms", s.start_ms, -1, 1e12);
  s.stop_ms = data.number("stop_ms", s.stop_ms, -1, 1e12);
  s.train_fraction = data.number("train_fraction", s.train_fraction, 0.05, 0.95);
  s.val_fraction = data.number("val_fraction", s.val_fraction, 0.01, 0.9);
  if (s.train_fraction + s.val_fraction >= 1)
    throw data_error(fmt::format("{}: data.train_fraction + data.val_fraction: expected below 1 (the rest is the test "
                                 "split), found {}",
                                 source, s.train_fraction + s.val_fraction));

  const section_reader snn(j, "snn",
                           {"hidden", "recurrent", "surrogate", "slope", "substeps", "tau_mem_ms", "tau_out_ms", "learn_tau",
                            "readout"},
                           source);
  s.snn.hidden = snn.sizes("hidden", s.snn.hidden);
  s.snn.recurrent = snn.boolean("recurrent", s.snn.recurrent);
  s.snn.surrogate = snn.choice("surrogate", "fast_sigmoid", {"fast_sigmoid", "arctan"}) == "arctan"
                        ? surrogate::surrogate_kind::arctan
                        : surrogate::surrogate_kind::fast_sigmoid;
  s.snn.slope = snn.number("slope", s.snn.slope, 1e-3, 1e3);
  s.snn.substeps = snn.integer("substeps", s.snn.substeps, 1, 1000);
  s.snn.tau_mem_ms = snn.number("tau_mem_ms", s.snn.tau_mem_ms, 1e-3, 1e6);
  s.snn.tau_out_ms = snn.number("tau_out_ms", s.snn.tau_out_ms, 1e-3, 1e6);
  s.snn.learn_tau = snn.boolean("learn_tau", s.snn.learn_tau);
  s.snn.membrane_readout = snn.choice("readout", "membrane", {"membrane", "spikes"}) == "membrane";

  const section_reader mlp(j, "mlp", {"hidden", "history"}, source);
  s.mlp_hidden = mlp.integer("hidden", s.mlp_hidden, 1, 4096);
  s.mlp_history = mlp.integer("history", s.mlp_history, 1, 1000);
  const section_reader gru(j, "gru", {"hidden"}, source);
  s.gru_hidden = gru.integer("hidden", s.gru_hidden, 1, 4096);

  const section_reader t(j, "train",
                         {"epochs", "window", "batch", "lr", "weight_decay", "clip", "warmup_fraction",
                          "final_lr_fraction", "seed"},
                         source);
  s.train.epochs = t.integer("epochs", s.train.epochs, 1, 100000);
  s.train.window = t.integer("window", s.train.window, 1, 100000);
  s.train.batch = t.integer("batch", s.train.batch, 1, 4096);
  s.train.lr = t.number("lr", s.train.lr, 0, 10);
  s.train.weight_decay = t.number("weight_decay", s.train.weight_decay, 0, 10);
  s.train.clip = t.number("clip", s.train.clip, 0, 1e12);
  s.train.warmup_fraction = t.number("warmup_fraction", s.train.warmup_fraction, 0, 1);
  s.train.final_lr_fraction = t.number("final_lr_fraction", s.train.final_lr_fraction, 0, 1);
  s.train.seed = std::uint64_t(t.integer("seed", int(s.train.seed), 0, 2147483647));
  return s;
}

decode_report run_decoders(const predictor::spike_train& spikes, const target_series& target,
                           const decode_settings& s, double run_end_ms) {
  decode_report r;
  const double start = s.start_ms >= 0 ? s.start_ms : target.times_ms.front();
  const double stop = s.stop_ms >= 0 ? s.stop_ms : target.end_ms;
  // Bins after the run's end would count no spikes and still be scored.
  if (run_end_ms >= 0 && stop > run_end_ms)
    throw data_error(fmt::format("{}: the decoded window ends at {} ms (data.stop_ms, default the target's end_ms) "
                                 "but the run lasted {} ms (its summary.json); expected a window within the run",
                                 spikes.source, stop, run_end_ms));
  r.data = bin_data(spikes, target, s.bin_ms, start, stop);
  r.split = split_bins(r.data.counts.rows(), s.train_fraction, s.val_fraction);
  if (r.split.val_end - r.split.train_end < 2 || r.split.n - r.split.val_end < 2)
    throw data_error(fmt::format("{}: {} bins leave fewer than 2 for validation or test; lengthen the window or "
                                 "change data.train_fraction and data.val_fraction",
                                 target.source, r.split.n));
  dataset d;
  d.split = r.split;
  d.x = standardiser::fit(r.data.counts, r.split.train_end).apply(r.data.counts);
  d.y = standardiser::fit(r.data.target, r.split.train_end).apply(r.data.target);
  const int inputs = int(d.x.cols()), outputs = int(d.y.cols());

  surrogate::snn_config sc = s.snn;
  sc.inputs = inputs;
  sc.outputs = outputs;
  sc.bin_ms = s.bin_ms;
  surrogate::spiking_net<float> snn(sc, s.train.seed);
  r.fits.push_back(fit(snn, d, s.train, "snn"));
  mlp_decoder<float> mlp(inputs, outputs, s.mlp_hidden, s.mlp_history, s.train.seed + 1);
  r.fits.push_back(fit(mlp, d, s.train, "mlp"));
  gru_decoder<float> gru(inputs, outputs, s.gru_hidden, s.train.seed + 2);
  r.fits.push_back(fit(gru, d, s.train, "gru"));
  return r;
}

int run_surrogate(const surrogate_options& o) {
  const std::string source = o.config_file.empty() ? "--set" : o.config_file.string();
  const decode_settings s = parse_settings(read_settings_json(o), source);
  const predictor::spike_train spikes = predictor::read_spikes(o.data);
  const target_series target = read_target(o.target);
  const decode_report r = run_decoders(spikes, target, s, run_duration_ms(o.data));

  const auto& names = r.data.names;
  if (!o.quiet) {
    std::printf("%s: %d neurons, %zu spikes in [%g, %g) ms; target %s (%s) from %s\n", spikes.source.c_str(),
                int(r.data.counts.cols()), r.data.spikes, r.data.start_ms,
                r.data.start_ms + double(r.split.n) * r.data.bin_ms, fmt::format("{}", fmt::join(names, ", ")).c_str(),
                fmt::format("{} outputs", names.size()).c_str(), target.source.c_str());
    std::printf("%lld bins of %g ms: train %lld, validation %lld, test %lld; %d epochs, windows of %d steps, %d streams, seed %llu\n",
                static_cast<long long>(r.split.n), r.data.bin_ms, static_cast<long long>(r.split.train_end),
                static_cast<long long>(r.split.val_end - r.split.train_end),
                static_cast<long long>(r.split.n - r.split.val_end), s.train.epochs, s.train.window, s.train.batch,
                static_cast<unsigned long long>(s.train.seed));
    std::printf("  %-6s %10s %6s %9s %9s  %-24s %8s\n", "model", "parameters", "best", "val R^2", "test R^2",
                fmt::format("test R^2 ({})", fmt::join(names, ", ")).c_str(), "seconds");
    for (const auto& f : r.fits)
      std::printf("  %-6s %10zu %6d %9.4f %9.4f  %-24s %8.2f\n", f.name.c_str(), f.parameters, f.best_epoch,
                  mean_of(f.validation_r2), mean_of(f.test_r2),
                  fmt::format("{:.4f}", fmt::join(f.test_r2, ", ")).c_str(), f.seconds);
  }
  if (!o.output.empty()) {
    json models = json::object();
    for (const auto& f : r.fits)
      models[f.name] = {{"parameters", f.parameters},
                        {"best_epoch", f.best_epoch},
                        {"validation_r2", f.validation_r2},
                        {"test_r2", f.test_r2},
                        {"test_r2_mean", mean_of(f.test_r2)},
                        {"seconds", f.seconds},
                        {"history", curve(f)}};
    const json result = {{"data", spikes.source},
                         {"target", target.source},
                         {"names", names},
                         {"neurons", r.data.counts.cols()},
                         {"spikes", r.data.spikes},
                         {"bin_ms", r.data.bin_ms},
                         {"start_ms", r.data.start_ms},
                         {"bins", {{"train", r.split.train_end},
                                   {"validation", r.split.val_end - r.split.train_end},
                                   {"test", r.split.n - r.split.val_end}}},
                         {"settings", read_settings_json(o)},
                         {"models", models}};
    io::staged_file staged(o.output);
    {
      std::ofstream f(staged.temp());
      f << result.dump(2) << '\n';
      if (!f) throw std::runtime_error(fmt::format("cannot write {}", o.output.string()));
    }
    staged.commit();
    if (!o.quiet) std::printf("results and learning curves in %s\n", o.output.string().c_str());
  }
  return 0;
}

}  // namespace gs::decode
