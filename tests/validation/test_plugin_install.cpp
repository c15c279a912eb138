// The authoring kit end to end: install the project to a temporary prefix (cmake --install),
// build examples/plugins against it with find_package(Gillespike), load the plugins from a run
// file with the installed CLI, and check the output against closed forms.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "io/hdf5_read.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

int sh(const std::string& cmd, const std::filesystem::path& log) {
  const int raw = std::system((cmd + " > " + test::quote(log.string()) + " 2>&1").c_str());
  return raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// Quadratic integrate-and-fire under constant current: time from v0 to v1 (see test_plugins.cpp).
double qif_time(double v0, double v1, double I) {
  const double C = 100, k = 0.7, V_r = -60, V_t = -40;
  const double a = k / C, mid = (V_r + V_t) / 2, half = (V_t - V_r) / 2;
  const double b = std::sqrt((I / C - a * half * half) / a);
  return (std::atan((v1 - mid) / b) - std::atan((v0 - mid) / b)) / (a * b);
}

}  // namespace

TEST_CASE("install, build the example plugins with find_package, run them") {
  test::scratch_dir dir;
  const auto prefix = dir.path / "prefix", build = dir.path / "plugins-build", log = dir.path / "log.txt";
  INFO("log: ", test::slurp(log));
  REQUIRE_MESSAGE(sh("cmake --install " + test::quote(GS_BINARY_DIR) + " --prefix " + test::quote(prefix.string()), log) == 0,
                  test::slurp(log));
  REQUIRE(std::filesystem::exists(prefix / "include/gillespike/plugins/plugin.hpp"));
  REQUIRE_MESSAGE(sh(fmt::format("cmake -S {} -B {} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH={}",
                                 test::quote(std::string(GS_SOURCE_DIR) + "/examples/plugins"),
                                 test::quote(build.string()), test::quote(prefix.string())),
                     log) == 0,
                  test::slurp(log));
  REQUIRE_MESSAGE(sh("cmake --build " + test::quote(build.string()) + " -j 2", log) == 0, test::slurp(log));

  const auto run = dir.write("run.json", fmt::format(R"({{
    "plugins": ["{0}/libquadratic_if.so", "{0}/libring.so"],
    "run": {{"duration": 400, "seed": 5}},
    "populations": {{"q": {{"model": "quadratic_if", "size": 50, "params": {{"I_e": 120}}}}}},
    "projections": [{{"source": "q", "target": "q", "rule": {{"ring": {{"k": 3}}}}, "weight": 0.0,
                      "receptor": "excitatory"}}],
    "recorders": [{{"spikes": {{}}}}],
    "outputs": {{"dir": "{1}"}}
  }})", build.string(), (dir.path / "out").string()));
  const std::string cli = (prefix / "bin/gillespike").string();
  REQUIRE(sh(test::quote(cli) + " run -q " + test::quote(run.string()), log) == 0);
  const auto summary = nlohmann::json::parse(test::slurp(dir.path / "out/summary.json"));
  CHECK(summary["synapses"].get<uint64_t>() == 50 * 3);  // the ring: k targets per neuron

  // Every neuron fires at the closed-form times: the first from rest, then from the reset.
  const auto ts = io::read_h5_doubles(dir.path / "out/spikes.h5", "/spikes/q/timestamps");
  const auto ids = io::read_h5_uint64(dir.path / "out/spikes.h5", "/spikes/q/node_ids");
  const double first = qif_time(-60, 35, 120), isi = qif_time(-50, 35, 120);
  const size_t per_neuron = static_cast<size_t>(1 + std::floor((400 - first) / isi));
  REQUIRE(ts.size() == 50 * per_neuron);
  double worst = 0;
  std::vector<size_t> seen(50, 0);
  for (size_t k = 0; k < ts.size(); ++k) worst = std::max(worst, std::abs(ts[k] - (first + seen[ids[k]]++ * isi)));
  MESSAGE(fmt::format("installed plugin: {} spikes, worst error against the closed form {:.2e} ms", ts.size(), worst));
  CHECK(worst < 1e-6);

#if defined(GILLESPIKE_HAVE_CUDA)
  // With CUDA the kit compiles the model and the rule with nvcc (examples/plugins/CMakeLists.txt):
  // they have GPU forms, so a cuda run of them validates, the ring's synapses stored or procedural
  // (a plugin compiled without them is refused).
  const std::string on_gpu = test::quote(cli) + " validate " + test::quote(run.string()) + " --set 'run.backend=\"cuda\"'";
  CHECK(sh(on_gpu, log) == 0);
  CHECK(sh(on_gpu + " --set projections.0.procedural=true", log) == 0);
#endif

  // The installed CLI lists what the plugins added.
  REQUIRE(sh(test::quote(cli) + " info --plugin " + test::quote((build / "libring.so").string()), log) == 0);
  CHECK(test::has(test::slurp(log), "ring (" + (build / "libring.so").string()));
}
