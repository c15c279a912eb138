// Issue 8's decoding task end to end, as docs/surrogate.md runs it: the simulator runs
// examples/decode_velocity.json (96 LIF neurons driven by Poisson inputs tuned to a 2-D velocity),
// then `gillespike learn surrogate` decodes the velocity with the default settings. On the held-out
// test split the surrogate-gradient spiking network must reach R^2 >= 0.7 and be no worse than the
// MLP and GRU baselines trained on the same bins. The target file must also be the one the
// generator writes for that run file (tools/make_decode_example.py, seed 8), rows and all.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using gs::test::cli;
using nlohmann::json;

TEST_CASE("decode_velocity example: the spiking decoder reaches R^2 >= 0.7 and matches the MLP and GRU") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("gs-test-decode-{}-{}", ::getpid(), std::random_device{}());
  fs::create_directories(dir);
  const std::string src = GS_SOURCE_DIR;

  // The committed files are what the generator writes (python3: the generator needs only the
  // standard library).
  if (std::system("python3 -c 'import json' >/dev/null 2>&1") == 0) {
    const int rc = std::system(fmt::format("python3 '{}/tools/make_decode_example.py' --out '{}'", src, dir.string()).c_str());
    REQUIRE(rc == 0);
    CHECK(gs::test::slurp(dir / "decode_velocity.json") == gs::test::slurp(src + "/examples/decode_velocity.json"));
    CHECK(gs::test::slurp(dir / "decode_velocity.target.json") ==
          gs::test::slurp(src + "/examples/decode_velocity.target.json"));
  }

  const auto sim = cli({"run", src + "/examples/decode_velocity.json", "-o", (dir / "run").string(), "-q"}, dir);
  INFO(sim.err);
  REQUIRE(sim.status == 0);
  const auto learn = cli({"learn", "surrogate", (dir / "run").string(), "--target",
                          src + "/examples/decode_velocity.target.json", "-o", (dir / "decode.json").string()},
                         dir);
  INFO(learn.err);
  REQUIRE(learn.status == 0);
  MESSAGE(learn.out);
  const json r = json::parse(gs::test::slurp(dir / "decode.json"));
  const double snn = r["models"]["snn"]["test_r2_mean"], mlp = r["models"]["mlp"]["test_r2_mean"],
               gru = r["models"]["gru"]["test_r2_mean"];
  CHECK(snn >= 0.7);
  CHECK(snn >= mlp);
  CHECK(snn >= gru);
  fs::remove_all(dir);
}
