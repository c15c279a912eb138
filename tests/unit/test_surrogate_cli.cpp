// `gillespike learn surrogate` end to end on a small phy folder whose neurons fire at rates set by
// a known target: the results file with the three models and their learning curves, identical
// curves for the same seed (different ones for another seed), the binning of spikes and of the
// piecewise-constant target against values worked out by hand, and exit status 2, with a message
// naming the file, the JSON path and what was expected, and no results file, for bad input
// (targets of the wrong shape, non-finite values, windows outside the target or the run, settings).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <numbers>
#include <random>

#include "io/npy.hpp"
#include "learning/decode/data.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using gs::test::cli;
using gs::test::has;
using nlohmann::json;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("gs-test-surrogate-cli-{}-{}", ::getpid(), std::random_device{}());
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

constexpr double duration_ms = 8000, segment_ms = 20;

double signal(double t_ms) { return std::sin(2 * std::numbers::pi * t_ms / 700.0); }

// 12 neurons, half firing more and half less as the signal rises (Poisson, by thinning at 80 Hz).
void write_phy(const fs::path& dir) {
  fs::create_directories(dir);
  std::mt19937_64 rng(9);
  std::exponential_distribution<double> gap(12 * 80.0 / 1000);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int> neuron(0, 11);
  std::vector<double> seconds;
  std::vector<std::int32_t> ids;
  for (double t = gap(rng); t < duration_ms; t += gap(rng)) {
    const int n = neuron(rng);
    const double s = signal(std::floor(t / segment_ms) * segment_ms);
    if (u(rng) < 0.5 + 0.45 * (n % 2 ? s : -s)) {
      seconds.push_back(t * 1e-3);
      ids.push_back(n);
    }
  }
  gs::io::write_npy(dir / "spikes.times.npy", std::span<const double>(seconds));
  gs::io::write_npy(dir / "spike_clusters.npy", std::span<const std::int32_t>(ids));
}

json target_json() {
  json times = json::array(), values = json::array();
  for (double t = 0; t < duration_ms; t += segment_ms) {
    times.push_back(t);
    values.push_back({signal(t), 0.5 * signal(t) + 1});
  }
  return {{"names", {"s", "s_shifted"}}, {"times_ms", times}, {"end_ms", duration_ms}, {"values", values}};
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

const std::vector<std::string> small = {"--set", "snn.hidden=[16]", "--set", "mlp.hidden=8", "--set", "mlp.history=3",
                                        "--set", "gru.hidden=8",    "--set", "train.epochs=3", "--set",
                                        "train.window=20",          "--set", "train.batch=4"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("learn surrogate: results, learning curves, and a fixed seed gives identical curves") {
  scratch_dir d;
  write_phy(d.path / "phy");
  write(d.path / "target.json", target_json().dump());
  const std::vector<std::string> base = {"learn", "surrogate", (d.path / "phy").string(), "--target",
                                         (d.path / "target.json").string()};
  auto run = [&](const std::string& name, const std::vector<std::string>& extra) {
    const auto r = cli(with(with(with(base, small), extra), {"-o", (d.path / name).string()}), d.path);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return json::parse(gs::test::slurp(d.path / name));
  };
  const json a = run("a.json", {"--set", "train.seed=5"});
  const json b = run("b.json", {"--set", "train.seed=5"});
  const json c = run("c.json", {"--set", "train.seed=6", "--set", "snn.surrogate=arctan", "--set",
                                "snn.readout=spikes", "--set", "snn.learn_tau=true"});
  CHECK(a["bins"]["train"] == 560);
  CHECK(a["bins"]["validation"] == 120);
  CHECK(a["bins"]["test"] == 120);
  CHECK(a["neurons"] == 12);
  for (const char* model : {"snn", "mlp", "gru"}) {
    CAPTURE(model);
    const json& ha = a["models"][model]["history"];
    REQUIRE(ha.size() == 3);
    CHECK(ha == b["models"][model]["history"]);  // bit-identical numbers, epoch by epoch
    CHECK(ha != c["models"][model]["history"]);
    CHECK(a["models"][model]["test_r2"].size() == 2);
    for (const auto& e : ha) CHECK(std::isfinite(e["train_mse"].get<double>()));
  }
}

TEST_CASE("learn surrogate: spikes and the target are binned as worked out by hand") {
  gs::predictor::spike_train spikes;
  spikes.populations = {{"p", 0, 3}};
  spikes.t_ms = {0.0, 4.9, 5.0, 12.0, 14.99, 19.0};
  spikes.ids = {0, 2, 1, 1, 1, 0};
  gs::decode::target_series target;
  target.names = {"a"};
  target.times_ms = {0, 3, 11};  // segments [0, 3) = 1, [3, 11) = 2, [11, 20) = 5
  target.values = {{1}, {2}, {5}};
  target.end_ms = 20;
  const auto d = gs::decode::bin_data(spikes, target, 5, 0, 17);  // three whole bins, the rest dropped
  REQUIRE(d.counts.rows() == 3);
  CHECK(d.counts.row(0) == Eigen::RowVector3d(1, 0, 1));
  CHECK(d.counts.row(1) == Eigen::RowVector3d(0, 1, 0));
  CHECK(d.counts.row(2) == Eigen::RowVector3d(0, 2, 0));
  CHECK(d.spikes == 5);
  CHECK(d.target(0, 0) == doctest::Approx((3 * 1 + 2 * 2) / 5.0));
  CHECK(d.target(1, 0) == doctest::Approx(2.0));
  CHECK(d.target(2, 0) == doctest::Approx((1 * 2 + 4 * 5) / 5.0));
  // R^2: 1 - SSE / SST against the split's own mean.
  gs::decode::matrix y(4, 1), p(4, 1);
  y << 1, 2, 3, 4;
  p << 1, 2, 4, 4;
  CHECK(gs::decode::r_squared(y, p, 0, 4)[0] == doctest::Approx(1 - 1.0 / 5.0));
}

TEST_CASE("learn surrogate: bad input is refused with exit status 2 and nothing written") {
  scratch_dir d;
  write_phy(d.path / "phy");
  const fs::path out = d.path / "out.json";
  auto refused = [&](const json& target, const std::vector<std::string>& extra, const std::vector<std::string>& parts) {
    write(d.path / "t.json", target.dump());
    const auto r = cli(with(with({"learn", "surrogate", (d.path / "phy").string(), "--target",
                                  (d.path / "t.json").string(), "-o", out.string()},
                                 small),
                            extra),
                       d.path);
    INFO(r.err);
    CHECK(r.status == 2);
    for (const auto& p : parts) CHECK(has(r.err, p));
    CHECK(!fs::exists(out));
  };
  const json good = target_json();
  json t = good;
  t["values"][3] = {0.5};
  refused(t, {}, {"t.json", "values[3]", "expected 2 numbers"});
  t = good;
  t["values"].erase(t["values"].size() - 1);
  refused(t, {}, {"values", "400 rows"});
  {  // NaN is not JSON, but Python's json module writes it: the message must say so
    std::string text = good.dump();
    text.replace(text.find("]]") - 3, 3, "NaN");
    write(d.path / "t.json", text);
    const auto r = cli(with({"learn", "surrogate", (d.path / "phy").string(), "--target", (d.path / "t.json").string(),
                             "-o", out.string()},
                            small),
                       d.path);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(has(r.err, "t.json: the target file is not valid JSON"));
    CHECK(has(r.err, "NaN and Infinity"));
    CHECK(!fs::exists(out));
  }
  t = good;
  t["times_ms"][5] = 60.0;
  refused(t, {}, {"times_ms[5]", "increase"});
  t = good;
  t["times_ms"] = json(std::vector<double>(good["times_ms"].begin(), good["times_ms"].begin() + 200));
  t["values"] = json(std::vector<json>(good["values"].begin(), good["values"].begin() + 200));
  t["end_ms"] = 4000.0;
  refused(t, {}, {"phy", "past the end of the target", "t.json (4000 ms)", "does not cover the recording"});
  refused(good, {"--set", "data.stop_ms=9000"}, {"data.start_ms, data.stop_ms", "within the target's span [0, 8000]"});
  refused(good, {"--set", "snn.hiden=[8]"}, {"snn.hiden", "did you mean 'hidden'"});
  refused(good, {"--set", "snn.surrogate=arctn"}, {"snn.surrogate", "did you mean 'arctan'"});
  refused(good, {"--set", "trian.epochs=2"}, {"unknown section 'trian'", "did you mean 'train'"});
  refused(good, {"--set", "train.window=-3"}, {"train.window", "expected an integer"});
  refused(good, {"--set", "data.train_fraction=0.9", "--set", "data.val_fraction=0.2"}, {"below 1"});
  t = good;
  t["velocity"] = 1;
  refused(t, {}, {"unknown key 'velocity'"});
  // A run's summary.json beside phy/ gives its duration: a window past it is refused.
  write(d.path / "summary.json", R"({"duration_ms": 6000.0})");
  refused(good, {}, {"phy", "ends at 8000 ms", "the run lasted 6000 ms", "within the run"});
}
