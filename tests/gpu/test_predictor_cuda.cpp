// The predictor's CUDA path (learning/predictor/cuda_model.cu) against the CPU: on the same
// weights and windows, its loss and every parameter's gradient against the float64 CPU model
// (spike_transformer<double>), a run of training steps (clipping and AdamW on the device) against
// the same steps taken by the float CPU path, evaluation's scores against the float64 CPU's, and
// whole training epochs against the CPU's.
// Without a usable GPU the test exits with status 77, which ctest reports as skipped;
// tools/gpu_check.sh fails on a skip.
#include "tests/support/gpu_main.hpp"  // first: it implements doctest

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "learning/nn/optim.hpp"
#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/cuda_model.hpp"
#include "learning/predictor/model.hpp"
#include "learning/predictor/train.hpp"

using namespace gs::predictor;
namespace nn = gs::nn;

namespace {

// Sizes chosen off the kernels' multiples: a width that is not a multiple of the warp (24), a
// context not a multiple of it (40), three heads, an odd vocabulary.
model_config unfitted_config() {
  model_config c;
  c.width = 24;
  c.heads = 3;
  c.blocks = 2;
  c.mlp_ratio = 2;
  c.context = 40;
  c.components = 5;
  c.frequencies = 3;
  c.history_basis = 6;
  return c;
}
model_config small_config(const spike_train& data, const split& s) {
  return fit_model_config(unfitted_config(), data, s);
}

// Two populations firing with bursty intervals (a mixture of short and long gaps), so the history
// term and the interval mixture both see structure.
spike_train recording(std::size_t n) {
  std::mt19937_64 rng(17);
  std::exponential_distribution<double> short_gap(5.0), long_gap(0.3);
  std::bernoulli_distribution burst(0.4);
  std::uniform_int_distribution<int> who(0, 36);
  spike_train s;
  double t = 0;
  for (std::size_t k = 0; k < n; ++k) {
    t += burst(rng) ? short_gap(rng) : long_gap(rng);
    s.t_ms.push_back(t);
    s.ids.push_back(who(rng));
  }
  s.populations = {{"a", 0, 20}, {"b", 20, 17}};
  s.source = "synthetic";
  return s;
}

// Every parameter moved off its initial value (zero biases, unit gains, the 0.02 normal weights),
// so that no gradient vanishes by symmetry.
void perturb(spike_transformer<float>& m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  for (auto* p : m.parameters())
    for (Eigen::Index k = 0; k < p->value.size(); ++k) p->value.data()[k] += noise(rng);
}

double rel_diff(const nn::mat<double>& a, const nn::mat<double>& reference) {
  return (a - reference).norm() / std::max(reference.norm(), 1e-30);
}

struct fixture {
  spike_train data = recording(3000);
  split s = chronological_split(data.size(), 0.8, 0.1);
  event_sequence seq = to_events(data, 1e-4);
  spike_transformer<float> model{small_config(data, s), 5};
  std::vector<std::uint64_t> starts = {1, 333, 1201, 2000};
  float weight = 1.0f / float(4 * 40);
  fixture() { perturb(model, 9); }
};

}  // namespace

TEST_CASE("cuda predictor: loss and every gradient equal the float64 CPU model's") {
  fixture f;
  // The CPU reference in double, and the CPU float path for scale: the GPU computes in float32.
  spike_transformer<double> ref(f.model.cfg, 0);
  nn::copy_values(f.model.parameters(), ref.parameters());
  spike_transformer<float> cpu_float = f.model;
  double time64 = 0, mark64 = 0;
  for (std::uint64_t st : f.starts) {
    const window w = window_at(f.seq, st, std::size_t(f.model.cfg.context));
    const auto out = ref.forward(w);
    for (std::size_t i = 0; i < out.time.size(); ++i) {
      time64 += out.time[i];
      mark64 += out.mark[i];
    }
    const std::vector<double> dl(out.time.size(), double(f.weight));
    ref.backward(dl, dl);
    cpu_float.forward(w);
    const std::vector<float> dlf(out.time.size(), f.weight);
    cpu_float.backward(dlf, dlf);
  }

  nn::adamw<float> opt(f.model.parameters(), {});
  cuda_model gpu(f.model, &opt, f.seq, int(f.starts.size()));
  const auto loss = gpu.forward_backward(f.starts, f.weight);
  spike_transformer<float> back = f.model;
  gpu.download(back, opt);
  // Relative to the summed magnitude (160 positions of about a nat): the interval part can sum to
  // near zero.
  CHECK(loss.time == doctest::Approx(time64).epsilon(1e-5).scale(160));
  CHECK(loss.mark == doctest::Approx(mark64).epsilon(1e-5).scale(160));

  const auto gp = back.parameters(), fp = cpu_float.parameters();
  const auto rp = ref.parameters();
  double worst_gpu = 0, worst_cpu = 0;
  for (std::size_t k = 0; k < rp.size(); ++k) {
    const nn::mat<double> g64 = rp[k]->grad;
    const double gpu_err = rel_diff(gp[k]->grad.cast<double>(), g64);
    const double cpu_err = rel_diff(fp[k]->grad.cast<double>(), g64);
    INFO(rp[k]->name << ": GPU relative error " << gpu_err << ", CPU float " << cpu_err << ", |grad| " << g64.norm());
    CHECK(g64.norm() > 0);
    // float32 on both: the GPU within 1e-4 of float64, or no worse than 10 times the CPU's own
    // float32 error where summation over many terms makes that larger.
    CHECK(gpu_err < std::max(1e-4, 10 * cpu_err));
    worst_gpu = std::max(worst_gpu, gpu_err);
    worst_cpu = std::max(worst_cpu, cpu_err);
    // The values went up and came back unchanged.
    CHECK((back.parameters()[k]->value - f.model.parameters()[k]->value).cwiseAbs().maxCoeff() == 0.0f);
  }
  MESSAGE(fmt::format("loss {:.9g} / {:.9g} (GPU) against {:.9g} / {:.9g} (float64); largest relative gradient error: "
                      "GPU {:.3g}, CPU float32 {:.3g}",
                      loss.time, loss.mark, time64, mark64, worst_gpu, worst_cpu));
}

TEST_CASE("cuda predictor: training steps follow the CPU's and lower the loss") {
  // The same fixed batch each step on both sides: clipping (a clip small enough to act) and AdamW
  // on the device against nn::clip_grad_norm and nn::adamw on the CPU, in float32.
  fixture f;
  const double clip = 0.5, lr = 3e-3;
  const int steps = 15;
  spike_transformer<float> cpu = f.model;
  const auto cpu_params = cpu.parameters();
  nn::adamw<float> cpu_opt(cpu_params, {});
  std::vector<double> cpu_loss;
  for (int k = 0; k < steps; ++k) {
    nn::zero_grad(cpu_params);
    double sum = 0;
    for (std::uint64_t st : f.starts) {
      const auto out = cpu.forward(window_at(f.seq, st, std::size_t(cpu.cfg.context)));
      for (std::size_t i = 0; i < out.time.size(); ++i) sum += double(out.time[i]) + double(out.mark[i]);
      const std::vector<float> dl(out.time.size(), f.weight);
      cpu.backward(dl, dl);
    }
    nn::clip_grad_norm(cpu_params, clip);
    cpu_opt.step(cpu_params, lr);
    cpu_loss.push_back(sum);
  }

  nn::adamw<float> opt(f.model.parameters(), {});
  cuda_model gpu(f.model, &opt, f.seq, int(f.starts.size()));
  std::vector<double> gpu_loss;
  for (int k = 0; k < steps; ++k) {
    const auto l = gpu.forward_backward(f.starts, f.weight);
    gpu.step(lr, clip);
    gpu_loss.push_back(l.time + l.mark);
  }
  for (int k = 0; k < steps; ++k) {
    INFO("step " << k);
    CHECK(gpu_loss[std::size_t(k)] == doctest::Approx(cpu_loss[std::size_t(k)]).epsilon(1e-4).scale(160));
  }
  CHECK(gpu_loss.back() < 0.9 * gpu_loss.front());
  CHECK(cpu_loss.back() < 0.9 * cpu_loss.front());

  spike_transformer<float> back = f.model;
  gpu.download(back, opt);
  CHECK(opt.steps == steps);
  double diff = 0, norm = 0;
  for (std::size_t k = 0; k < cpu_params.size(); ++k) {
    diff += (back.parameters()[k]->value - cpu_params[k]->value).cast<double>().squaredNorm();
    norm += cpu_params[k]->value.cast<double>().squaredNorm();
  }
  // Adam divides by the gradients' running size, so float roundings of small gradients move their
  // parameters by up to a step: the weights agree to about lr, not to float precision.
  CHECK(std::sqrt(diff / norm) < 1e-3);
  MESSAGE(fmt::format("summed NLL over {} steps: {:.6g} -> {:.6g} (GPU), {:.6g} -> {:.6g} (CPU); parameters' relative "
                      "difference after them {:.3g}",
                      steps, gpu_loss.front(), gpu_loss.back(), cpu_loss.front(), cpu_loss.back(),
                      std::sqrt(diff / norm)));
}

TEST_CASE("cuda predictor: evaluation scores every event as the float64 CPU model does") {
  fixture f;
  spike_transformer<double> ref(f.model.cfg, 0);
  nn::copy_values(f.model.parameters(), ref.parameters());
  // The whole recording with stride 15: the first windows are shorter than the context (the CPU
  // scores those), the rest go to the GPU in one batch.
  const std::size_t end = f.seq.ids.size();
  const auto cpu = score_model(ref, f.seq, 2, end, 15, 1);
  const auto gpu = score_model_cuda(f.model, f.seq, 2, end, 15);
  REQUIRE(gpu.size() == cpu.size());
  double worst_nll = 0, worst_mean = 0, worst_u = 0;
  std::size_t rank_moved = 0, other_interval = 0;
  for (std::size_t k = 0; k < cpu.size(); ++k) {
    worst_nll = std::max(
        {worst_nll, std::abs(gpu[k].nll_time - cpu[k].nll_time), std::abs(gpu[k].nll_mark - cpu[k].nll_mark)});
    worst_mean = std::max(worst_mean, std::abs(gpu[k].predicted_ms / cpu[k].predicted_ms - 1));
    worst_u = std::max(worst_u, std::abs(gpu[k].u - cpu[k].u));
    rank_moved += gpu[k].rank != cpu[k].rank;
    other_interval += gpu[k].actual_ms != cpu[k].actual_ms;  // the same event scored
  }
  CHECK(other_interval == 0);
  CHECK(worst_nll < 1e-4);
  CHECK(worst_mean < 1e-4);
  CHECK(worst_u < 1e-5);
  // A neuron's rank moves only where float32 rounding reorders two almost equal probabilities.
  CHECK(rank_moved <= cpu.size() / 100);
  const metrics a = summarise(gpu), b = summarise(cpu);
  CHECK(a.nll() == doctest::Approx(b.nll()).epsilon(1e-5));
  MESSAGE(fmt::format("{} events: NLL {:.7f} (GPU) against {:.7f} (float64 CPU); largest differences: NLL {:.2g}, "
                      "mean interval {:.2g} (relative), u {:.2g}; ranks moved {}",
                      cpu.size(), a.nll(), b.nll(), worst_nll, worst_mean, worst_u, rank_moved));
}

TEST_CASE("cuda predictor: training epochs on the GPU follow the CPU's and write checkpoints the CPU resumes") {
  // The whole of continue_training with --device cuda: the heads' initial fits, the windows drawn
  // per step, the schedule, validation on the GPU after each epoch, and the checkpoints.
  const spike_train data = recording(3000);
  train_config t;
  t.batch = 4;
  t.epochs = 2;
  t.steps_per_epoch = 10;
  t.threads = 1;
  t.lr = 3e-3;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("gs-test-pred-cuda-{}", getpid());
  training_state cpu = start_training(data, unfitted_config(), t), gpu = start_training(data, unfitted_config(), t);
  continue_training(cpu, data, dir / "cpu");
  continue_training(gpu, data, dir / "gpu", {}, "cuda");
  REQUIRE(gpu.history.size() == 2);
  for (std::size_t e = 0; e < 2; ++e) {
    INFO("epoch " << e + 1);
    CHECK(gpu.history[e].train_nll == doctest::Approx(cpu.history[e].train_nll).epsilon(1e-4));
    CHECK(gpu.history[e].validation.nll() == doctest::Approx(cpu.history[e].validation.nll()).epsilon(1e-4));
    CHECK(gpu.history[e].validation.events == cpu.history[e].validation.events);
  }
  CHECK(gpu.optimizer.steps == cpu.optimizer.steps);
  training_state back = load_checkpoint(dir / "gpu" / "GiT2.model", true);
  const auto mine = gpu.model.parameters(), theirs = back.model.parameters();
  for (std::size_t k = 0; k < mine.size(); ++k) CHECK(mine[k]->value == theirs[k]->value);
  CHECK(back.optimizer.steps == gpu.optimizer.steps);
  MESSAGE(fmt::format("train NLL per event by epoch: GPU {:.6f}, {:.6f}; CPU {:.6f}, {:.6f}", gpu.history[0].train_nll,
                      gpu.history[1].train_nll, cpu.history[0].train_nll, cpu.history[1].train_nll));
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}
