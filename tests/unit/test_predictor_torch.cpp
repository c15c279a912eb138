// The whole next-spike transformer against an independent PyTorch implementation written from its
// definition (docs/predictor.md; tools/predictor_torch.py, which the benchmark times too): same
// weights and batch in float64, the mean NLL per event and every parameter's gradient must agree
// to a relative 1e-8. Skipped, with a message, where /usr/bin/python3 cannot import torch
// (tools/install_deps.sh installs python3-torch).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include "learning/nn/tensor.hpp"
#include "learning/predictor/model.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using namespace gs::predictor;
using nlohmann::json;

namespace {

// Runs tools/predictor_torch.py's model on the windows (all of one length, so one batch).
constexpr const char* reference_py = R"PY(
import json, sys
import torch
sys.path.insert(0, sys.argv[3])
from predictor_torch import SpikeTransformer

torch.set_default_dtype(torch.float64)
d = json.load(open(sys.argv[1]))
model = SpikeTransformer(d["config"], {k: v["values"] for k, v in d["params"].items()})
w = {k: torch.tensor([x[k] for x in d["windows"]]) for k in ("ids", "tau", "next_ids", "next_tau")}
time, mark = model.nll(w["ids"], w["tau"], w["next_ids"], w["next_tau"])
loss = (time + mark) / w["ids"].numel()
loss.backward()
json.dump({"loss": loss.item(), "grads": {k: p.grad.flatten().tolist() for k, p in model.P.items()}}, open(sys.argv[2], "w"))
)PY";

}  // namespace

TEST_CASE("spike transformer: loss and gradients equal an independent PyTorch implementation (float64)") {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 cannot import torch (install python3-torch)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / fmt::format("gs-test-torch-{}-{}", ::getpid(), std::random_device{}());
  fs::create_directories(dir);
  model_config c;
  c.width = 16;
  c.blocks = 2;
  c.heads = 4;
  c.context = 10;
  c.components = 3;
  c.frequencies = 3;
  c.log_tau_shift = -0.3;
  c.log_tau_scale = 1.7;
  c.history_basis = 4;  // knots at 0.5, 1, 2 and 4: the test's ages (up to ~6) cover them all and beyond
  c.history_min_ms = 0.5;
  c.history_max_ms = 4.0;
  c.populations = {{"exc", 0, 4}, {"inh", 4, 3}};
  spike_transformer<double> model(c, 5);
  gs::nn::init_rng rng(6);
  for (auto* p : model.parameters()) gs::nn::fill_normal(p->value, 0.3, rng);  // away from the initial symmetry

  // Two windows of a random recording.
  std::mt19937_64 data_rng(7);
  std::uniform_int_distribution<int> neuron(0, 6);
  std::exponential_distribution<double> gap(1.5);
  event_sequence seq;
  for (int k = 0; k < 40; ++k) {
    seq.ids.push_back(neuron(data_rng));
    seq.tau.push_back(gap(data_rng));
  }
  const std::vector<std::size_t> starts = {1, 17};
  const std::size_t L = 10;
  json windows = json::array();
  double loss = 0;
  const auto ps = model.parameters();
  gs::nn::zero_grad(ps);
  const std::vector<double> d(L, 1.0 / double(starts.size() * L));
  for (const std::size_t s : starts) {
    const window w = window_at(seq, s, L);
    const auto out = model.forward(w);
    for (std::size_t i = 0; i < L; ++i) loss += (out.time[i] + out.mark[i]) / double(starts.size() * L);
    model.backward(d, d);
    windows.push_back({{"ids", std::vector<int>(w.ids.begin(), w.ids.end())},
                       {"next_ids", std::vector<int>(w.next_ids.begin(), w.next_ids.end())},
                       {"tau", std::vector<double>(w.tau.begin(), w.tau.end())},
                       {"next_tau", std::vector<double>(w.next_tau.begin(), w.next_tau.end())}});
  }
  json params = json::object();
  for (auto* p : ps)
    params[p->name] = {{"rows", p->value.rows()},
                       {"cols", p->value.cols()},
                       {"values", std::vector<double>(p->value.data(), p->value.data() + p->value.size())}};
  json config = to_json(c);
  std::ofstream(dir / "in.json") << json{{"config", config}, {"params", params}, {"windows", windows}}.dump();
  std::ofstream(dir / "reference.py") << reference_py;
  const int rc = std::system(fmt::format("/usr/bin/python3 '{}' '{}' '{}' '{}' 2> '{}'", (dir / "reference.py").string(),
                                         (dir / "in.json").string(), (dir / "out.json").string(),
                                         std::string(GS_SOURCE_DIR) + "/tools", (dir / "err.txt").string())
                                 .c_str());
  INFO(gs::test::slurp(dir / "err.txt"));
  REQUIRE(rc == 0);
  const json ref = json::parse(gs::test::slurp(dir / "out.json"));
  CHECK(std::abs(ref["loss"].get<double>() - loss) <= 1e-8 * std::abs(loss));
  for (auto* p : ps) {
    const std::vector<double> g = ref["grads"][p->name].get<std::vector<double>>();
    REQUIRE(g.size() == std::size_t(p->grad.size()));
    double diff = 0, norm = 0;
    for (std::size_t k = 0; k < g.size(); ++k) {
      diff += (g[k] - p->grad.data()[k]) * (g[k] - p->grad.data()[k]);
      norm += g[k] * g[k];
    }
    INFO(p->name << ": |PyTorch - ours| / |PyTorch| = " << std::sqrt(diff / norm));
    CHECK(norm > 0);
    CHECK(std::sqrt(diff) <= 1e-8 * std::sqrt(norm));
  }
  fs::remove_all(dir);
}
