// The whole next-spike transformer against an independent PyTorch implementation written here
// from its definition (docs/predictor.md): same weights and batch in float64, the mean NLL per
// event and every parameter's gradient must agree to a relative 1e-8. Skipped, with a message,
// where /usr/bin/python3 cannot import torch (tools/install_deps.sh installs python3-torch).
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

constexpr const char* reference_py = R"PY(
import json, math, sys
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
d = json.load(open(sys.argv[1]))
c = d["config"]
P = {k: torch.tensor(v["values"]).reshape(v["rows"], v["cols"]).requires_grad_() for k, v in d["params"].items()}

def linear(x, name):
    return x @ P[name + ".W"] + P[name + ".b"][0]

def norm(x, name):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".gain"][0], P[name + ".bias"][0], eps=1e-5)

def features(tau):
    z = (torch.log(tau) - c["log_tau_shift"]) / c["log_tau_scale"]
    cols = [z]
    for k in range(c["frequencies"]):
        cols += [torch.sin(2.0 ** (k - 2) * z), torch.cos(2.0 ** (k - 2) * z)]
    return torch.stack(cols, -1)

def attention(x, name):
    L, D = x.shape
    H = c["heads"]
    q, k, v = linear(x, name + ".qkv").split(D, -1)
    q, k, v = (t.reshape(L, H, D // H).transpose(0, 1) for t in (q, k, v))
    s = q @ k.transpose(-1, -2) / math.sqrt(D // H)
    s = s.masked_fill(torch.triu(torch.ones(L, L, dtype=torch.bool), 1), float("-inf"))
    o = (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(L, D)
    return linear(o, name + ".proj")

K = c["components"]
total, count = 0.0, 0
for w in d["windows"]:
    ids = torch.tensor(w["ids"])
    x = P["token.table"][ids] + linear(features(torch.tensor(w["tau"])), "time_in")
    for b in range(c["blocks"]):
        h = x + attention(norm(x, f"block{b}.ln1"), f"block{b}.attn")
        x = h + linear(F.gelu(linear(norm(h, f"block{b}.ln2"), f"block{b}.fc1")), f"block{b}.fc2")
    h = norm(x, "ln_f")
    mark = F.cross_entropy(linear(h, "mark_out"), torch.tensor(w["next_ids"]), reduction="sum")
    a, mu, log_sigma = linear(h, "time_out").split(K, -1)
    tau = torch.tensor(w["next_tau"])
    z = (torch.log(tau) - c["log_tau_shift"]) / c["log_tau_scale"]
    log_pz = torch.logsumexp(torch.log_softmax(a, -1) + torch.distributions.Normal(mu, log_sigma.exp()).log_prob(z[:, None]), -1)
    time = (-log_pz + math.log(c["log_tau_scale"]) + torch.log(tau)).sum()
    total = total + time + mark
    count += len(w["ids"])
loss = total / count
loss.backward()
json.dump({"loss": loss.item(), "grads": {k: p.grad.flatten().tolist() for k, p in P.items()}}, open(sys.argv[2], "w"))
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
  const int rc = std::system(fmt::format("/usr/bin/python3 '{}' '{}' '{}' 2> '{}'", (dir / "reference.py").string(),
                                         (dir / "in.json").string(), (dir / "out.json").string(),
                                         (dir / "err.txt").string())
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
