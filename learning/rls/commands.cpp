#include "learning/rls/commands.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "io/hdf5_handle.hpp"
#include "io/hdf5_read.hpp"
#include "io/npy.hpp"
#include "io/staged_file.hpp"
#include "learning/rls/training.hpp"
#include "plugins/registry.hpp"

namespace gs::rls {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The mean over neurons whose correlation is defined.
double mean_finite(const std::vector<double>& v) {
  double sum = 0;
  size_t k = 0;
  for (double c : v)
    if (!std::isnan(c)) sum += c, ++k;
  return k ? sum / double(k) : std::nan("");
}

// The learning curve: one entry per loop, loop 0 being the presentation before any learning.
struct curve {
  std::vector<double> mean, rate_hz, seconds;
  std::vector<std::vector<double>> per_neuron;

  void add(const std::vector<double>& corr, double rate, double s) {
    mean.push_back(mean_finite(corr));
    per_neuron.push_back(corr);
    rate_hz.push_back(rate);
    seconds.push_back(s);
  }
};

std::vector<double> flatten(const std::vector<std::vector<double>>& rows) {
  std::vector<double> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

// Targets from a file: a 2-D .npy, or an HDF5 dataset; checked by training::set_targets.
void read_target_file(training& tr, const rls_spec& s) {
  size_t rows = 0, cols = 0;
  std::vector<double> v;
  try {
    if (s.target_dataset.empty()) {
      v = io::read_npy_matrix(s.target_file, rows, cols);
    } else {
      const auto shape = io::read_h5_shape(s.target_file, s.target_dataset);
      if (shape.size() != 2)
        throw config_error(s.target_file, s.path + ".targets.dataset",
                           fmt::format("expected \"{}\" to be 2-D (neurons, learning times), found {} dimensions",
                                       s.target_dataset, shape.size()));
      rows = shape[0], cols = shape[1];
      v = io::read_h5_doubles(s.target_file, s.target_dataset);
    }
  } catch (const config_error&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw config_error(s.target_file, s.path + ".targets.file", e.what());
  }
  tr.set_targets(std::move(v), rows, cols, s.target_file);
}

// Weights, P, targets and the curve so far: everything a resumed run needs besides the run
// file (each loop's random draws are keyed by the seed and the loop number).
void write_checkpoint(const fs::path& file, training& tr, uint64_t loop, uint64_t seed, const curve& c) {
  trainer& t = tr.rls();
  std::vector<double> w, P;
  for (size_t i = 0; i < t.size(); ++i) {
    w.insert(w.end(), t.weights(i).data(), t.weights(i).data() + t.weights(i).size());
    const Eigen::MatrixXd Pi = t.inverse_correlation(i);
    P.insert(P.end(), Pi.data(), Pi.data() + Pi.size());
  }
  io::staged_file staged(file);
  {
    io::h5::writer h(staged.temp(), file);
    h.dataset("loop", {1}, &loop);
    h.dataset("seed", {1}, &seed);
    h.dataset("weights", {w.size()}, w.data());
    h.dataset("P", {P.size()}, P.data());
    h.dataset("targets", {tr.neurons(), tr.learning_times().size()}, tr.targets().data());
    const std::vector<double> per = flatten(c.per_neuron);
    h.group("curve");
    h.dataset("curve/mean_correlation", {c.mean.size()}, c.mean.data());
    h.dataset("curve/per_neuron", {c.per_neuron.size(), tr.neurons()}, per.data());
    h.dataset("curve/rate_hz", {c.rate_hz.size()}, c.rate_hz.data());
    h.dataset("curve/seconds", {c.seconds.size()}, c.seconds.data());
    h.close();
  }
  staged.commit();
}

uint64_t read_checkpoint(const fs::path& file, training& tr, uint64_t seed, curve& c) {
  try {
    if (io::read_h5_uint64(file, "seed").at(0) != seed)
      throw config_error(file.string(), "seed", "the checkpoint was written with another run.seed");
    const std::vector<double> w = io::read_h5_doubles(file, "weights"), P = io::read_h5_doubles(file, "P");
    trainer& t = tr.rls();
    size_t wo = 0, po = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      const Eigen::Index p = t.weights(i).size();
      if (wo + size_t(p) > w.size() || po + size_t(p * p) > P.size())
        throw config_error(file.string(), "weights", "the checkpoint does not match the run file's plastic projections");
      t.restore(i, Eigen::Map<const Eigen::VectorXd>(w.data() + wo, p), Eigen::Map<const Eigen::MatrixXd>(P.data() + po, p, p));
      wo += size_t(p), po += size_t(p * p);
    }
    if (wo != w.size()) throw config_error(file.string(), "weights", "the checkpoint does not match the run file's plastic projections");
    tr.write_weights();
    const auto shape = io::read_h5_shape(file, "targets");
    tr.set_targets(io::read_h5_doubles(file, "targets"), shape.at(0), shape.at(1), file.string());
    c.mean = io::read_h5_doubles(file, "curve/mean_correlation");
    c.rate_hz = io::read_h5_doubles(file, "curve/rate_hz");
    c.seconds = io::read_h5_doubles(file, "curve/seconds");
    const std::vector<double> per = io::read_h5_doubles(file, "curve/per_neuron");
    for (size_t l = 0; l < c.mean.size(); ++l)
      c.per_neuron.emplace_back(per.begin() + long(l * tr.neurons()), per.begin() + long((l + 1) * tr.neurons()));
    return io::read_h5_uint64(file, "loop").at(0);
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const config_error*>(&e)) throw;
    throw config_error(file.string(), "", fmt::format("cannot resume from this checkpoint: {}", e.what()));
  }
}

void write_curve(const fs::path& dir, const curve& c, uint32_t neurons) {
  {
    io::staged_file staged(dir / "learning_curve.csv");
    std::ofstream out(staged.temp());
    out << "loop,mean_correlation,rate_hz,seconds\n";
    for (size_t l = 0; l < c.mean.size(); ++l)
      out << fmt::format("{},{:.17g},{:.17g},{:.6g}\n", l, c.mean[l], c.rate_hz[l], c.seconds[l]);
    out.close();
    staged.commit();
  }
  io::staged_file staged(dir / "learning_curve.h5");
  {
    io::h5::writer h(staged.temp(), staged.final_path());
    const std::vector<double> per = flatten(c.per_neuron);
    h.dataset("mean_correlation", {c.mean.size()}, c.mean.data());
    h.dataset("per_neuron", {c.per_neuron.size(), neurons}, per.data());
    h.dataset("rate_hz", {c.rate_hz.size()}, c.rate_hz.data());
    h.close();
  }
  staged.commit();
}

// Trials without learning, each from its own initial state: trial-averaged PSTHs and currents.
double run_test(const fs::path& dir, training& tr, const rls_spec& s, double duration_ms) {
  Eigen::MatrixXd current, plastic, psth;
  for (uint32_t t = 0; t < s.test_trials; ++t) {
    const presentation p = tr.present(0x80000000u + t, false, s.psth_bin);
    if (t == 0) {
      current = p.current, plastic = p.plastic, psth = p.psth;
    } else {
      current += p.current, plastic += p.plastic, psth += p.psth;
    }
  }
  const double trials = double(s.test_trials);
  current /= trials, plastic /= trials;
  psth *= 1000.0 / (trials * s.psth_bin);  // Hz
  const std::vector<double> corr = tr.correlations(current);
  // Row-major copies of the column-major matrices.
  auto rows = [](const Eigen::MatrixXd& m) {
    std::vector<double> v(size_t(m.size()));
    Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), m.rows(), m.cols()) = m;
    return v;
  };
  io::staged_file staged(dir / "test.h5");
  {
    io::h5::writer h(staged.temp(), staged.final_path());
    const hsize_t n = tr.neurons();
    const std::vector<double> c = rows(current), pl = rows(plastic), ps = rows(psth);
    std::vector<double> bins(size_t(psth.cols()));
    for (size_t b = 0; b < bins.size(); ++b) bins[b] = double(b) * s.psth_bin;
    h.dataset("current", {n, hsize_t(current.cols())}, c.data());
    h.dataset("plastic_current", {n, hsize_t(plastic.cols())}, pl.data());
    h.dataset("sample_times_ms", {tr.sample_times().size()}, tr.sample_times().data());
    h.dataset("target", {n, tr.learning_times().size()}, tr.targets().data());
    h.dataset("learning_times_ms", {tr.learning_times().size()}, tr.learning_times().data());
    h.dataset("correlation", {corr.size()}, corr.data());
    h.dataset("psth_hz", {n, hsize_t(psth.cols())}, ps.data());
    h.dataset("psth_bin_starts_ms", {bins.size()}, bins.data());
    const uint64_t trials_u = s.test_trials;
    h.attribute("/", "trials", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &trials_u);
    h.attribute("/", "duration_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &duration_ms);
    h.close();
  }
  staged.commit();
  return mean_finite(corr);
}

}  // namespace

int run_rls(const rls_options& o) {
  registry& reg = default_registry();
  const run_config cfg = load_config(o.config, o.sets, reg);
  if (!cfg.rls)
    throw config_error(cfg.file, "learning.rls", "is required by `gillespike learn rls` but missing (docs/rls.md)");
  const rls_spec& s = *cfg.rls;
  const fs::path ckpt = o.out_dir / "checkpoint.h5";
  if (o.resume && !fs::exists(ckpt))
    throw config_error(ckpt.string(), "", "no checkpoint to resume from (train without --resume first)");

  auto t0 = std::chrono::steady_clock::now();
  training tr(cfg, reg);
  const double setup_s = seconds_since(t0);
  const double rate_scale = 1000.0 / (double(tr.neurons()) * cfg.duration);
  curve c;
  uint64_t done = 0;
  if (o.resume) {
    done = read_checkpoint(ckpt, tr, cfg.seed, c);
  } else {
    if (!s.target_file.empty()) read_target_file(tr, s);  // refused before anything runs
    t0 = std::chrono::steady_clock::now();
    const presentation base = tr.present(0, false);
    if (s.target_file.empty()) {
      target_context ctx;
      ctx.neurons = tr.neurons();
      ctx.times_ms = tr.learning_times();
      const Eigen::VectorXd mean = tr.mean_current(base);
      ctx.mean_current.assign(mean.data(), mean.data() + mean.size());
      ctx.seed = cfg.seed;
      tr.set_targets(s.make_targets(s.generator_params, ctx), tr.neurons(), ctx.times_ms.size(),
                     fmt::format("{} (target generator \"{}\")", cfg.file, s.generator));
    }
    c.add(tr.correlations(base.current), double(base.spikes) * rate_scale, seconds_since(t0));
  }
  fs::create_directories(o.out_dir);
  if (!o.quiet) {
    std::printf("%s: %u trained neurons, %zu learning times per loop, setup %.2f s\n", cfg.file.c_str(), tr.neurons(),
                tr.learning_times().size(), setup_s);
    std::printf("  loop  correlation  rate (Hz)  seconds\n");
    if (!o.resume) std::printf("  %4d  %11.4f  %9.3f  %7.2f  (before learning)\n", 0, c.mean[0], c.rate_hz[0], c.seconds[0]);
    std::fflush(stdout);
  }
  double train_s = 0, update_s = 0;
  for (uint64_t loop = done + 1; loop <= s.loops; ++loop) {
    t0 = std::chrono::steady_clock::now();
    const presentation p = tr.present(uint32_t(loop), true);
    const std::vector<double> corr = tr.correlations(p.current);
    const double sec = seconds_since(t0);
    train_s += sec;
    update_s += p.update_s;
    c.add(corr, double(p.spikes) * rate_scale, sec);
    if (!o.quiet) {
      std::printf("  %4llu  %11.4f  %9.3f  %7.2f\n", static_cast<unsigned long long>(loop), c.mean.back(),
                  c.rate_hz.back(), sec);
      std::fflush(stdout);
    }
    if (loop % s.checkpoint_every == 0 || loop == s.loops) write_checkpoint(ckpt, tr, loop, cfg.seed, c);
  }
  if (!fs::exists(ckpt)) write_checkpoint(ckpt, tr, done, cfg.seed, c);  // loops already done
  write_curve(o.out_dir, c, tr.neurons());
  if (!o.quiet && s.loops > done)
    std::printf("  %.3f s per loop over %llu loops (RLS updates %.3f s of it); outputs in %s\n",
                train_s / double(s.loops - done), static_cast<unsigned long long>(s.loops - done),
                update_s / double(s.loops - done), o.out_dir.string().c_str());
  if (o.test) {
    t0 = std::chrono::steady_clock::now();
    const double mean = run_test(o.out_dir, tr, s, cfg.duration);
    if (!o.quiet)
      std::printf("  test: %u trials, correlation of the trial-averaged current %.4f (%.1f s), test.h5\n", s.test_trials,
                  mean, seconds_since(t0));
  }
  return 0;
}

}  // namespace gs::rls
