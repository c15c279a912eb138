// The spiking network's surrogate-gradient backward pass against an independent PyTorch
// implementation written here from its definition (learning/surrogate/snn.hpp, docs/surrogate.md):
// a custom autograd function spikes with the Heaviside step forward and returns the surrogate
// backward, and autograd does the BPTT. Same weights, inputs, warm starting state and target in
// float64; the loss and every parameter's gradient must agree to a relative 1e-8, for both
// surrogates, both readouts, learnable time constants and substeps. Skipped, with a message, where
// /usr/bin/python3 cannot import torch (tools/install_deps.sh installs python3-torch).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "learning/surrogate/snn.hpp"
#include "tests/support/torch_reference.hpp"

namespace fs = std::filesystem;
using namespace gs;
using nlohmann::json;
using dmat = nn::mat<double>;

namespace {

constexpr const char* reference_py = R"PY(
import json, math, sys
import torch

torch.set_default_dtype(torch.float64)
d = json.load(open(sys.argv[1]))
kind, slope, k = d["surrogate"], d["slope"], d["substeps"]
params = {n: torch.tensor(v).requires_grad_() for n, v in d["trainable"].items()}
fixed = {n: torch.tensor(v) for n, v in d["fixed"].items()}
value = lambda n: params[n] if n in params else fixed[n]

class Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if kind == "fast_sigmoid":
            return g / (1 + slope * x.abs()) ** 2
        return g * (slope / 2) / (1 + (math.pi / 2 * slope * x) ** 2)

x = torch.tensor(d["x"])                       # steps x batch x inputs
h = x.repeat_interleave(k, dim=0)              # each bin's input held over its substeps
for layer in d["layers"]:
    n = layer["name"]
    beta = torch.sigmoid(value(n + ".beta_logit"))
    v, s = torch.tensor(layer["v0"]), torch.tensor(layer["s0"])
    out = []
    for t in range(h.shape[0]):
        u = beta * v + h[t] @ value(n + ".W_in") + value(n + ".b")
        if layer["recurrent"]:
            u = u + s @ value(n + ".W_rec")
        s = Spike.apply(u - 1.0)
        v = u - s
        out.append(s)
    h = torch.stack(out)
alpha = torch.sigmoid(value("readout.alpha_logit")) if d["membrane"] else 0.0
y = torch.tensor(d["y0"])
ys = []
for t in range(h.shape[0]):
    y = alpha * y + h[t] @ value("readout.W") + value("readout.b")
    ys.append(y)
y = torch.stack(ys)[k - 1 :: k]                 # the readout after each bin's last substep
loss = ((y - torch.tensor(d["target"])) ** 2).mean()
loss.backward()
json.dump({"loss": loss.item(), "grads": {n: p.grad.tolist() for n, p in params.items()}}, open(sys.argv[2], "w"))
)PY";

json to_json(const dmat& m) {
  json rows = json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    std::vector<double> r(std::size_t(m.cols()));
    for (Eigen::Index j = 0; j < m.cols(); ++j) r[std::size_t(j)] = m(i, j);
    rows.push_back(r);
  }
  return rows;
}

// Biases and time constants are 1 x n parameters; PyTorch gets them as vectors.
json param_json(const dmat& m) { return m.rows() == 1 ? to_json(m)[0] : to_json(m); }

struct variant {
  const char* name;
  surrogate::surrogate_kind kind;
  double slope;
  bool recurrent, learn_tau, membrane;
  int substeps;
};

void compare_with_torch(const variant& v, const fs::path& dir) {
  surrogate::snn_config c;
  c.inputs = 5;
  c.outputs = 2;
  c.hidden = {7, 6};
  c.surrogate = v.kind;
  c.slope = v.slope;
  c.recurrent = v.recurrent;
  c.learn_tau = v.learn_tau;
  c.membrane_readout = v.membrane;
  c.substeps = v.substeps;
  c.bin_ms = 4;
  c.tau_mem_ms = 10;
  c.tau_out_ms = 15;
  surrogate::spiking_net<double> net(c, 11);
  nn::init_rng rng(12);
  for (auto* p : net.parameters()) nn::fill_normal(p->value, 0.7, rng);
  const Eigen::Index B = 3;
  const std::size_t steps = 9;
  auto random_sequence = [&](std::size_t n, Eigen::Index width) {
    surrogate::sequence<double> s(n);
    for (auto& m : s) {
      m.resize(B, width);
      nn::fill_normal(m, 1.3, rng);
    }
    return s;
  };
  net.reset(B);
  net.forward(random_sequence(6, c.inputs));  // a warm state to start the checked window from
  json layers = json::array();
  json fixed = json::object(), trainable = json::object();
  for (auto& l : net.layers)
    layers.push_back({{"name", l.W_in.name.substr(0, l.W_in.name.find('.'))},
                      {"recurrent", l.recurrent},
                      {"v0", to_json(l.v)},
                      {"s0", to_json(l.s)}});
  const json y0 = to_json(net.readout.y);
  const surrogate::sequence<double> x = random_sequence(steps, c.inputs), target = random_sequence(steps, c.outputs);

  const surrogate::sequence<double> y = net.forward(x);
  for (const double f : net.firing()) {  // both kinds of step must occur for the test to mean anything
    CHECK(f > 0.1);
    CHECK(f < 0.9);
  }
  double loss = 0;
  const double n = double(steps * B * c.outputs);
  surrogate::sequence<double> dy(steps);
  for (std::size_t t = 0; t < steps; ++t) {
    loss += (y[t] - target[t]).squaredNorm() / n;
    dy[t] = 2 / n * (y[t] - target[t]);
  }
  const auto ps = net.parameters();
  nn::zero_grad(ps);
  net.backward(dy);

  for (auto* p : ps) trainable[p->name] = param_json(p->value);
  for (auto& l : net.layers)
    if (!l.learn_beta) fixed[l.beta_logit.name] = param_json(l.beta_logit.value);
  if (!net.readout.learn_alpha) fixed[net.readout.alpha_logit.name] = param_json(net.readout.alpha_logit.value);
  json xs = json::array(), ts = json::array();
  for (std::size_t t = 0; t < steps; ++t) xs.push_back(to_json(x[t])), ts.push_back(to_json(target[t]));
  const json in = {{"surrogate", v.kind == surrogate::surrogate_kind::arctan ? "arctan" : "fast_sigmoid"},
                   {"slope", v.slope},
                   {"substeps", v.substeps},
                   {"membrane", v.membrane},
                   {"layers", layers},
                   {"y0", y0},
                   {"trainable", trainable},
                   {"fixed", fixed},
                   {"x", xs},
                   {"target", ts}};
  const auto run = gs::test::run_torch_reference(dir, reference_py, in);
  INFO(run.err);
  REQUIRE(run.status == 0);
  const json& ref = run.output;
  CHECK(std::abs(ref["loss"].get<double>() - loss) <= 1e-12 * std::abs(loss));
  for (auto* p : ps) {
    const json& g = ref["grads"][p->name];
    dmat theirs(p->grad.rows(), p->grad.cols());
    for (Eigen::Index i = 0; i < theirs.rows(); ++i)
      for (Eigen::Index j = 0; j < theirs.cols(); ++j)
        theirs(i, j) = theirs.rows() == 1 ? g[std::size_t(j)].get<double>() : g[std::size_t(i)][std::size_t(j)].get<double>();
    const double rel = (theirs - p->grad).norm() / theirs.norm();
    MESSAGE(std::string(v.name) << ", " << p->name << ": |PyTorch - ours| / |PyTorch| = " << rel);
    CHECK(theirs.norm() > 0);
    CHECK(rel < 1e-8);
  }
}

}  // namespace

TEST_CASE("spiking network: loss and surrogate gradients equal an independent PyTorch implementation (float64)") {
  if (!gs::test::have_torch()) {
    MESSAGE("skipped: /usr/bin/python3 cannot import torch (install python3-torch)");
    return;
  }
  const fs::path dir = fs::temp_directory_path() / fmt::format("gs-test-snn-torch-{}-{}", ::getpid(), std::random_device{}());
  fs::create_directories(dir);
  for (const variant& v : {variant{"fast sigmoid, recurrent, learnable taus, membrane readout",
                                   surrogate::surrogate_kind::fast_sigmoid, 5, true, true, true, 1},
                           variant{"arctan, recurrent, fixed taus, spikes readout", surrogate::surrogate_kind::arctan,
                                   2, true, false, false, 1},
                           variant{"arctan, feedforward, learnable taus, membrane readout, 3 substeps",
                                   surrogate::surrogate_kind::arctan, 2, false, true, true, 3}}) {
    CAPTURE(v.name);
    compare_with_torch(v, dir);
  }
  fs::remove_all(dir);
}
