// Training is reproducible: the same seed gives bit-identical weights on one thread and on two, and
// resuming from an epoch's checkpoint (GiT{epoch}.model + .optim) ends bit-identical to the run that
// never stopped. Damaged checkpoints are refused as bad input.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "learning/predictor/train.hpp"

namespace fs = std::filesystem;
using namespace gs::predictor;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("gs-test-train-{}-{}", ::getpid(), std::random_device{}());
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

// Two neurons that alternate with jittered intervals: a train with structure to learn.
spike_train alternating(std::size_t n) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  spike_train s;
  double t = 0;
  for (std::size_t k = 0; k < n; ++k) {
    t += (k % 2 ? 0.2 : 2.0) * jitter(rng);
    s.t_ms.push_back(t);
    s.ids.push_back(int(k % 2) + (k % 7 == 0 ? 2 : 0));
  }
  s.populations = {{"phy", 0, 4}};
  s.source = "alternating";
  return s;
}

model_config small_model() {
  model_config c;
  c.width = 16;
  c.heads = 4;
  c.blocks = 2;
  c.context = 12;
  c.components = 3;
  c.frequencies = 3;
  return c;
}

train_config short_run(int threads) {
  train_config t;
  t.batch = 6;
  t.epochs = 2;
  t.steps_per_epoch = 15;
  t.seed = 42;
  t.threads = threads;
  return t;
}

bool same_weights(training_state& a, training_state& b) {
  const auto pa = a.model.parameters(), pb = b.model.parameters();
  for (std::size_t k = 0; k < pa.size(); ++k)
    if (pa[k]->value != pb[k]->value) return false;
  return true;
}

}  // namespace

TEST_CASE("training: same seed, one thread or two, bit-identical weights; training lowers the loss") {
  const spike_train data = alternating(3000);
  scratch_dir d1, d2;
  training_state one = start_training(data, small_model(), short_run(1));
  training_state two = start_training(data, small_model(), short_run(2));
  continue_training(one, data, d1.path);
  continue_training(two, data, d2.path);
  CHECK(same_weights(one, two));
  CHECK(one.history[1].train_nll == two.history[1].train_nll);
  CHECK(one.history[1].train_nll < one.history[0].train_nll);
  CHECK(fs::exists(d1.path / "GiT1.model"));
  CHECK(fs::exists(d1.path / "GiT2.optim"));
}

TEST_CASE("training: resuming from GiT1 ends bit-identical to the uninterrupted run") {
  const spike_train data = alternating(3000);
  scratch_dir d;
  training_state full = start_training(data, small_model(), short_run(2));
  continue_training(full, data, d.path);
  training_state resumed = load_checkpoint(d.path / "GiT1.model", true);
  CHECK(resumed.epoch == 1);
  CHECK(resumed.step == 15);
  REQUIRE(resumed.history.size() == 1);
  CHECK(resumed.history[0].train_nll == full.history[0].train_nll);
  CHECK(resumed.history[0].validation.nll_time == full.history[0].validation.nll_time);
  scratch_dir d2;
  continue_training(resumed, data, d2.path);
  CHECK(resumed.epoch == 2);
  CHECK(same_weights(full, resumed));
  for (std::size_t k = 0; k < full.optimizer.m.size(); ++k) {
    CHECK(full.optimizer.m[k] == resumed.optimizer.m[k]);
    CHECK(full.optimizer.v[k] == resumed.optimizer.v[k]);
  }
  CHECK(full.history[1].validation.nll() == resumed.history[1].validation.nll());

  // Loading for evaluation only needs the .model file.
  training_state weights = load_checkpoint(d.path / "GiT2.model", false);
  CHECK(same_weights(full, weights));
  CHECK(weights.model.cfg.log_tau_shift == full.model.cfg.log_tau_shift);
}

TEST_CASE("checkpoints: damaged or mismatched files are refused") {
  const spike_train data = alternating(600);
  scratch_dir d;
  train_config t = short_run(1);
  t.epochs = 1;
  t.steps_per_epoch = 1;
  training_state s = start_training(data, small_model(), t);
  continue_training(s, data, d.path);
  const fs::path model = d.path / "GiT1.model";
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const data_error& e) {
      return e.what();
    }
    return "no data_error";
  };
  fs::rename(d.path / "GiT1.optim", d.path / "moved");
  CHECK(error_of([&] { load_checkpoint(model, true); }).find("GiT1.optim: cannot open") != std::string::npos);
  fs::resize_file(model, fs::file_size(model) - 8);
  CHECK(error_of([&] { load_checkpoint(model, false); }).find("truncated") != std::string::npos);
  std::ofstream(model) << "not a model\n";
  CHECK(error_of([&] { load_checkpoint(model, false); }).find("expected a file starting") != std::string::npos);

  // A training split too short for one window.
  const spike_train tiny = alternating(12);
  training_state bad = start_training(tiny, small_model(), t);
  CHECK(error_of([&] { continue_training(bad, tiny, d.path); }).find("needs at least") != std::string::npos);
}
