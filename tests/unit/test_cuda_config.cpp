// The cuda backend's checks that need no GPU, run on every machine: which models have a GPU form
// (built-in, plugin compiled with nvcc, plugin compiled without), what validation refuses, how a
// failed CUDA call reads, and what a run says when there is no device.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "plugins/registry.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

#if defined(GILLESPIKE_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "engine/backends/cuda/check.hpp"
#endif

using namespace gs;

namespace {

// A DC-driven network of `model` neurons from `plugin` (or built in when empty), on `backend`.
std::string run_file(const std::string& plugin, const std::string& model, const std::string& extra = "") {
  return fmt::format(R"({{{} "run": {{"duration": 50, "backend": "cuda"}},
    "populations": {{"a": {{"model": "{}", "size": 10}}}},
    "projections": [{{"source": "a", "target": "a", "rule": {{"pairwise_bernoulli": {{"p": 0.5}}}}, "weight": 0.1,
                      "delay": 1.0{}}}],
    "stimuli": [{{"dc": {{"target": "a", "amplitude": 100}}}}]}})",
                     plugin.empty() ? std::string() : fmt::format(R"("plugins": ["{}"],)", plugin), model, extra);
}

}  // namespace

#if defined(GILLESPIKE_HAVE_CUDA)

TEST_CASE("every built-in model, and every built-in rule that regenerates, has a GPU form") {
  const registry& reg = default_registry();
  for (const auto& name : reg.model_names()) {
    CAPTURE(name);
    CHECK(static_cast<bool>(reg.find_model(name)->make_cuda));
  }
  for (const auto& name : reg.rule_names()) {
    CAPTURE(name);
    const rule_info& r = *reg.find_rule(name);
    CHECK(static_cast<bool>(r.make_cuda) == static_cast<bool>(r.procedural));
  }
}

TEST_CASE("backend cuda: a plugin model runs on the GPU only when its plugin was compiled with nvcc") {
  test::scratch_dir dir;
  const std::string plugins = test::build_path("GS_TEST_PLUGIN_DIR", GS_TEST_PLUGIN_DIR);
  SUBCASE("compiled with g++: refused, naming the model, the plugin and the way out") {
    const auto file = dir.write("run.json", run_file(plugins + "/libquadratic_if.so", "quadratic_if"));
    const auto r = test::cli({"validate", file.string()}, dir.path);
    CHECK(r.status == 2);
    CHECK(test::has(r.err, "populations.a.model"));
    CHECK(test::has(r.err, "cannot run on the GPU"));
    CHECK(test::has(r.err, "libquadratic_if.so"));
    CHECK(test::has(r.err, "\"backend\": \"clock\""));
  }
  SUBCASE("compiled with nvcc: valid") {
    const auto file = dir.write("run.json", run_file(plugins + "/libquadratic_if_gpu.so", "quadratic_if"));
    const auto r = test::cli({"validate", file.string()}, dir.path);
    CHECK(r.status == 0);
    CHECK(r.err.empty());
  }
  SUBCASE("built-in models: valid") {
    for (const char* model : {"lif_psc_exp", "lif_cond_exp", "aeif_psc_exp", "glif3_psc_exp", "pp_lif_delta"}) {
      CAPTURE(model);
      const auto file = dir.write("run.json", run_file("", model));
      CHECK(test::cli({"validate", file.string()}, dir.path).status == 0);
    }
  }
}

TEST_CASE("backend cuda: a procedural rule runs on the GPU only when its GPU form was compiled with nvcc") {
  test::scratch_dir dir;
  const std::string plugins = test::build_path("GS_TEST_PLUGIN_DIR", GS_TEST_PLUGIN_DIR);
  auto ring = [&](const std::string& lib) {
    return fmt::format(R"({{"plugins": ["{}/{}"], "run": {{"duration": 50, "backend": "cuda"}},
      "populations": {{"a": {{"model": "lif_psc_exp", "size": 10}}}},
      "projections": [{{"source": "a", "target": "a", "rule": {{"ring": {{"k": 2}}}}, "weight": 0.1, "delay": 1.0,
                        "procedural": true}}]}})", plugins, lib);
  };
  SUBCASE("built-in rules: valid") {
    const auto file = dir.write("run.json", run_file("", "lif_psc_exp", R"(, "procedural": true)"));
    for (const char* rule : {R"({"pairwise_bernoulli": {"p": 0.5}})",
                             R"({"fixed_total_number": {"N": 20, "allow_multapses": true}})"}) {
      CAPTURE(rule);
      const auto r = test::cli({"validate", file.string(), "--set", fmt::format("projections.0.rule={}", rule)}, dir.path);
      CHECK(r.status == 0);
      CHECK(r.err.empty());
    }
  }
  SUBCASE("a plugin rule compiled with g++: refused, naming the rule, the plugin and the ways out") {
    const auto file = dir.write("run.json", ring("libring.so"));
    const auto r = test::cli({"validate", file.string()}, dir.path);
    CHECK(r.status == 2);
    CHECK(test::has(r.err, "projections.0.procedural"));
    CHECK(test::has(r.err, "rule \"ring\""));
    CHECK(test::has(r.err, "libring.so"));
    CHECK(test::has(r.err, "no GPU form"));
    CHECK(test::has(r.err, "\"backend\": \"clock\""));
  }
  SUBCASE("the same rule compiled with nvcc: valid") {
    const auto file = dir.write("run.json", ring("libring_gpu.so"));
    const auto r = test::cli({"validate", file.string()}, dir.path);
    CHECK(r.status == 0);
    CHECK(r.err.empty());
  }
}

TEST_CASE("backend cuda: what it does not run is refused at validation") {
  test::scratch_dir dir;
  SUBCASE("delays that round to no step") {
    const auto file = dir.write("run.json", run_file("", "lif_psc_exp"));
    const auto r = test::cli(
        {"validate", file.string(), "--set", "run.min_delay=0.01", "--set", "projections.0.delay=0.04"}, dir.path);
    CHECK(r.status == 2);
    CHECK(test::has(r.err, "(cuda backend)"));
  }
  SUBCASE("the direct method") {
    const auto file = dir.write("run.json", run_file("", "pp_lif_delta"));
    const auto r = test::cli({"validate", file.string(), "--set", "run.method=\"direct\""}, dir.path);
    CHECK(r.status == 2);
    CHECK(test::has(r.err, "the cuda backend draws"));
  }
}

TEST_CASE("a failed CUDA call names the call, the place and CUDA's reason") {
  // An invalid device ordinal fails with or without a GPU.
  try {
    GS_CUDA(cudaSetDevice(-1));
    FAIL("cudaSetDevice(-1) succeeded");
  } catch (const cuda_error& e) {
    const std::string what = e.what();
    CHECK(test::has(what, "cudaSetDevice(-1)"));
    CHECK(test::has(what, "test_cuda_config.cpp"));
    CHECK(test::has(what, "cudaError"));
  }
}

TEST_CASE("without a GPU a cuda run fails with exit status 1 and says so, writing nothing") {
  int n = 0;
  if (cudaGetDeviceCount(&n) == cudaSuccess && n > 0) return;  // tests/gpu covers machines with one
  test::scratch_dir dir;
  const auto file = dir.write("run.json", run_file("", "lif_psc_exp"));
  const auto out = dir.path / "out";
  const auto r = test::cli({"run", file.string(), "-o", out.string()}, dir.path);
  CHECK(r.status == 1);
  CHECK(test::has(r.err, "no usable GPU"));
  CHECK_FALSE(std::filesystem::exists(out / "spikes.h5"));
}

#else

TEST_CASE("a build without CUDA refuses backend cuda at validation") {
  test::scratch_dir dir;
  const auto file = dir.write("run.json", run_file("", "lif_psc_exp"));
  const auto r = test::cli({"validate", file.string()}, dir.path);
  CHECK(r.status == 2);
  CHECK(test::has(r.err, "run.backend"));
  CHECK(test::has(r.err, "built without CUDA"));
}

#endif
