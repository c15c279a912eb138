// Plugins: loaded by path or from the search path, what they add runs like a built-in, and a
// broken plugin is refused with a message that names the file and what is wrong (exit 2).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "engine/network.hpp"
#include "plugins/loader.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

const std::filesystem::path plugin_dir = GS_TEST_PLUGIN_DIR;

std::string lib(const std::string& name) { return (plugin_dir / ("lib" + name + ".so")).string(); }

// Time for the quadratic integrate-and-fire neuron C dV/dt = k (V - V_r)(V - V_t) + I to go from
// v0 to v1 under constant I: with x = V - (V_r + V_t)/2 it is dx/dt = a (x^2 + b^2), whose
// solution is an arctangent.
double qif_time(double v0, double v1, double I) {
  const double C = 100, k = 0.7, V_r = -60, V_t = -40;
  const double a = k / C, mid = (V_r + V_t) / 2, half = (V_t - V_r) / 2;
  const double b = std::sqrt((I / C - a * half * half) / a);
  return (std::atan((v1 - mid) / b) - std::atan((v0 - mid) / b)) / (a * b);
}

std::string run_file(const std::string& plugins, const std::string& body) {
  return fmt::format(R"({{"plugins": {}, "run": {{"duration": 500, "seed": 3}}, {}, "recorders": [{{"spikes": {{}}}}]}})",
                     plugins, body);
}

}  // namespace

TEST_CASE("a plugin model and rule, loaded by path, run against their closed forms") {
  const auto r = test::simulate_json(run_file(
      fmt::format(R"(["{}", "{}"])", lib("quadratic_if"), lib("ring")),
      R"("populations": {"q": {"model": "quadratic_if", "size": 10, "params": {"I_e": 100}}},
         "projections": [{"source": "q", "target": "q", "rule": {"ring": {"k": 2, "both_sides": true}},
                          "weight": 0.0, "receptor": "excitatory"}])"));
  // The ring: 2k targets per neuron, the k following and the k preceding.
  const projection& pr = r.net.projections.at(0);
  REQUIRE(pr.synapses() == 40);
  for (uint32_t s = 0; s < 10; ++s) {
    std::vector<uint32_t> t(pr.targets.begin() + pr.row[s], pr.targets.begin() + pr.row[s + 1]);
    std::sort(t.begin(), t.end());
    std::vector<uint32_t> want{(s + 1) % 10, (s + 2) % 10, (s + 8) % 10, (s + 9) % 10};
    std::sort(want.begin(), want.end());
    CHECK(t == want);
  }
  // The step-only model: first spike from rest, then regular intervals from the reset.
  const double first = qif_time(-60, 35, 100), isi = qif_time(-50, 35, 100);
  const auto t = test::spikes_of(r.res, 0);
  REQUIRE(t.size() == static_cast<size_t>(1 + std::floor((500 - first) / isi)));
  double worst = 0;
  for (size_t k = 0; k < t.size(); ++k) worst = std::max(worst, std::abs(t[k] - (first + k * isi)));
  MESSAGE(fmt::format("quadratic_if: {} spikes, worst error against the closed form {:.2e} ms", t.size(), worst));
  CHECK(worst < 1e-6);
}

TEST_CASE("a plugin rule's procedural generator draws the synapses it stores") {
  // k = 150 of 1000 neurons: neighbourhoods span chunks of 256 and wrap at both ends of the ids.
  auto build = [](bool procedural, bool both_sides) {
    test::scratch_dir dir;
    const auto file = dir.write("run.json", fmt::format(R"({{"plugins": ["{}"], "run": {{"duration": 1, "backend": "clock"}},
        "populations": {{"a": {{"model": "lif_psc_exp", "size": 1000}}}},
        "projections": [{{"source": "a", "target": "a", "rule": {{"ring": {{"k": 150, "both_sides": {}}}}},
                         "weight": 1.0, "delay": 1.0, "procedural": {}}}]}})", lib("ring"), both_sides, procedural));
    const run_config cfg = load_config(file, {}, default_registry());
    return build_network(cfg, default_registry());
  };
  for (const bool both_sides : {true, false}) {
    CAPTURE(both_sides);
    const network stored = build(false, both_sides), drawn = build(true, both_sides);
    const projection &ps = stored.projections.at(0), &pd = drawn.projections.at(0);
    REQUIRE(pd.procedural());
    CHECK(pd.synapses() == ps.synapses());
    std::vector<uint32_t> t(procedural_chunk);
    std::vector<float> w(procedural_chunk), d(procedural_chunk);
    for (uint32_t s = 0; s < 1000; ++s) {
      std::vector<uint32_t> want(ps.targets.begin() + ps.row[s], ps.targets.begin() + ps.row[s + 1]), got;
      std::sort(want.begin(), want.end());
      for (uint32_t c = 0; c * procedural_chunk < 1000; ++c) {
        const uint32_t n = regenerate(pd, s, c, t.data(), w.data(), d.data());
        got.insert(got.end(), t.begin(), t.begin() + n);
      }
      CHECK(got == want);  // increasing within each chunk, so across them too
    }
  }
}

TEST_CASE("a plugin named without a path is found on GILLESPIKE_PLUGIN_PATH") {
  setenv("GILLESPIKE_PLUGIN_PATH", ("/nonexistent:" + plugin_dir.string()).c_str(), 1);
  const auto r = test::simulate_json(run_file(R"(["quadratic_if"])",
                                              R"("populations": {"q": {"model": "quadratic_if", "size": 1}})"));
  CHECK(!test::spikes_of(r.res, 0).empty());
  CHECK(find_plugin("ring", ".") == plugin_dir / "libring.so");
  const auto& plugins = default_registry().plugins();
  const auto it = std::find_if(plugins.begin(), plugins.end(), [](const plugin_record& p) { return p.name == "quadratic_if"; });
  REQUIRE(it != plugins.end());
  CHECK(it->models == std::vector<std::string>{"quadratic_if"});
  unsetenv("GILLESPIKE_PLUGIN_PATH");
}

TEST_CASE("broken plugins are refused with the file and the reason, exit status 2, nothing written") {
  test::scratch_dir dir;
  const auto fake = dir.write("libfake.so", "not a shared library");
  struct bad {
    std::string entry;
    std::vector<std::string> words;
  };
  const std::vector<bad> cases{
      {lib("bad_abi"), {"libbad_abi.so", "plugin ABI version 999", "has version 6", "rebuild"}},
      {lib("no_entry"), {"libno_entry.so", "not a gillespike plugin", "\"gillespike_plugin\""}},
      {lib("undefined_symbol"), {"libundefined_symbol.so", "gs_test_symbol_that_nobody_defines"}},
      {lib("duplicate_model"), {"libduplicate_model.so", "\"lif_psc_delta\" is registered twice", "built-in"}},
      {lib("throws_int"), {"libthrows_int.so", "failed to register", "not a std::exception"}},
      {fake.string(), {"cannot load plugin", "libfake.so"}},
      {"no_such_plugin", {"no plugin \"no_such_plugin\"", "libno_such_plugin.so"}},
      {"missing/libx.so", {"does not exist", "missing/libx.so"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.entry);
    const auto file = dir.write("run.json", fmt::format(R"({{"plugins": ["{}"], "run": {{"duration": 10}},
      "populations": {{"a": {{"model": "lif_psc_delta", "size": 1}}}}, "outputs": {{"dir": "{}"}}}})",
                                                        c.entry, (dir.path / "out").string()));
    const auto res = test::cli({"run", file.string()}, dir.path);
    CHECK(res.status == 2);
    CHECK(test::has(res.err, "plugins.0"));
    for (const auto& w : c.words) CHECK_MESSAGE(test::has(res.err, w), res.err);
    CHECK(!std::filesystem::exists(dir.path / "out"));
  }
  // All or nothing: the plugin's first, valid model did not stay registered.
  registry reg;
  register_builtin_models(reg);
  CHECK_THROWS_AS(load_plugin(reg, lib("duplicate_model")), plugin_error);
  CHECK(reg.find_model("test_duplicate_first") == nullptr);
  CHECK(reg.plugins().empty());
}

TEST_CASE("info lists what each plugin added, with parameters, units and defaults") {
  test::scratch_dir dir;
  const auto res = test::cli({"info", "--plugin", lib("quadratic_if"), "--plugin", lib("ring")}, dir.path);
  REQUIRE(res.status == 0);
  CHECK(test::has(res.out, "quadratic_if [" + lib("quadratic_if")));
  CHECK(test::has(res.out, "V_peak"));
  CHECK(test::has(res.out, "nS/mV"));
  CHECK(test::has(res.out, "ring [" + lib("ring")));
  CHECK(test::has(res.out, "both_sides"));
  CHECK(test::has(res.out, "quadratic_if (" + lib("quadratic_if") + ", built with gillespike " GILLESPIKE_VERSION
                           "): model quadratic_if"));
  CHECK(test::has(res.out, "ring (" + lib("ring")));
  const auto bad = test::cli({"info", "--plugin", lib("bad_abi")}, dir.path);
  CHECK(bad.status == 2);
  CHECK(test::has(bad.err, "plugin ABI version 999"));
}

TEST_CASE("a plugin stimulus generator drives neurons like a built-in one") {
  const auto r = test::simulate_json(run_file(
      fmt::format(R"(["{}"])", lib("regular_stimulus")),
      R"("populations": {"p": {"model": "parrot_neuron", "size": 3}},
         "stimuli": [{"regular": {"target": "p", "ids": [0, 2], "interval": 25.0, "start": 10.0, "stop": 400.0}}])"));
  for (uint32_t g : {0u, 2u}) {
    const auto t = test::spikes_of(r.res, g);
    REQUIRE(t.size() == 16);  // 10, 35, ..., 385
    for (size_t k = 0; k < t.size(); ++k) CHECK(t[k] == doctest::Approx(10.0 + 25.0 * k));
  }
  CHECK(test::spikes_of(r.res, 1).empty());
  CHECK(r.res.synaptic_events == 32);

  // Its parameter table and check() work as a built-in's do.
  test::scratch_dir dir;
  const auto file = dir.write("run.json", fmt::format(R"({{"plugins": ["{}"], "run": {{"duration": 10}},
    "populations": {{"p": {{"model": "parrot_neuron", "size": 1}}}},
    "stimuli": [{{"regular": {{"target": "p", "interval": -1}}}}]}})", lib("regular_stimulus")));
  const auto res = test::cli({"validate", file.string()}, dir.path);
  CHECK(res.status == 2);
  CHECK_MESSAGE(test::has(res.err, "stimuli.0.regular.interval: must be > 0"), res.err);
  const auto typo = dir.write("typo.json", fmt::format(R"({{"plugins": ["{}"], "run": {{"duration": 10}},
    "populations": {{"p": {{"model": "parrot_neuron", "size": 1}}}},
    "stimuli": [{{"regular": {{"target": "p", "intreval": 5}}}}]}})", lib("regular_stimulus")));
  const auto res2 = test::cli({"validate", typo.string()}, dir.path);
  CHECK(res2.status == 2);
  CHECK_MESSAGE(test::has(res2.err, "did you mean \"interval\""), res2.err);
  const auto info = test::cli({"info", "--plugin", lib("regular_stimulus")}, dir.path);
  CHECK(test::has(info.out, "regular [" + lib("regular_stimulus")));
  CHECK(test::has(info.out, "stimulus regular"));
}
