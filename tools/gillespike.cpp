// The gillespike command: run a run file, validate it, or list what is registered.
// Exit status: 0 success, 2 bad input (nothing written), 1 failure while running.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "engine/backends/event/direct.hpp"
#include "engine/backends/event/simulator.hpp"
#include "dataset/export.hpp"
#include "engine/network.hpp"
#include "engine/simulate.hpp"
#include "io/config.hpp"
#include "io/run_outputs.hpp"
#include "learning/decode/commands.hpp"
#include "learning/predictor/commands.hpp"
#include "learning/predictor/spike_data.hpp"
#include "learning/rls/commands.hpp"
#include "plugins/loader.hpp"
#include "plugins/registry.hpp"

#ifdef GILLESPIKE_HAVE_CUDA
#include "engine/backends/cuda/device_info.hpp"
#endif

namespace {

using clock_type = std::chrono::steady_clock;
double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// A one-line bar on stderr, shown only for runs longer than about two seconds on a terminal.
class progress_bar {
 public:
  progress_bar(double duration, bool enabled) : duration_(duration), enabled_(enabled && isatty(2)) {}
  void operator()(double t) {
    if (!enabled_) return;
    const double elapsed = since(start_);
    if (elapsed < 2.0) return;
    const double frac = std::min(1.0, std::max(0.0, t / duration_));
    const int width = 30, filled = static_cast<int>(frac * width);
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    std::fprintf(stderr, "\r[%s%s] %5.1f%%  t = %.0f / %.0f ms  elapsed %.1f s  eta %.1f s ",
                 std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(), 100 * frac, t,
                 duration_, elapsed, eta);
    shown_ = true;
  }
  void finish() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  double duration_;
  bool enabled_, shown_ = false;
  clock_type::time_point start_ = clock_type::now();
};

int run(const std::string& file, const std::string& out_override, const std::vector<std::string>& sets, bool quiet,
        clock_type::time_point t_start) {
  gs::registry& reg = gs::default_registry();
  const gs::run_config cfg = gs::load_config(file, sets, reg);
  gs::run_timing timing;
  auto t0 = clock_type::now();
  gs::network net = gs::build_network(cfg, reg);
  timing.build_s = since(t0);

  t0 = clock_type::now();
  const std::filesystem::path dir = out_override.empty() ? cfg.output_dir : out_override;
  gs::spike_outputs spikes(dir, cfg, net);  // written while the run goes on
  progress_bar bar(cfg.duration, !quiet);
  const gs::progress_fn show = [&](double t) { bar(t); };
  gs::run_result res = gs::simulate(net, cfg, show, &spikes);
  bar.finish();
  timing.simulate_s = since(t0);

  t0 = clock_type::now();
  gs::write_run_data(dir, cfg, net, res, spikes);
  timing.write_s = since(t0);
  timing.wall_s = since(t_start);
  const gs::json summary = gs::run_summary(cfg, net, res, timing);
  gs::write_summary(dir, summary);

  if (!quiet) {
    const std::string backend = cfg.backend == "clock"  ? fmt::format("clock backend, dt {} ms, {} threads", cfg.dt, res.threads)
                                : cfg.backend == "cuda" ? fmt::format("cuda backend, dt {} ms", cfg.dt)
                                                        : std::string("event backend");
    std::printf("%s: %u neurons, %llu synapses, %.0f ms simulated (%s)\n", cfg.file.c_str(), net.neurons,
                static_cast<unsigned long long>(summary["synapses"].get<uint64_t>()), cfg.duration, backend.c_str());
    for (const auto& [name, p] : summary["populations"].items())
      std::printf("  %-12s %8u neurons  %10llu spikes  %8.3f Hz\n", name.c_str(), p["size"].get<uint32_t>(),
                  static_cast<unsigned long long>(p["spikes"].get<uint64_t>()), p["rate_hz"].get<double>());
    std::printf("  spikes %llu, mean rate %.3f Hz, synaptic events %llu, %s %llu\n",
                static_cast<unsigned long long>(summary["spikes"].get<uint64_t>()), summary["mean_rate_hz"].get<double>(),
                static_cast<unsigned long long>(res.synaptic_events),
                cfg.clock_driven() ? "neuron updates" : "queue events", static_cast<unsigned long long>(res.events));
    std::printf("  build %.3f s, simulate %.3f s (%.1f M synaptic events/s), write %.3f s, peak memory %.0f MB\n",
                timing.build_s, timing.simulate_s, summary["synaptic_events_per_s"].get<double>() * 1e-6, timing.write_s,
                summary["peak_memory_mb"].get<double>());
    std::printf("  outputs in %s\n", dir.string().c_str());
  }
  return 0;
}

int validate(const std::string& file, const std::vector<std::string>& sets) {
  const gs::run_config cfg = gs::load_config(file, sets, gs::default_registry());
  const gs::network net = gs::build_populations(cfg, gs::default_registry());
  gs::check_method(net, cfg);
  const uint64_t neurons = net.neurons;
  std::printf("%s: valid (%zu populations, %llu neurons, %zu projections, %zu stimuli, %.0f ms)\n", file.c_str(),
              cfg.populations.size(), static_cast<unsigned long long>(neurons), cfg.projections.size(),
              cfg.stimuli.size(), cfg.duration);
  return 0;
}

// Binned sparse examples of a protocol run (dataset/export.hpp), with bytes on disk per spike.
int export_run(const gs::export_options& opt) {
  const gs::export_summary s = gs::export_binned(opt);
  const double per = s.spikes ? 1.0 / double(s.spikes) : 0.0;
  std::printf("%s: %llu examples, %llu spikes in them, %llu nonzero bins of %g ms\n", opt.out_dir.string().c_str(),
              static_cast<unsigned long long>(s.examples), static_cast<unsigned long long>(s.spikes),
              static_cast<unsigned long long>(s.nonzeros), opt.bin_ms);
  std::printf("  binned.h5 %llu bytes (%.2f per spike), npz/ %llu bytes (%.2f per spike), peak memory %.0f MB\n",
              static_cast<unsigned long long>(s.h5_bytes), double(s.h5_bytes) * per,
              static_cast<unsigned long long>(s.npz_bytes), double(s.npz_bytes) * per, gs::peak_memory_mb());
  return 0;
}

void print_params(const std::vector<gs::param_info>& ps) {
  for (const auto& p : ps)
    std::printf("      %-16s %-4s %-9s %s\n", p.name.c_str(), p.unit.c_str(), gs::default_text(p).c_str(), p.doc.c_str());
}

// Lists the built-ins, every plugin on the search path and those named with --plugin.
int info(const std::vector<std::string>& plugin_files) {
  gs::registry& reg = gs::default_registry();
  for (const auto& f : gs::plugins_on_search_path()) gs::load_plugin(reg, f);
  for (const auto& f : plugin_files) gs::load_plugin(reg, gs::find_plugin(f, std::filesystem::current_path()));
  std::printf("gillespike %s\n", GILLESPIKE_VERSION);
  std::printf("backends: event (exact, event-driven), clock (fixed step run.dt, oneTBB threads, spike times on the grid)");
#ifdef GILLESPIKE_HAVE_CUDA
  std::printf(", cuda (the clock step on a GPU)\n");
  std::printf("CUDA: %s\n", gs::cuda_device_summary().c_str());
#else
  std::printf("\n");
  std::printf("CUDA: not built (GILLESPIKE_CUDA=OFF)\n");
#endif
  std::printf("\ncell models (name, unit, default, meaning):\n");
  for (const auto& m : reg.models()) {
    std::printf("  %s [%s]: %s\n    parameters:\n", m.name.c_str(), m.origin.c_str(), m.doc.c_str());
    print_params(m.params);
    std::printf("    state (initial default):\n");
    print_params(m.state);
    std::string recs;
    for (const auto& r : m.receptors) recs += (recs.empty() ? "" : ", ") + r;
    std::printf("    receptors: %s\n", recs.c_str());
  }
  std::printf("\nconnection rules:\n");
  for (const auto& r : reg.rules()) {
    std::printf("  %s [%s]: %s\n", r.name.c_str(), r.origin.c_str(), r.doc.c_str());
    print_params(r.params);
  }
  std::printf("\nstimulus generators (besides target, ids, %s, start, stop):\n", "weight/receptor or amplitude");
  for (const auto& st : reg.stimuli()) {
    std::printf("  %s [%s]: %s\n", st.name.c_str(), st.origin.c_str(), st.doc.c_str());
    print_params(st.params);
  }
  std::printf("\nRLS target generators (learning.rls.targets.generator, docs/rls.md):\n");
  for (const auto& t : reg.targets()) {
    std::printf("  %s [%s]: %s\n", t.name.c_str(), t.origin.c_str(), t.doc.c_str());
    print_params(t.params);
  }
  std::printf("\nrecorders: spikes, state (see docs/config.md)\n");
  std::printf("\nplugins (search path GILLESPIKE_PLUGIN_PATH):%s\n", reg.plugins().empty() ? " none loaded" : "");
  for (const auto& p : reg.plugins()) {
    std::string added;
    for (const auto& m : p.models) added += (added.empty() ? "" : ", ") + ("model " + m);
    for (const auto& r : p.rules) added += (added.empty() ? "" : ", ") + ("rule " + r);
    for (const auto& st : p.stimuli) added += (added.empty() ? "" : ", ") + ("stimulus " + st);
    for (const auto& t : p.targets) added += (added.empty() ? "" : ", ") + ("RLS targets " + t);
    std::printf("  %s (%s, built with gillespike %s): %s\n", p.name.c_str(), p.file.c_str(), p.built_with.c_str(),
                added.empty() ? "nothing" : added.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto t_start = clock_type::now();
  CLI::App app{"gillespike: exact event-driven simulation of spiking neural networks"};
  app.require_subcommand(1);
  std::string file, out;
  std::vector<std::string> sets;
  bool quiet = false;
  auto* run_cmd = app.add_subcommand("run", "simulate a run file and write its outputs");
  run_cmd->add_option("config", file, "run file (JSON)")->required();
  run_cmd->add_option("-o,--output", out, "output folder (wins over outputs.dir)");
  // One value per --set, so `--set a=1 run.json` still finds the run file.
  run_cmd->add_option("--set", sets, "override a run-file value: PATH=VALUE, e.g. run.duration=500")
      ->allow_extra_args(false)
      ->take_all();
  run_cmd->add_flag("-q,--quiet", quiet, "no summary and no progress bar");
  auto* validate_cmd = app.add_subcommand("validate", "check a run file without running it");
  validate_cmd->add_option("config", file, "run file (JSON)")->required();
  validate_cmd->add_option("--set", sets, "override a run-file value: PATH=VALUE")->allow_extra_args(false)->take_all();
  gs::export_options export_opt;
  auto* export_cmd = app.add_subcommand("export", "bin a protocol run's examples into sparse CSR matrices (HDF5, .npz)");
  export_cmd->add_option("run_dir", export_opt.run_dir, "output folder of the run (spikes.h5, annotations.h5)")->required();
  export_cmd->add_option("--bin", export_opt.bin_ms, "bin width in ms")->capture_default_str();
  export_cmd->add_option("-o,--output", export_opt.out_dir, "folder for binned.h5 and npz/ (default RUN_DIR/binned)");
  std::vector<std::string> plugin_files;
  auto* info_cmd = app.add_subcommand("info", "version, cell models, connection rules and their parameters");
  info_cmd->add_option("--plugin", plugin_files, "also load this plugin (a path, or a name on the search path)")
      ->allow_extra_args(false);
  // The next-spike transformer (docs/predictor.md): options here, the work in learning/predictor.
  auto* predict_cmd = app.add_subcommand("predict", "train, evaluate and sample a next-spike transformer on spike output");
  predict_cmd->require_subcommand(1);
  gs::predictor::train_options train_opt;
  auto* predict_train = predict_cmd->add_subcommand("train", "train (or resume) a model; writes GiT{epoch}.model/.optim");
  predict_train->add_option("data", train_opt.data, "phy folder, run output folder or SONATA spikes .h5")->required();
  predict_train->add_option("-o,--output", train_opt.out_dir, "folder for the checkpoints")->required();
  predict_train->add_option("-c,--config", train_opt.config_file, "JSON {\"model\": {...}, \"train\": {...}}");
  predict_train->add_option("--set", train_opt.sets, "override a setting: model.KEY=VALUE or train.KEY=VALUE")
      ->allow_extra_args(false)
      ->take_all();
  predict_train->add_option("--resume", train_opt.resume, "continue from this GiT{epoch}.model (and its .optim)");
  predict_train->add_option("--device", train_opt.device, "cpu, or cuda: the training steps on the GPU with cuBLAS")
      ->capture_default_str();
  predict_train->add_flag("-q,--quiet", train_opt.quiet, "no progress bar and no summary");
  gs::predictor::eval_options eval_opt;
  auto* predict_eval = predict_cmd->add_subcommand("eval", "score a model and the baselines on held-out spikes");
  predict_eval->add_option("model", eval_opt.model, "GiT{epoch}.model")->required();
  predict_eval->add_option("data", eval_opt.data, "the recording the model was trained on (same split)")->required();
  predict_eval->add_option("-o,--output", eval_opt.output, "JSON results (default GiT{epoch}.eval.json)");
  predict_eval->add_option("--split", eval_opt.split, "test or validation")->check(CLI::IsMember({"test", "validation"}));
  predict_eval->add_option("--stride", eval_opt.stride, "sliding-window stride in events (default: context / 2)");
  predict_eval->add_option("--threads", eval_opt.threads, "threads (default: all cores)");
  predict_eval->add_option("--device", eval_opt.device, "cpu, or cuda: the transformer's forward passes on the GPU")
      ->capture_default_str();
  predict_eval->add_option("--hawkes-betas", eval_opt.hawkes_betas, "decay rates (1/ms) the Hawkes fit tries")
      ->capture_default_str();
  predict_eval->add_option("--hawkes-iterations", eval_opt.hawkes_iterations, "EM steps per decay rate")
      ->capture_default_str();
  predict_eval->add_option("--hawkes-kernels", eval_opt.hawkes_kernels,
                           "Hawkes kernels per population pair, or per neuron pair")
      ->check(CLI::IsMember({"population", "neuron"}))
      ->capture_default_str();
  predict_eval->add_option("--true-run", eval_opt.true_run,
                           "run file of the hawkes_linear network that made the data: also score the true model");
  gs::predictor::sample_options sample_opt;
  auto* predict_sample = predict_cmd->add_subcommand("sample", "generate spikes from a model and compare with held-out");
  predict_sample->add_option("model", sample_opt.model, "GiT{epoch}.model")->required();
  predict_sample->add_option("data", sample_opt.data, "the recording the model was trained on")->required();
  predict_sample->add_option("-o,--output", sample_opt.out_dir, "folder for phy/, spikes.h5, comparison.json")
      ->required();
  predict_sample->add_option("--duration", sample_opt.duration_ms, "ms to generate (default: the test split's span)");
  predict_sample->add_option("--seed", sample_opt.seed, "random seed")->capture_default_str();
  predict_sample->add_option("--sample-rate", sample_opt.sample_rate, "Hz, for phy spike_times.npy")
      ->capture_default_str();
  // Learning rules on spike data (docs/surrogate.md): options here, the work in learning/decode.
  auto* learn_cmd = app.add_subcommand("learn", "train learning rules on spike output");
  learn_cmd->require_subcommand(1);
  gs::decode::surrogate_options surrogate_opt;
  auto* learn_surrogate = learn_cmd->add_subcommand(
      "surrogate", "decode a continuous target from spikes: a surrogate-gradient spiking network, MLP and GRU; R^2");
  learn_surrogate->add_option("data", surrogate_opt.data, "phy folder, run output folder or SONATA spikes .h5")
      ->required();
  learn_surrogate->add_option("--target", surrogate_opt.target, "JSON time series of the variable to decode")
      ->required();
  learn_surrogate->add_option("-c,--config", surrogate_opt.config_file,
                              "JSON {\"data\": {...}, \"snn\": {...}, \"mlp\": {...}, \"gru\": {...}, \"train\": {...}}");
  learn_surrogate->add_option("--set", surrogate_opt.sets, "override a setting: SECTION.KEY=VALUE")
      ->allow_extra_args(false)
      ->take_all();
  learn_surrogate->add_option("-o,--output", surrogate_opt.output, "JSON results with the learning curves");
  learn_surrogate->add_flag("-q,--quiet", surrogate_opt.quiet, "no table");
  gs::rls::rls_options rls_opt;
  auto* learn_rls = learn_cmd->add_subcommand(
      "rls", "train a run file's plastic projections by recursive least squares (\"learning\": {\"rls\": ...})");
  learn_rls->add_option("config", rls_opt.config, "run file (JSON, clock backend)")->required();
  learn_rls->add_option("-o,--output", rls_opt.out_dir, "folder for the learning curve, checkpoint and test")->required();
  learn_rls->add_option("--set", rls_opt.sets, "override a run-file value: PATH=VALUE")->allow_extra_args(false)->take_all();
  learn_rls->add_flag("--resume", rls_opt.resume, "continue from OUTPUT/checkpoint.h5 up to learning.rls.loops");
  learn_rls->add_flag("--test", rls_opt.test, "then run learning.rls.test.trials without learning: test.h5");
  learn_rls->add_flag("-q,--quiet", rls_opt.quiet, "no table");
  app.add_flag_callback("--version", [] {
    std::printf("gillespike %s\n", GILLESPIKE_VERSION);
    std::exit(0);
  }, "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*run_cmd) return run(file, out, sets, quiet, t_start);
    if (*validate_cmd) return validate(file, sets);
    if (*export_cmd) {
      if (export_opt.out_dir.empty()) export_opt.out_dir = export_opt.run_dir / "binned";
      return export_run(export_opt);
    }
    if (*predict_train) return gs::predictor::run_train(train_opt);
    if (*predict_eval) return gs::predictor::run_eval(eval_opt);
    if (*predict_sample) return gs::predictor::run_sample(sample_opt);
    if (*learn_surrogate) return gs::decode::run_surrogate(surrogate_opt);
    if (*learn_rls) return gs::rls::run_rls(rls_opt);
    return info(plugin_files);
  } catch (const gs::config_error& e) {
    std::fprintf(stderr, "gillespike: error: %s\n", e.what());
    return 2;
  } catch (const gs::predictor::data_error& e) {
    std::fprintf(stderr, "gillespike: error: %s\n", e.what());
    return 2;
  } catch (const gs::plugin_error& e) {
    std::fprintf(stderr, "gillespike: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gillespike: failed: %s\n", e.what());
    return 1;
  }
}
