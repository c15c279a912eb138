// tools/sweep.py: a grid of seeds and parameter values gives one run per combination, each the
// same as running gillespike with those --set values by hand; after one run's summary is removed
// (a run that crashed or was interrupted) the sweep runs that one again, and only that one, with
// the same spikes as before; a different sweep in the same folder is refused.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/wait.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/support/python.hpp"

namespace fs = std::filesystem;

TEST_CASE("sweep: grid of runs, manifest, resume of what is unfinished") {
  const std::string py = gs::test::python_with("json");
  REQUIRE(!py.empty());
  gs::test::scratch_dir dir;
  const auto file = dir.write("tiny.json", R"({"run": {"duration": 200.0, "seed": 1},
     "populations": {"n": {"size": 20, "model": "parrot_neuron"}},
     "stimuli": [{"poisson": {"target": "n", "rate": 50.0}}], "recorders": [{"spikes": {}}]})");
  const fs::path out = dir.path / "sweep";
  const std::string sweep = fmt::format("{} {}/tools/sweep.py {} -o {} --seeds 3 4 --grid stimuli.0.poisson.rate=50,120 "
                                        "-j 2 --gillespike {} > {} 2>&1",
                                        py, GS_SOURCE_DIR, file.string(), out.string(), GS_CLI, (dir.path / "log").string());
  REQUIRE(std::system(sweep.c_str()) == 0);
  CHECK(gs::test::has(gs::test::slurp(dir.path / "log"), "4 runs: 4 to run, 0 already done"));
  const auto manifest = nlohmann::json::parse(gs::test::slurp(out / "manifest.json"));
  REQUIRE(manifest["runs"].size() == 4);
  std::vector<uint64_t> spikes;
  for (const auto& r : manifest["runs"]) {
    CHECK(r["status"] == "done");
    const auto sets = r["sets"].get<std::vector<std::string>>();
    // The same run by hand.
    std::vector<std::string> args{"run", file.string(), "-q", "-o", (dir.path / "by_hand").string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    REQUIRE(gs::test::cli(args, dir.path).status == 0);
    const auto mine = nlohmann::json::parse(gs::test::slurp(dir.path / "by_hand" / "summary.json"));
    const auto theirs = nlohmann::json::parse(gs::test::slurp(out / "runs" / r["name"].get<std::string>() / "summary.json"));
    CHECK(mine["seed"] == theirs["seed"]);
    CHECK(mine["spikes"] == theirs["spikes"]);
    spikes.push_back(theirs["spikes"].get<uint64_t>());
  }
  CHECK(spikes[0] < spikes[1]);  // rate 50 then 120 Hz, seed 3

  // Run 0002 "crashed": only it runs again, with the same spikes; the others are left alone.
  const fs::path again = out / "runs" / "0002" / "summary.json";
  const auto before = gs::test::slurp(out / "runs" / "0002" / "phy" / "spikes.times.npy");
  const auto untouched = fs::last_write_time(out / "runs" / "0001" / "summary.json");
  fs::remove(again);
  REQUIRE(std::system(sweep.c_str()) == 0);
  CHECK(gs::test::has(gs::test::slurp(dir.path / "log"), "4 runs: 1 to run, 3 already done"));
  CHECK(fs::exists(again));
  CHECK(fs::last_write_time(out / "runs" / "0001" / "summary.json") == untouched);
  CHECK(gs::test::slurp(out / "runs" / "0002" / "phy" / "spikes.times.npy") == before);
  CHECK(nlohmann::json::parse(gs::test::slurp(out / "manifest.json"))["runs"][1]["wall_s"] ==
        manifest["runs"][1]["wall_s"]);

  // Another grid into the same folder is refused.
  const std::string other = fmt::format("{} {}/tools/sweep.py {} -o {} --seeds 5 --gillespike {} > {} 2>&1", py,
                                        GS_SOURCE_DIR, file.string(), out.string(), GS_CLI, (dir.path / "log").string());
  const int rc = std::system(other.c_str());
  CHECK(WEXITSTATUS(rc) == 2);
  CHECK(gs::test::has(gs::test::slurp(dir.path / "log"), "belongs to a different sweep"));
}
