// Held-out check on a recording whose true intensity is known (issue 7, point 5a): the simulator
// runs examples/hawkes.json (hawkes_linear neurons, all-to-all), `predict eval --true-run` scores
// the generating network beside the fitted predictors. The truth's time-rescaled intervals must be
// uniform (so its intensity is computed right: the time-rescaling theorem, independent of any
// fit), the fitted Hawkes baseline must come within 0.02 nats per event of it and the transformer
// within 0.05, and the Poisson baseline must be measurably worse (the check has power).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <random>

#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using gs::test::cli;
using gs::test::has;

TEST_CASE("predict eval --true-run: the generating Hawkes network against the fitted predictors") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("gs-test-true-hawkes-{}-{}", ::getpid(), std::random_device{}());
  fs::create_directories(dir);
  const std::string run_file = std::string(GS_SOURCE_DIR) + "/examples/hawkes.json";
  const auto data = (dir / "data").string(), models = (dir / "models").string();
  auto r = cli({"run", run_file, "-o", data, "-q"}, dir);
  REQUIRE(r.status == 0);
  r = cli({"predict", "train", data, "-o", models, "-q", "--set", "model.width=16", "--set", "model.blocks=1", "--set",
           "model.heads=2", "--set", "model.context=32", "--set", "model.components=4", "--set", "train.epochs=2",
           "--set", "train.lr=5e-3"},
          dir);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto model = (fs::path(models) / "GiT2.model").string(), out = (dir / "eval.json").string();
  r = cli({"predict", "eval", model, data, "--true-run", run_file, "-o", out}, dir);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "true model"));
  const auto j = nlohmann::json::parse(gs::test::slurp(out))["predictors"];
  const double truth = j["true_model"]["nll_per_event"], hawkes = j["hawkes"]["nll_per_event"],
               transformer = j["transformer"]["nll_per_event"], poisson = j["poisson"]["nll_per_event"];
  CHECK(j["true_model"]["events"] == j["transformer"]["events"]);
  CHECK(j["true_model"]["ks_time_rescaling"].get<double>() < 0.03);
  CHECK(std::abs(hawkes - truth) < 0.02);
  CHECK(transformer - truth < 0.05);
  CHECK(poisson - truth > 0.015);

  // A network the truth cannot be computed for is refused, naming the reason.
  r = cli({"predict", "eval", model, data, "--true-run", std::string(GS_SOURCE_DIR) + "/examples/cuba.json"}, dir);
  CHECK(r.status == 2);
  CHECK(has(r.err, "population \"exc\" has model lif_psc_exp"));
  // So is a recording whose summary.json names another seed than the run file rebuilds (a --set
  // given to `run`), and nothing is written.
  const auto other = (dir / "other").string(), other_out = (dir / "other.json").string();
  REQUIRE(cli({"run", run_file, "-o", other, "-q", "--set", "run.seed=12"}, dir).status == 0);
  r = cli({"predict", "eval", model, other, "--true-run", run_file, "-o", other_out}, dir);
  CHECK(r.status == 2);
  CHECK(has(r.err, "rebuilds seed 11 with 300 synapses"));
  CHECK(!fs::exists(other_out));
  fs::remove_all(dir);
}
