// RLS training driven from a run file (learning/rls/training.hpp, `gillespike learn rls`) on a
// 200-neuron version of the reference task: it must learn (correlation with the sinusoidal
// targets far above the untrained network's), give identical learning curves for a fixed seed,
// resume exactly, refuse bad input, and its plastic current must be w . r, computed here from the
// recorded spikes and the projections' weights.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "io/hdf5_read.hpp"
#include "learning/rls/training.hpp"
#if defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/device_info.hpp"
#endif
#include "plugins/registry.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/python.hpp"
#include "tests/support/rls_task.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;
using gs::test::cli;
using gs::test::has;
using gs::test::scratch_dir;
using gs::test::correlation_of;
using gs::test::curve_text;
using gs::test::small_task;
using gs::test::write_npy_matrix;

TEST_CASE("RLS learns the sinusoids of a small network; a fixed seed repeats its learning curve; plot") {
  scratch_dir dir;
  const std::string run = dir.write("small.json", small_task()).string();
  const auto r = cli({"learn", "rls", run, "-o", (dir.path / "a").string(), "--test"}, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  MESSAGE(r.out);
  const std::vector<std::string> a = curve_text(dir.path / "a");
  REQUIRE(a.size() == 13);  // loop 0 (before learning) and 12 loops
  // Random phases: the untrained network's currents hardly correlate with the targets.
  CHECK(std::fabs(correlation_of(a[0])) < 0.2);
  CHECK(correlation_of(a.back()) > 0.6);
  CHECK(fs::exists(dir.path / "a" / "test.h5"));
  const auto shape = gs::io::read_h5_shape(dir.path / "a" / "test.h5", "psth_hz");
  CHECK(shape == std::vector<size_t>{200, 60});

  const auto again = cli({"learn", "rls", run, "-o", (dir.path / "b").string(), "-q"}, dir.path);
  REQUIRE_MESSAGE(again.status == 0, again.err);
  CHECK(curve_text(dir.path / "b") == a);
  const auto other = cli({"learn", "rls", run, "-o", (dir.path / "c").string(), "-q", "--set", "run.seed=8"}, dir.path);
  REQUIRE_MESSAGE(other.status == 0, other.err);
  CHECK(curve_text(dir.path / "c") != a);

  const std::string py = gs::test::python_with("matplotlib, h5py, numpy");
  if (py.empty()) {
    MESSAGE("plot skipped: no python3 imports matplotlib (tools/install_deps.sh installs it from PyPI)");
    return;
  }
  const std::string cmd = fmt::format("{} {}/tools/plot_rls.py {} -o {} > {} 2>&1", py, GS_SOURCE_DIR,
                                      (dir.path / "a").string(), (dir.path / "plots").string(), (dir.path / "log").string());
  CHECK_MESSAGE(std::system(cmd.c_str()) == 0, gs::test::slurp(dir.path / "log"));
  for (const char* name : {"learning_curve.png", "test.png"})
    CHECK(gs::test::slurp(dir.path / "plots" / name).substr(0, 4) == std::string("\x89PNG"));
}

TEST_CASE("RLS resumed from a checkpoint equals the uninterrupted training, bit for bit") {
  scratch_dir dir;
  const std::string run = dir.write("small.json", small_task()).string();
  const std::string whole = (dir.path / "whole").string(), parts = (dir.path / "parts").string();
  REQUIRE(cli({"learn", "rls", run, "-o", whole, "-q", "--set", "learning.rls.loops=4"}, dir.path).status == 0);
  REQUIRE(cli({"learn", "rls", run, "-o", parts, "-q", "--set", "learning.rls.loops=2"}, dir.path).status == 0);
  CHECK(gs::io::read_h5_uint64(fs::path(parts) / "checkpoint.h5", "loop")[0] == 2);
  const auto resumed = cli({"learn", "rls", run, "-o", parts, "-q", "--resume", "--set", "learning.rls.loops=4"}, dir.path);
  REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
  CHECK(gs::io::read_h5_uint64(fs::path(whole) / "checkpoint.h5", "loop") ==
        gs::io::read_h5_uint64(fs::path(parts) / "checkpoint.h5", "loop"));
  for (const char* d : {"weights", "P", "targets", "curve/per_neuron", "curve/rate_hz"}) {
    CAPTURE(d);
    CHECK(gs::io::read_h5_doubles(fs::path(whole) / "checkpoint.h5", d) ==
          gs::io::read_h5_doubles(fs::path(parts) / "checkpoint.h5", d));
  }
  CHECK(curve_text(whole) == curve_text(parts));
}

TEST_CASE("the plastic current in the engine is w . r of the recorded spikes, after weights have changed") {
  scratch_dir dir;
  gs::registry& reg = gs::default_registry();
  const gs::run_config cfg = gs::load_config(dir.write("small.json", small_task()), {}, reg);
  gs::rls::training tr(cfg, reg);
  size_t rows = tr.neurons(), cols = tr.learning_times().size();
  std::vector<double> targets(rows * cols);
  for (size_t k = 0; k < targets.size(); ++k) targets[k] = 0.3 * std::sin(double(k));
  tr.set_targets(targets, rows, cols, "test");
  tr.present(1, true);  // the weights move away from their constant start
  const gs::rls::presentation p = tr.present(2, false);

  // w . r by hand: each recorded spike of a plastic source at time s (on the grid) reaches the
  // target after the 0.1 ms delay and decays with tau = 150 ms; weights straight from the CSR.
  const double dt = 0.1, tau = 150.0;
  const gs::network& net = tr.net();
  std::vector<std::vector<std::pair<uint32_t, double>>> inputs(net.neurons);  // per target gid: (source gid, w)
  bool changed = false;
  for (const auto& pr : net.projections) {
    if (pr.receptor != 0) continue;  // receptor "excitatory": the plastic projections
    const uint32_t s0 = net.populations[pr.source]->first_gid, t0 = net.populations[pr.target]->first_gid;
    for (size_t s = 0; s + 1 < pr.row.size(); ++s)
      for (uint64_t e = pr.row[s]; e < pr.row[s + 1]; ++e) {
        inputs[t0 + pr.targets[e]].push_back({uint32_t(s0 + s), double(pr.weights[e])});
        changed |= std::fabs(double(pr.weights[e])) != float(0.0124);
      }
  }
  CHECK(changed);
  std::vector<std::vector<double>> spikes(net.neurons);
  for (size_t k = 0; k < p.spike_times.size(); ++k) spikes[p.spike_gids[k]].push_back(p.spike_times[k]);
  double worst = 0;
  for (uint32_t i : {0u, 37u, 99u, 100u, 163u, 199u}) {
    for (size_t q = 0; q < tr.sample_times().size(); q += 97) {
      const double t = tr.sample_times()[q];
      long double sum = 0;
      for (const auto& [src, w] : inputs[i])
        for (double s : spikes[src])
          if (s + dt <= t + 1e-9) sum += w * std::exp(-(t - s - dt) / tau);
      const double engine = p.plastic(i, long(q));
      worst = std::max(worst, std::fabs(engine - double(sum)) / std::max(1e-3, std::fabs(double(sum))));
    }
  }
  MESSAGE("largest relative difference between the engine's plastic current and w . r: " << worst);
  CHECK(worst < 1e-9);
}

TEST_CASE("bad RLS input is refused with exit 2 and nothing written") {
  scratch_dir dir;
  const std::string run = dir.write("small.json", small_task()).string();
  auto refused = [&](const std::vector<std::string>& extra, const std::string& message) {
    const fs::path out = dir.path / "out";
    std::vector<std::string> args{"learn", "rls", run, "-o", out.string(), "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = cli(args, dir.path);
    CAPTURE(message);
    CHECK(r.status == 2);
    CHECK_MESSAGE(has(r.err, message), r.err);
    CHECK(!fs::exists(out));
  };
  refused({"--set", "learning.rls.window=[200, 1300]"}, "learning.rls.window: expected 0 <= start < end <= run.duration");
  refused({"--set", "learning.rls.lamda=1"}, "did you mean \"lambda\"");
  refused({"--set", "learning.rls.plastic=[\"plastic_ex\"]"}, "did you mean \"plastic_exc\"");
  refused({"--set", "learning.rls.learn_every=0.25"}, "not a whole number of steps");
  refused({"--resume"}, "no checkpoint to resume from");
  const std::string event = dir.write("event.json", small_task("event")).string();
  const auto r = cli({"learn", "rls", event, "-o", (dir.path / "out").string()}, dir.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "clock backend only"));

  // Target files: (neurons, learning times) = (200, 100), finite.
  write_npy_matrix(dir.path / "short.npy", 200, 99, std::vector<double>(200 * 99, 0.5));
  refused({"--set", "learning.rls.targets={\"file\": \"short.npy\"}"}, "expected targets of shape (200, 100)");
  std::vector<double> v(200 * 100, 0.5);
  v[1234] = std::nan("");
  write_npy_matrix(dir.path / "nan.npy", 200, 100, v);
  refused({"--set", "learning.rls.targets={\"file\": \"nan.npy\"}"}, "is nan, not a finite number");
  v[1234] = 0.5;
  write_npy_matrix(dir.path / "good.npy", 200, 100, v);
  const auto ok = cli({"learn", "rls", run, "-o", (dir.path / "good").string(), "-q", "--set", "learning.rls.loops=1", "--set",
                       "learning.rls.targets={\"file\": \"good.npy\"}"},
                      dir.path);
  CHECK_MESSAGE(ok.status == 0, ok.err);
}

TEST_CASE("learning.rls.device: a bad value, and \"cuda\" where it cannot run, are refused with nothing written") {
  scratch_dir dir;
  const std::string run = dir.write("small.json", small_task()).string();
  auto refused = [&](const std::string& device, const std::string& says) {
    const auto out = dir.path / "out";
    const auto r = cli({"learn", "rls", run, "-o", out.string(), "--set", "learning.rls.device=\"" + device + "\""},
                       dir.path);
    CHECK(r.status == 2);
    CHECK_MESSAGE((has(r.err, "learning.rls.device") && has(r.err, says)), r.err);
    CHECK(!fs::exists(out));
  };
  refused("gpu", "expected \"cpu\" or \"cuda\"");
#if defined(GILLESPIKE_HAVE_CUDA)
  if (!gs::cuda_unusable_reason().empty()) refused("cuda", "no usable GPU here");
  // With a GPU, tests/gpu/test_rls_cuda trains with it.
#else
  refused("cuda", "built without CUDA");
#endif
}
