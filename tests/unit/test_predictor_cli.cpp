// `gillespike predict train|eval` end to end on a small phy folder: checkpoints per epoch, resume,
// JSON results with the transformer and the Poisson baseline, and exit status 2 with a message
// naming the problem for bad data, settings and checkpoints.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>

#include "io/npy.hpp"
#include "learning/predictor/spike_data.hpp"
#ifdef GILLESPIKE_HAVE_CUDA
#include "learning/predictor/cuda_model.hpp"
#endif
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using gs::test::cli;
using gs::test::has;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("gs-test-pred-cli-{}-{}", ::getpid(), std::random_device{}());
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

void write_phy(const fs::path& dir, std::size_t n, int neurons) {
  fs::create_directories(dir);
  std::mt19937_64 rng(4);
  std::exponential_distribution<double> gap(2.0);  // per ms
  std::vector<double> seconds;
  std::vector<std::int32_t> ids;
  double t = 0;
  for (std::size_t k = 0; k < n; ++k) {
    t += gap(rng);
    seconds.push_back(t * 1e-3);
    ids.push_back(std::int32_t(k * 7 % std::size_t(neurons)));
  }
  gs::io::write_npy(dir / "spikes.times.npy", std::span<const double>(seconds));
  gs::io::write_npy(dir / "spike_clusters.npy", std::span<const std::int32_t>(ids));
}

const std::vector<std::string> small = {"--set", "model.width=8",  "--set", "model.heads=2",
                                        "--set", "model.context=8", "--set", "model.blocks=1",
                                        "--set", "train.epochs=2", "--set", "train.steps_per_epoch=4"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("predict train, resume and eval on a phy folder") {
  scratch_dir d;
  write_phy(d.path / "phy", 2000, 5);
  const fs::path out = d.path / "git";
  auto r = cli(with({"predict", "train", (d.path / "phy").string(), "-o", out.string()}, small), d.path);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "2000 spikes, 5 neurons"));
  CHECK(has(r.out, "epoch 2: train NLL"));
  CHECK(fs::exists(out / "GiT1.model"));
  CHECK(fs::exists(out / "GiT2.optim"));

  // Two more epochs from GiT2; a setting that fixes the model cannot change.
  r = cli({"predict", "train", (d.path / "phy").string(), "-o", out.string(), "--resume", (out / "GiT2.model").string(),
           "--set", "train.epochs=3"},
          d.path);
  CHECK(r.status == 0);
  CHECK(fs::exists(out / "GiT3.model"));
  r = cli({"predict", "train", (d.path / "phy").string(), "-o", out.string(), "--resume", (out / "GiT2.model").string(),
           "--set", "model.width=16"},
          d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "model.width cannot change when resuming"));

  r = cli({"predict", "eval", (out / "GiT3.model").string(), (d.path / "phy").string()}, d.path);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "transformer"));
  CHECK(has(r.out, "poisson"));
  const auto j = nlohmann::json::parse(gs::test::slurp(out / "GiT3.eval.json"));
  CHECK(j["first_event"] == 1800);
  for (const char* p : {"transformer", "poisson", "hawkes"}) {
    const auto& m = j["predictors"][p];
    CHECK(m["events"] == 200);
    CHECK(std::isfinite(m["nll_per_event"].get<double>()));
    CHECK(m["nll_per_event"].get<double>() ==
          doctest::Approx(m["nll_time"].get<double>() + m["nll_mark"].get<double>()));
    CHECK(m["top5"].get<double>() >= m["top1"].get<double>());
    CHECK(m["ks_time_rescaling"].get<double>() > 0);
  }
  r = cli({"predict", "eval", (out / "GiT3.model").string(), (d.path / "phy").string(), "--split", "validation", "-o",
           (d.path / "val.json").string()},
          d.path);
  CHECK(r.status == 0);
  CHECK(nlohmann::json::parse(gs::test::slurp(d.path / "val.json"))["end_event"] == 1800);

  // Generated spikes in the simulator's formats, readable by the same readers, and compared.
  r = cli({"predict", "sample", (out / "GiT3.model").string(), (d.path / "phy").string(), "-o",
           (d.path / "gen").string(), "--duration", "20"},
          d.path);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK(has(r.out, "mean rate (Hz)"));
  const gs::predictor::spike_train phy = gs::predictor::read_spikes(d.path / "gen" / "phy");
  const gs::predictor::spike_train sonata = gs::predictor::read_sonata(d.path / "gen" / "spikes.h5");
  CHECK(phy.size() > 5);
  CHECK(sonata.size() == phy.size());
  CHECK(phy.t_ms.back() - phy.t_ms.front() <= 20.0);
  const auto cmp = nlohmann::json::parse(gs::test::slurp(d.path / "gen" / "comparison.json"))["comparison"];
  CHECK(cmp["spikes"]["generated"] == phy.size());
  CHECK(cmp.contains("isi_ks_distance"));
  CHECK(cmp["pair_correlation"].contains("recorded"));
}

TEST_CASE("predict: bad input exits with status 2 and says what is wrong") {
  scratch_dir d;
  write_phy(d.path / "phy", 600, 3);
  auto r = cli({"predict", "train", (d.path / "nowhere").string(), "-o", (d.path / "o").string()}, d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "nowhere: no such file or folder"));

  r = cli({"predict", "train", (d.path / "phy").string(), "-o", (d.path / "o").string(), "--set", "model.depth=3"},
          d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "unknown model setting 'depth'"));

  r = cli({"predict", "train", (d.path / "phy").string(), "-o", (d.path / "o").string(), "--set", "train.batch=0"},
          d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "invalid training settings"));

  // A model trained on 3 neurons cannot score a recording with a fourth.
  r = cli(with({"predict", "train", (d.path / "phy").string(), "-o", (d.path / "o").string()}, small), d.path);
  REQUIRE(r.status == 0);
  write_phy(d.path / "wider", 600, 4);
  r = cli({"predict", "eval", (d.path / "o" / "GiT2.model").string(), (d.path / "wider").string()}, d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "outside the model's vocabulary"));

  std::ofstream(d.path / "broken.model") << "something else\n";
  r = cli({"predict", "eval", (d.path / "broken.model").string(), (d.path / "phy").string()}, d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "broken.model: expected a file starting 'gillespike-predictor-model 2'"));
}

TEST_CASE("predict train --device: cuda refused with status 2 where it cannot run, before any output") {
  scratch_dir d;
  write_phy(d.path / "phy", 2000, 5);
  const fs::path out = d.path / "git";
  const std::vector<std::string> train = {"predict", "train", (d.path / "phy").string(), "-o", out.string()};
  auto r = cli(with(with(train, small), {"--device", "tpu"}), d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "--device tpu: expected cpu or cuda"));
  CHECK_FALSE(fs::exists(out));
#ifdef GILLESPIKE_HAVE_CUDA
  const std::string why = gs::cuda_unusable_reason();
  if (why.empty()) {
    MESSAGE("a usable GPU is present: tests/gpu/test_predictor_cuda.cpp checks the CUDA path");
    return;
  }
  r = cli(with(with(train, small), {"--device", "cuda"}), d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "--device cuda: no usable GPU here (" + why + ")"));
#else
  r = cli(with(with(train, small), {"--device", "cuda"}), d.path);
  CHECK(r.status == 2);
  CHECK(has(r.err, "--device cuda: this build has no CUDA"));
#endif
  CHECK_FALSE(fs::exists(out));
}
