#include "learning/predictor/commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "io/staged_file.hpp"
#include "learning/predictor/hawkes.hpp"
#include "learning/predictor/sample.hpp"
#include "learning/predictor/train.hpp"
#include "learning/predictor/true_hawkes.hpp"
#ifdef GILLESPIKE_HAVE_CUDA
#include "learning/predictor/cuda_model.hpp"
#endif

namespace gs::predictor {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The model settings a user chooses; the rest of model_config comes from the data.
model_config apply_model_settings(model_config c, const json& j, const std::string& source) {
  const std::vector<std::string> known = {"width",      "blocks",      "heads",          "mlp_ratio",
                                          "context",    "components",  "frequencies",    "min_interval_ms",
                                          "history_basis"};
  for (const auto& [key, value] : j.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw data_error(fmt::format("{}: unknown model setting '{}' (known: {})", source, key, fmt::join(known, ", ")));
  json full = to_json(c);
  full.update(j);
  full["populations"] = json::array({{{"name", "-"}, {"offset", 0}, {"size", 1}}});  // checked later, from data
  model_config out = model_config_from_json(full, source);
  out.populations = c.populations;
  return out;
}

// {"model": {...}, "train": {...}} from the file, then each --set PATH=VALUE on top.
json read_settings(const train_options& o) {
  json j = json::object();
  if (!o.config_file.empty()) {
    std::ifstream in(o.config_file);
    if (!in) throw data_error(fmt::format("{}: cannot open", o.config_file.string()));
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw data_error(fmt::format("{}: not valid JSON: {}", o.config_file.string(), e.what()));
    }
  }
  for (const auto& s : o.sets) {
    const auto eq = s.find('=');
    const auto dot = s.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq)
      throw data_error(fmt::format("--set {}: expected model.KEY=VALUE or train.KEY=VALUE", s));
    const std::string text = s.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;
    j[s.substr(0, dot)][s.substr(dot + 1, eq - dot - 1)] = value;
  }
  for (const auto& [key, value] : j.items())
    if (key != "model" && key != "train")
      throw data_error(fmt::format("{}: unknown section '{}' (expected model, train)",
                                   o.config_file.empty() ? "--set" : o.config_file.string(), key));
  return j;
}

// A bar on stderr, redrawn at most every 0.2 s, only on a terminal.
struct progress_line {
  bool enabled;
  std::FILE* out = stderr;
  double last = -1;
  explicit progress_line(bool on) : enabled(on && isatty(2)) {}
  void operator()(int epoch, std::int64_t step, std::int64_t steps, double loss, double events_per_s) {
    if (!enabled) return;
    const double frac = double(step) / double(steps);
    if (step != steps && frac - last < 0.01) return;
    last = frac;
    const int width = 30, filled = int(frac * width);
    std::fprintf(out, "\repoch %d [%s%s] %lld/%lld  loss %.4f  %.0f events/s ", epoch, std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(step), static_cast<long long>(steps),
                 loss, events_per_s);
    if (step == steps) std::fprintf(out, "\n");
  }
};

// --device: refused before any work when this build or this machine cannot run it.
void require_device(const std::string& device) {
  if (device == "cpu") return;
  if (device != "cuda") throw data_error(fmt::format("--device {}: expected cpu or cuda", device));
#ifdef GILLESPIKE_HAVE_CUDA
  if (const std::string why = cuda_unusable_reason(); !why.empty())
    throw data_error(fmt::format("--device cuda: no usable GPU here ({}); --device cpu runs on the CPU", why));
#else
  throw data_error("--device cuda: this build has no CUDA (configured with GILLESPIKE_CUDA=OFF or without nvcc); "
                   "--device cpu runs on the CPU");
#endif
}

void print_metrics(const char* name, const metrics& m) {
  std::printf("  %-12s %9.4f %9.4f %9.4f %7.4f %7.4f %10.4g %10.4g %7.4f\n", name, m.nll(), m.nll_time, m.nll_mark,
              m.top1, m.top5, m.mae_ms, m.rmse_ms, m.ks);
}

}  // namespace

int run_train(const train_options& o) {
  require_device(o.device);
  spike_train data = read_spikes(o.data);
  const json settings = read_settings(o);
  const std::string source = o.config_file.empty() ? "--set" : o.config_file.string();
  training_state state = [&] {
    if (!o.resume.empty()) {
      training_state s = load_checkpoint(o.resume, true);
      // Only the number of epochs may change on resume; the rest fixes the run being continued.
      for (const auto& [section, values] : settings.items())
        for (const auto& [key, value] : values.items())
          if (!(section == "train" && (key == "epochs" || key == "threads")))
            throw data_error(fmt::format("{}: {}.{} cannot change when resuming {} (only train.epochs and "
                                         "train.threads can)",
                                         source, section, key, o.resume.string()));
      json t = to_json(s.train);
      if (settings.contains("train")) t.update(settings["train"]);
      s.train = train_config_from_json(t, source);
      return s;
    }
    const train_config t = train_config_from_json(settings.value("train", json::object()), source);
    const model_config m = apply_model_settings(model_config{}, settings.value("model", json::object()), source);
    return start_training(data, m, t);
  }();
  use_vocabulary(data, state.model.cfg.populations);
  const event_sequence seq = to_events(data, state.model.cfg.min_interval_ms);
  if (!o.quiet) {
    std::printf("%s: %zu spikes, %d neurons, %.1f ms; %zu intervals under %g ms raised to it\n", data.source.c_str(),
                data.size(), data.vocabulary(), data.t_ms.back() - data.t_ms.front(), seq.clamped,
                state.model.cfg.min_interval_ms);
    std::printf("model: width %d, %d blocks, %d heads, context %d, %d mixture components, %zu parameters\n",
                state.model.cfg.width, state.model.cfg.blocks, state.model.cfg.heads, state.model.cfg.context,
                state.model.cfg.components, [&] {
                  std::size_t n = 0;
                  for (const auto* p : state.model.parameters()) n += std::size_t(p->value.size());
                  return n;
                }());
  }
  progress_line bar(!o.quiet);
  const std::size_t before = state.history.size();
  continue_training(state, data, o.out_dir, std::ref(bar), o.device);
  if (!o.quiet) {
    for (std::size_t k = before; k < state.history.size(); ++k) {
      const auto& e = state.history[k];
      std::printf("epoch %d: train NLL %.4f, validation NLL %.4f (time %.4f, neuron %.4f), top-1 %.3f, %.0f events/s\n",
                  e.epoch, e.train_nll, e.validation.nll(), e.validation.nll_time, e.validation.nll_mark,
                  e.validation.top1, e.events_per_s);
    }
    const auto best = std::min_element(state.history.begin(), state.history.end(), [](const auto& a, const auto& b) {
      return a.validation.nll() < b.validation.nll();
    });
    std::printf("checkpoints in %s; lowest validation NLL after epoch %d (GiT%d.model)\n", o.out_dir.string().c_str(),
                best->epoch, best->epoch);
  }
  return 0;
}

int run_eval(const eval_options& o) {
  if (o.split != "test" && o.split != "validation")
    throw data_error(fmt::format("--split {}: expected test or validation", o.split));
  if (o.hawkes_kernels != "population" && o.hawkes_kernels != "neuron")
    throw data_error(fmt::format("--hawkes-kernels {}: expected population or neuron", o.hawkes_kernels));
  require_device(o.device);
  training_state state = load_checkpoint(o.model, false);
  spike_train data = read_spikes(o.data);
  use_vocabulary(data, state.model.cfg.populations);
  const split s = chronological_split(data.size(), state.train.train_fraction, state.train.val_fraction);
  const std::size_t first = o.split == "test" ? s.val_end : s.train_end, end = o.split == "test" ? s.n : s.val_end;
  const event_sequence seq = to_events(data, state.model.cfg.min_interval_ms);
  const int stride = o.stride > 0 ? o.stride : std::max(1, state.model.cfg.context / 2);
#ifdef GILLESPIKE_HAVE_CUDA
  const metrics model = summarise(o.device == "cuda" ? score_model_cuda(state.model, seq, first, end, stride)
                                                     : score_model(state.model, seq, first, end, stride, o.threads));
#else
  const metrics model = summarise(score_model(state.model, seq, first, end, stride, o.threads));
#endif
  const metrics poisson = summarise(poisson_baseline::fit(data, 0, s.train_end).score(seq, first, end));
  if (model.events == 0)
    throw data_error(fmt::format("{}: the {} split is empty ({} events in all)", data.source, o.split, data.size()));
  json predictors = {{"transformer", to_json(model)}, {"poisson", to_json(poisson)}};
  const std::vector<int> groups = o.hawkes_kernels == "neuron" ? neuron_groups(data.vocabulary())
                                                               : population_groups(data.populations);
  const hawkes_baseline h = hawkes_baseline::fit(seq, groups, 0, s.train_end, o.hawkes_betas, o.hawkes_iterations);
  const metrics hawkes = summarise(h.score(seq, first, end));
  predictors["hawkes"] = to_json(hawkes);
  predictors["hawkes"]["kernels"] = o.hawkes_kernels;
  predictors["hawkes"]["beta_per_ms"] = h.beta;
  predictors["hawkes"]["train_log_likelihood_per_event"] = h.log_likelihood;
  metrics truth;
  if (!o.true_run.empty()) {
    const hawkes_network_truth net = hawkes_network_truth::from_run(o.true_run, data.populations);
    // A run's summary.json (next to phy/ or spikes.h5) names its seed and synapse count: a run file
    // that rebuilds another network (a --set given to `run` and not here) is refused.
    const fs::path dir = fs::is_directory(o.data) && !fs::exists(o.data / "spike_clusters.npy") ? o.data
                                                                                               : o.data.parent_path();
    if (std::ifstream in(dir / "summary.json"); in) {
      const json summary = json::parse(in, nullptr, false);
      if (!summary.is_discarded() && (summary.value("seed", net.seed) != net.seed ||
                                      summary.value("synapses", net.synapses) != net.synapses))
        throw data_error(fmt::format("{}: the run file rebuilds seed {} with {} synapses, but {} says the recording "
                                     "had seed {} and {} synapses (give the run file with the --set overrides it "
                                     "was run with)",
                                     o.true_run.string(), net.seed, net.synapses, (dir / "summary.json").string(),
                                     summary.value("seed", net.seed), summary.value("synapses", net.synapses)));
    }
    truth = summarise(net.score(data, first, end));
    predictors["true_model"] = to_json(truth);
    predictors["true_model"]["run_file"] = o.true_run.string();
  }

  std::printf("%s on %s, %s split: events %zu..%zu (%zu scored), context %d, stride %d; NLL in nats per event, "
              "intervals in ms\n",
              o.model.string().c_str(), data.source.c_str(), o.split.c_str(), first, end, model.events,
              state.model.cfg.context, stride);
  std::printf("  %-12s %9s %9s %9s %7s %7s %10s %10s %7s\n", "predictor", "NLL", "time", "neuron", "top-1", "top-5",
              "MAE", "RMSE", "KS");
  print_metrics("transformer", model);
  print_metrics("poisson", poisson);
  print_metrics("hawkes", hawkes);
  if (!o.true_run.empty()) print_metrics("true model", truth);

  fs::path out = o.output;
  if (out.empty()) out = fs::path(o.model).replace_extension(".eval.json");
  const json result = {{"model", o.model.string()},
                       {"data", data.source},
                       {"split", o.split},
                       {"first_event", first},
                       {"end_event", end},
                       {"context", state.model.cfg.context},
                       {"stride", stride},
                       {"time_unit", "ms"},
                       {"zero_intervals_raised", seq.clamped},
                       {"min_interval_ms", state.model.cfg.min_interval_ms},
                       {"predictors", predictors}};
  io::staged_file staged(out);
  {
    std::ofstream f(staged.temp());
    f << result.dump(2) << '\n';
    if (!f) throw std::runtime_error(fmt::format("cannot write {}", out.string()));
  }
  staged.commit();
  std::printf("results in %s\n", out.string().c_str());
  return 0;
}

int run_sample(const sample_options& o) {
  if (!(o.duration_ms >= 0) || !(o.sample_rate > 0))
    throw data_error(fmt::format("expected --duration >= 0 and --sample-rate > 0, found {} and {}", o.duration_ms,
                                 o.sample_rate));
  const training_state state = load_checkpoint(o.model, false);
  spike_train data = read_spikes(o.data);
  use_vocabulary(data, state.model.cfg.populations);
  const split s = chronological_split(data.size(), state.train.train_fraction, state.train.val_fraction);
  if (s.val_end < 2 || s.val_end >= s.n)
    throw data_error(fmt::format("{}: no history before the test split, or no test split ({} events)", data.source,
                                 data.size()));
  const event_sequence seq = to_events(data, state.model.cfg.min_interval_ms);
  const double t_start = data.t_ms[s.val_end - 1];
  const double duration = o.duration_ms > 0 ? o.duration_ms : data.t_ms.back() - t_start;
  const auto t0 = std::chrono::steady_clock::now();
  const spike_train generated = sample_spikes(state.model, seq, s.val_end, t_start, duration, o.seed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_spike_outputs(o.out_dir, generated, o.sample_rate);

  spike_train recorded;
  recorded.populations = data.populations;
  for (std::size_t k = s.val_end; k < s.n && data.t_ms[k] <= t_start + duration; ++k) {
    recorded.t_ms.push_back(data.t_ms[k]);
    recorded.ids.push_back(data.ids[k]);
  }
  const json cmp = compare_trains(generated, recorded);
  std::printf("%zu spikes generated over %.1f ms from %s, after event %zu of %s (%.0f events/s); written to %s\n",
              generated.size(), duration, o.model.string().c_str(), s.val_end, data.source.c_str(),
              double(generated.size()) / seconds, o.out_dir.string().c_str());
  std::printf("  %-34s %12s %12s\n", "", "generated", "held out");
  auto row = [&](const char* name, const json& v) {
    std::printf("  %-34s %12.4g %12.4g\n", name, v["generated"].get<double>(), v["recorded"].get<double>());
  };
  row("spikes", cmp["spikes"]);
  row("mean rate (Hz)", cmp["mean_rate_hz"]);
  row("mean ISI (ms)", cmp["isi_mean_ms"]);
  row("ISI CV", cmp["isi_cv"]);
  row(fmt::format("pair correlation ({} ms bins, top {})", cmp["pair_correlation"]["bin_ms"].get<double>(),
                  cmp["pair_correlation"]["neurons"].get<std::size_t>())
          .c_str(),
      cmp["pair_correlation"]);
  std::printf("  rate correlation across neurons %.4f, ISI distributions' KS distance %.4f\n",
              cmp["rate_correlation_across_neurons"].get<double>(), cmp["isi_ks_distance"].get<double>());
  const fs::path out = o.out_dir / "comparison.json";
  io::staged_file staged(out);
  {
    std::ofstream f(staged.temp());
    f << json{{"model", o.model.string()}, {"data", data.source}, {"seed", o.seed}, {"comparison", cmp}}.dump(2)
      << '\n';
    if (!f) throw std::runtime_error(fmt::format("cannot write {}", out.string()));
  }
  staged.commit();
  return 0;
}

}  // namespace gs::predictor
