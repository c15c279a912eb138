// Reproducibility across processes: the same run file and seed run twice by separate `gillespike`
// processes give identical spike data (every .npy byte for byte, HDF5 datasets value for value,
// sampled traces too); another seed gives other spikes. Only timings and dates may differ.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/hdf5_read.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

using gs::test::cli;
using gs::test::quote;
using gs::test::slurp;

// One `gillespike run` in its own process; returns the exit status (stderr kept for messages).
int run_cli(const fs::path& file, const fs::path& out, const std::vector<std::string>& sets) {
  std::string cmd = quote(GS_CLI) + " run " + quote(file.string()) + " -o " + quote(out.string()) + " --quiet";
  for (const auto& s : sets) cmd += " --set " + quote(s);
  cmd += " < /dev/null > /dev/null 2> " + quote(out.string() + ".stderr");
  const int raw = std::system(cmd.c_str());
  const int status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  if (status != 0) MESSAGE("gillespike run failed: " << slurp(out.string() + ".stderr"));
  return status;
}

const fs::path cuba = fs::path(GS_SOURCE_DIR) / "examples/cuba.json";
const std::vector<std::string> populations{"exc", "inh"};

std::vector<fs::path> npy_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".npy") out.push_back(fs::relative(e.path(), dir));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("same file and seed in two processes: identical spikes; another seed: different spikes") {
  gs::test::scratch_dir dir;
  const fs::path a = dir.path / "a", b = dir.path / "b", c = dir.path / "c";
  REQUIRE(run_cli(cuba, a, {"run.duration=500"}) == 0);
  REQUIRE(run_cli(cuba, b, {"run.duration=500"}) == 0);
  REQUIRE(run_cli(cuba, c, {"run.duration=500", "run.seed=1235"}) == 0);

  const auto files = npy_files(a);
  CHECK(files.size() == 3);  // phy/spike_times, spike_clusters, spikes.times
  CHECK(npy_files(b) == files);
  for (const auto& f : files) {
    CAPTURE(f);
    const std::string bytes = slurp(a / f);
    CHECK(bytes.size() > 128);  // header and some spikes
    CHECK(bytes == slurp(b / f));
  }

  uint64_t spikes = 0;
  for (const auto& pop : populations) {
    CAPTURE(pop);
    const std::string g = "/spikes/" + pop;
    const auto ts_a = gs::io::read_h5_doubles(a / "spikes.h5", g + "/timestamps");
    const auto ids_a = gs::io::read_h5_uint64(a / "spikes.h5", g + "/node_ids");
    CHECK(ts_a == gs::io::read_h5_doubles(b / "spikes.h5", g + "/timestamps"));
    CHECK(ids_a == gs::io::read_h5_uint64(b / "spikes.h5", g + "/node_ids"));
    CHECK(ts_a != gs::io::read_h5_doubles(c / "spikes.h5", g + "/timestamps"));
    spikes += ts_a.size();
  }
  CHECK(spikes > 1000);

  // The counters in the summary are part of the result too; only timings may differ.
  const ojson sa = ojson::parse(slurp(a / "summary.json")), sb = ojson::parse(slurp(b / "summary.json"));
  for (const char* k : {"spikes", "events", "synaptic_events", "synapses", "populations"}) {
    CAPTURE(k);
    CHECK(sa[k] == sb[k]);
  }
  CHECK(sa["spikes"].get<uint64_t>() == spikes);
}

TEST_CASE("state traces: identical in two processes, one row per sample and one column per id") {
  gs::test::scratch_dir dir;
  ojson doc = ojson::parse(slurp(cuba));
  doc["recorders"].push_back(ojson::parse(
      R"({"state": {"population": "exc", "ids": [0, 5], "variables": ["V_m", "I_ex"], "interval": 0.5}})"));
  const fs::path file = dir.write("traced.json", doc.dump(2));
  const fs::path a = dir.path / "a", b = dir.path / "b";
  REQUIRE(run_cli(file, a, {"run.duration=500"}) == 0);
  REQUIRE(run_cli(file, b, {"run.duration=500"}) == 0);

  const fs::path ta = a / "traces.h5", tb = b / "traces.h5";
  REQUIRE(fs::is_regular_file(ta));
  const size_t samples = 1000;  // t = 0, 0.5, ..., 499.5 ms
  CHECK(gs::io::read_h5_shape(ta, "/exc/time") == std::vector<size_t>{samples});
  CHECK(gs::io::read_h5_shape(ta, "/exc/node_ids") == std::vector<size_t>{2});
  CHECK(gs::io::read_h5_uint64(ta, "/exc/node_ids") == std::vector<uint64_t>{0, 5});
  CHECK(gs::io::read_h5_string_attr(ta, "/exc", "population") == "exc");
  CHECK(gs::io::read_h5_string_attr(ta, "/exc/time", "units") == "ms");
  const auto time = gs::io::read_h5_doubles(ta, "/exc/time");
  REQUIRE(time.size() == samples);
  for (size_t k = 0; k < samples; k += 97) CHECK(time[k] == 0.5 * double(k));
  CHECK(time.back() == 499.5);
  CHECK(time == gs::io::read_h5_doubles(tb, "/exc/time"));

  for (const auto& [var, unit] : {std::pair{"V_m", "mV"}, std::pair{"I_ex", "pA"}}) {
    CAPTURE(var);
    const std::string ds = std::string("/exc/") + var;
    CHECK(gs::io::read_h5_shape(ta, ds) == std::vector<size_t>{samples, 2});
    CHECK(gs::io::read_h5_string_attr(ta, ds, "units") == unit);
    const auto va = gs::io::read_h5_doubles(ta, ds);
    CHECK(va == gs::io::read_h5_doubles(tb, ds));
    REQUIRE(va.size() == 2 * samples);
    bool columns_differ = false;  // two neurons with their own drawn V_m and inputs
    for (size_t k = 0; k < samples; ++k) columns_differ |= va[2 * k] != va[2 * k + 1];
    CHECK(columns_differ);
  }
  // Exact spike times: the sampled membrane never stands above threshold (V_th = -50 mV).
  const auto v = gs::io::read_h5_doubles(ta, "/exc/V_m");
  CHECK(*std::max_element(v.begin(), v.end()) <= -50.0 + 1e-9);
  // The traced run fires exactly like the untraced one: sampling does not perturb the network.
  gs::test::scratch_dir plain;
  REQUIRE(run_cli(cuba, plain.path / "p", {"run.duration=500"}) == 0);
  CHECK(slurp(a / "phy/spike_times.npy") == slurp(plain.path / "p/phy/spike_times.npy"));
}
