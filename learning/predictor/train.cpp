#include "learning/predictor/train.hpp"

#include <fmt/format.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>

#include "io/staged_file.hpp"
#ifdef GILLESPIKE_HAVE_CUDA
#include "learning/predictor/cuda_model.hpp"
#endif

namespace gs::predictor {

namespace fs = std::filesystem;
using nlohmann::json;

json to_json(const train_config& c) {
  return {{"batch", c.batch},
          {"epochs", c.epochs},
          {"steps_per_epoch", c.steps_per_epoch},
          {"lr", c.lr},
          {"warmup_fraction", c.warmup_fraction},
          {"final_lr_fraction", c.final_lr_fraction},
          {"weight_decay", c.weight_decay},
          {"clip", c.clip},
          {"train_fraction", c.train_fraction},
          {"val_fraction", c.val_fraction},
          {"seed", c.seed},
          {"threads", c.threads}};
}

train_config train_config_from_json(const json& j, const std::string& source) {
  train_config c;
  const json defaults = to_json(c);
  for (const auto& [key, value] : j.items()) {
    if (!defaults.contains(key))
      throw data_error(fmt::format("{}: unknown training setting '{}' (known: {})", source, key,
                                   [&] {
                                     std::string names;
                                     for (const auto& [k, v] : defaults.items()) names += (names.empty() ? "" : ", ") + k;
                                     return names;
                                   }()));
  }
  auto get = [&](const char* key, auto& out) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(out);
    } catch (const json::exception&) {
      throw data_error(fmt::format("{}: training setting '{}' has the wrong type ({})", source, key, j.at(key).dump()));
    }
  };
  get("batch", c.batch);
  get("epochs", c.epochs);
  get("steps_per_epoch", c.steps_per_epoch);
  get("lr", c.lr);
  get("warmup_fraction", c.warmup_fraction);
  get("final_lr_fraction", c.final_lr_fraction);
  get("weight_decay", c.weight_decay);
  get("clip", c.clip);
  get("train_fraction", c.train_fraction);
  get("val_fraction", c.val_fraction);
  get("seed", c.seed);
  get("threads", c.threads);
  if (c.batch < 1 || c.epochs < 0 || c.steps_per_epoch < 0 || !(c.lr > 0) || c.warmup_fraction < 0 ||
      c.warmup_fraction > 1 || c.final_lr_fraction < 0 || c.weight_decay < 0 || c.threads < 0)
    throw data_error(fmt::format("{}: invalid training settings {}", source, to_json(c).dump()));
  return c;
}

json to_json(const epoch_summary& e) {
  return {{"epoch", e.epoch}, {"train_nll", e.train_nll}, {"validation", to_json(e.validation)},
          {"events_per_s", e.events_per_s}};
}

namespace {

nn::adamw_config adamw_of(const train_config& t) {
  nn::adamw_config a;
  a.lr = t.lr;
  a.weight_decay = t.weight_decay;
  return a;
}

// A well-mixed 64-bit hash: window starts are a pure function of (seed, step, slot), so a resumed
// run draws exactly the windows the uninterrupted run would have drawn.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Chunks of the batch that run in parallel; fixed, so that the sum of their gradients does not
// depend on the number of threads.
constexpr int max_chunks = 8;

std::int64_t steps_per_epoch(const train_config& t, const model_config& m, std::size_t train_events) {
  if (t.steps_per_epoch > 0) return t.steps_per_epoch;
  return std::max<std::int64_t>(1, std::int64_t(train_events) / (std::int64_t(t.batch) * m.context));
}

// The interval head starts as the training split's distribution of intervals, whatever the
// history: a mixture of Gaussians fitted by EM to the standardised log intervals, in the head's
// bias (weight logits, means, log standard deviations), so training starts from the marginal
// interval distribution rather than a random density.
void fit_interval_start(spike_transformer<float>& model, const event_sequence& seq, std::size_t end) {
  const int K = model.cfg.components;
  std::vector<double> z;
  for (std::size_t i = 1; i < end; ++i) z.push_back((std::log(seq.tau[i]) - model.cfg.log_tau_shift) / model.cfg.log_tau_scale);
  std::vector<double> sorted = z;
  std::sort(sorted.begin(), sorted.end());
  const auto k_count = std::size_t(K);
  std::vector<double> w(k_count, 1.0 / K), mu(k_count, 0.0), var(k_count, 0.25), r(k_count, 0.0);
  for (int k = 0; k < K; ++k) mu[std::size_t(k)] = sorted[std::size_t((k + 0.5) / K * double(sorted.size()))];
  for (int it = 0; it < 50; ++it) {
    std::vector<double> sw(k_count, 0.0), sz(k_count, 0.0), szz(k_count, 0.0);
    for (double x : z) {
      double top = -1e300;
      for (std::size_t k = 0; k < r.size(); ++k) {
        r[k] = std::log(w[k]) - 0.5 * (x - mu[k]) * (x - mu[k]) / var[k] - 0.5 * std::log(var[k]);
        top = std::max(top, r[k]);
      }
      double sum = 0;
      for (double& v : r) sum += (v = std::exp(v - top));
      for (std::size_t k = 0; k < r.size(); ++k) {
        sw[k] += r[k] / sum;
        sz[k] += r[k] / sum * x;
        szz[k] += r[k] / sum * x * x;
      }
    }
    for (std::size_t k = 0; k < r.size(); ++k) {
      w[k] = std::max(sw[k] / double(z.size()), 1e-6);
      mu[k] = sw[k] > 0 ? sz[k] / sw[k] : mu[k];
      var[k] = sw[k] > 0 ? std::max(szz[k] / sw[k] - mu[k] * mu[k], 1e-4) : var[k];
    }
  }
  for (int k = 0; k < K; ++k) {
    model.time_out.b.value(0, k) = float(std::log(w[std::size_t(k)]));
    model.time_out.b.value(0, K + k) = float(mu[std::size_t(k)]);
    model.time_out.b.value(0, 2 * K + k) = float(0.5 * std::log(var[std::size_t(k)]));
  }
}

// The spike-history term starts at what the training split says: at each knot and for each
// population, the log of how often a neuron that fired at that age before is the next to fire,
// over how often the Poisson baseline (probabilities p0) expects it, both counted with the term's
// own hat weights over the windows training sees (half a count added to each, so a knot where
// neurons never fire again starts large and negative rather than infinite).
void fit_history_start(spike_transformer<float>& model, const event_sequence& seq, std::size_t end,
                       const std::vector<double>& p0) {
  auto& coef = model.history.coef.value;
  if (coef.size() == 0) return;
  Eigen::ArrayXXd hits = Eigen::ArrayXXd::Zero(coef.rows(), coef.cols()), expected = hits;
  const std::size_t L = std::size_t(model.cfg.context);
  for (std::size_t s = 1; s + L < end; s += L) {
    const window w = window_at(seq, s, L);
    model.history.visit(w.ids, w.tau, [&](std::size_t i, std::size_t k, int b, double weight) {
      const int n = w.ids[k], p = model.history.population(n);
      hits(p, b) += weight * (w.next_ids[i] == n);
      expected(p, b) += weight * p0[std::size_t(n)];
    });
  }
  coef = ((hits + 0.5) / (expected + 0.5)).log().cast<float>().matrix();
}

}  // namespace

training_state::training_state(spike_transformer<float> m, const train_config& t)
    : model(std::move(m)), optimizer(model.parameters(), adamw_of(t)), train(t) {}

model_config fit_model_config(model_config c, const spike_train& data, const split& s) {
  c.populations = data.populations;
  double sum = 0, sq = 0;
  std::size_t n = 0;
  for (std::size_t i = 1; i < s.train_end; ++i) {
    const double y = std::log(std::max(data.t_ms[i] - data.t_ms[i - 1], c.min_interval_ms));
    sum += y;
    sq += y * y;
    ++n;
  }
  if (n < 2) throw data_error(fmt::format("{}: the training split has {} events; too few", data.source, s.train_end));
  c.log_tau_shift = sum / double(n);
  c.log_tau_scale = std::max(std::sqrt(std::max(sq / double(n) - c.log_tau_shift * c.log_tau_shift, 0.0)), 1e-3);
  const double mean_interval = std::max((data.t_ms[s.train_end - 1] - data.t_ms[0]) / double(n), c.min_interval_ms);
  c.history_min_ms = mean_interval;
  c.history_max_ms = mean_interval * std::max(c.context, 2);
  return c;
}

training_state start_training(const spike_train& data, const model_config& c, const train_config& t) {
  const split s = chronological_split(data.size(), t.train_fraction, t.val_fraction);
  spike_transformer<float> model(fit_model_config(c, data, s), t.seed);
  // The neuron head starts as the Poisson baseline: its bias is log P(neuron) over the training
  // split (a silent neuron counted as half a spike, as in poisson_baseline), so training spends its
  // steps on what the history adds rather than on learning firing rates.
  std::vector<double> count(std::size_t(model.cfg.vocabulary()), 0.0);
  for (std::size_t k = 0; k < s.train_end; ++k) count[std::size_t(data.ids[k])] += 1;
  for (double& c : count) c = std::max(c, 0.5);
  const double total = std::accumulate(count.begin(), count.end(), 0.0);
  for (std::size_t n = 0; n < count.size(); ++n)
    model.mark_out.b.value(0, Eigen::Index(n)) = float(std::log(count[n] / total));
  // The heads' weights start at zero, so that the untrained model is exactly these fits (random
  // weights would add noise to every logit); their gradients are not zero, so they still learn.
  model.mark_out.W.value.setZero();
  model.time_out.W.value.setZero();
  const event_sequence seq = to_events(data, model.cfg.min_interval_ms);
  fit_interval_start(model, seq, s.train_end);
  std::vector<double> p0(count.size());
  for (std::size_t n = 0; n < count.size(); ++n) p0[n] = count[n] / total;
  fit_history_start(model, seq, s.train_end, p0);
  return training_state(std::move(model), t);
}

void continue_training(training_state& state, const spike_train& data, const fs::path& out_dir,
                       const train_progress& progress, const std::string& device) {
  using clock = std::chrono::steady_clock;
  const train_config& t = state.train;
  const model_config& mc = state.model.cfg;
  const split s = chronological_split(data.size(), t.train_fraction, t.val_fraction);
  const event_sequence seq = to_events(data, mc.min_interval_ms);
  const std::size_t L = std::size_t(mc.context);
  // Windows start at 1 .. train_end - 1 - L, so that all their targets are training events.
  if (s.train_end < L + 3)
    throw data_error(fmt::format("{}: the training split has {} events; a window of context {} needs at least {}",
                                 data.source, s.train_end, L, L + 3));
  const std::uint64_t starts = s.train_end - 2 - L;
  const std::int64_t per_epoch = steps_per_epoch(t, mc, s.train_end);
  const nn::lr_schedule schedule{t.lr, std::int64_t(std::llround(t.warmup_fraction * double(per_epoch * t.epochs))),
                                 per_epoch * t.epochs, t.final_lr_fraction};

  const int chunks = std::min(t.batch, max_chunks);
  std::vector<spike_transformer<float>> workers(std::size_t(chunks), state.model);
  std::vector<nn::param_list<float>> worker_params;
  for (auto& w : workers) worker_params.push_back(w.parameters());
  const nn::param_list<float> params = state.model.parameters();
  std::vector<double> chunk_loss(static_cast<std::size_t>(chunks));
  const float weight = 1.0f / float(std::size_t(t.batch) * L);
  const std::vector<float> dloss(L, weight);
  tbb::task_arena arena(t.threads > 0 ? t.threads : tbb::task_arena::automatic);
  auto window_start = [&](int b) {
    const std::uint64_t h = splitmix64(t.seed ^ splitmix64(std::uint64_t(state.step) * 65537u + std::uint64_t(b)));
    return 1 + h % starts;
  };
  if (device != "cpu" && device != "cuda")
    throw data_error(fmt::format("device '{}': expected cpu or cuda", device));
#ifdef GILLESPIKE_HAVE_CUDA
  std::unique_ptr<cuda_model> gpu;
  if (device == "cuda") gpu = std::make_unique<cuda_model>(state.model, &state.optimizer, seq, t.batch);
  std::vector<std::uint64_t> gpu_starts(std::size_t(t.batch));
#else
  if (device == "cuda") throw data_error("device 'cuda': this build has no CUDA");
#endif
  // One optimizer step on the CPU; returns the batch's summed NLL.
  auto cpu_step = [&] {
    arena.execute([&] {
      tbb::parallel_for(0, chunks, [&](int c) {
        auto& w = workers[std::size_t(c)];
        nn::copy_values(params, worker_params[std::size_t(c)]);
        nn::zero_grad(worker_params[std::size_t(c)]);
        double sum = 0;
        for (int b = c * t.batch / chunks; b < (c + 1) * t.batch / chunks; ++b) {
          const auto out = w.forward(window_at(seq, window_start(b), L));
          for (std::size_t i = 0; i < L; ++i) sum += double(out.time[i]) + double(out.mark[i]);
          w.backward(dloss, dloss);
        }
        chunk_loss[std::size_t(c)] = sum;
      }, tbb::simple_partitioner());
    });
    for (std::size_t p = 0; p < params.size(); ++p) {
      params[p]->grad = worker_params[0][p]->grad;
      for (int c = 1; c < chunks; ++c) params[p]->grad += worker_params[std::size_t(c)][p]->grad;
    }
    nn::clip_grad_norm(params, t.clip);
    state.optimizer.step(params, schedule(state.step));
    double sum = 0;
    for (double l : chunk_loss) sum += l;
    return sum;
  };

  fs::create_directories(out_dir);
  while (state.epoch < t.epochs) {
    const auto t0 = clock::now();
    double loss_sum = 0;
    for (std::int64_t k = 0; k < per_epoch; ++k) {
#ifdef GILLESPIKE_HAVE_CUDA
      if (gpu) {
        for (int b = 0; b < t.batch; ++b) gpu_starts[std::size_t(b)] = window_start(b);
        const auto l = gpu->forward_backward(gpu_starts, weight);
        loss_sum += l.time + l.mark;
        gpu->step(schedule(state.step), t.clip);
      } else {
        loss_sum += cpu_step();
      }
#else
      loss_sum += cpu_step();
#endif
      ++state.step;
      const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
      if (progress)
        progress(state.epoch + 1, k + 1, per_epoch, loss_sum / double((k + 1) * t.batch * std::int64_t(L)),
                 double((k + 1) * t.batch * std::int64_t(L)) / elapsed);
    }
#ifdef GILLESPIKE_HAVE_CUDA
    if (gpu) gpu->download(state.model, state.optimizer);  // for the checkpoint
#endif
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    epoch_summary e;
    e.epoch = ++state.epoch;
    e.train_nll = loss_sum / double(per_epoch * t.batch * std::int64_t(L));
    e.events_per_s = double(per_epoch * t.batch * std::int64_t(L)) / elapsed;
#ifdef GILLESPIKE_HAVE_CUDA
    e.validation = summarise(gpu ? score_model_cuda(state.model, seq, s.train_end, s.val_end, mc.context / 2)
                                 : score_model(state.model, seq, s.train_end, s.val_end, mc.context / 2, t.threads));
#else
    e.validation = summarise(score_model(state.model, seq, s.train_end, s.val_end, mc.context / 2, t.threads));
#endif
    state.history.push_back(e);
    save_checkpoint(state, out_dir);
  }
}

// ---- checkpoints: a text line naming the format, one line of JSON, then float64 values.

namespace {

constexpr const char* model_magic = "gillespike-predictor-model 2";
constexpr const char* optim_magic = "gillespike-predictor-optimizer 2";

json shapes(const nn::param_list<float>& ps) {
  json a = json::array();
  for (const auto* p : ps) a.push_back({p->name, p->value.rows(), p->value.cols()});
  return a;
}

void write_file(const fs::path& path, const char* magic, const json& header,
                const std::vector<const nn::mat<float>*>& arrays) {
  io::staged_file staged(path);
  {
    std::ofstream out(staged.temp(), std::ios::binary);
    out << magic << '\n' << header.dump() << '\n';
    for (const auto* a : arrays) {
      const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> d = a->cast<double>();
      out.write(reinterpret_cast<const char*>(d.data()), std::streamsize(d.size() * sizeof(double)));
    }
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  }
  staged.commit();
}

struct reader {
  fs::path path;
  std::ifstream in;
  json header;

  reader(const fs::path& p, const char* magic) : path(p), in(p, std::ios::binary) {
    if (!in) throw data_error(fmt::format("{}: cannot open", p.string()));
    std::string line;
    if (!std::getline(in, line) || line != magic)
      throw data_error(fmt::format("{}: expected a file starting '{}', found '{}'", p.string(), magic,
                                   line.substr(0, 60)));
    if (!std::getline(in, line)) throw data_error(fmt::format("{}: header missing", p.string()));
    try {
      header = json::parse(line);
    } catch (const json::exception& e) {
      throw data_error(fmt::format("{}: header is not JSON: {}", p.string(), e.what()));
    }
  }
  void read_into(nn::mat<float>& m) {
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> d(m.rows(), m.cols());
    if (!in.read(reinterpret_cast<char*>(d.data()), std::streamsize(d.size() * sizeof(double))))
      throw data_error(fmt::format("{}: truncated (fewer values than its header lists)", path.string()));
    m = d.cast<float>();
  }
  void require_end() {
    if (in.peek() != std::char_traits<char>::eof())
      throw data_error(fmt::format("{}: more values than its header lists", path.string()));
  }
};

void require_shapes(const json& found, const nn::param_list<float>& ps, const fs::path& path) {
  if (found != shapes(ps))
    throw data_error(fmt::format("{}: parameter list does not match the model its header describes", path.string()));
}

}  // namespace

void save_checkpoint(training_state& state, const fs::path& out_dir) {
  const nn::param_list<float> ps = state.model.parameters();
  std::vector<const nn::mat<float>*> values;
  for (const auto* p : ps) values.push_back(&p->value);
  json history = json::array();
  for (const auto& e : state.history) history.push_back(to_json(e));
  const std::string stem = fmt::format("GiT{}", state.epoch);
  write_file(out_dir / (stem + ".model"), model_magic,
             {{"model", to_json(state.model.cfg)},
              {"epoch", state.epoch},
              {"split", {{"train_fraction", state.train.train_fraction}, {"val_fraction", state.train.val_fraction}}},
              {"parameters", shapes(ps)}},
             values);
  std::vector<const nn::mat<float>*> moments;
  for (const auto& m : state.optimizer.m) moments.push_back(&m);
  for (const auto& v : state.optimizer.v) moments.push_back(&v);
  write_file(out_dir / (stem + ".optim"), optim_magic,
             {{"train", to_json(state.train)},
              {"epoch", state.epoch},
              {"step", state.step},
              {"adamw_steps", state.optimizer.steps},
              {"history", history},
              {"parameters", shapes(ps)}},
             moments);
}

training_state load_checkpoint(const fs::path& model_file, bool with_optimizer) {
  reader r(model_file, model_magic);
  const model_config mc = model_config_from_json(r.header.value("model", json::object()), model_file.string());
  train_config tc;
  json optim_header;
  fs::path optim_file = model_file;
  optim_file.replace_extension(".optim");
  std::optional<reader> o;
  if (with_optimizer) {
    o.emplace(optim_file, optim_magic);
    tc = train_config_from_json(o->header.value("train", json::object()), optim_file.string());
  } else {
    // Enough of the training settings to reproduce the split the model was trained on.
    tc = train_config_from_json(r.header.value("split", json::object()), model_file.string());
  }
  training_state state(spike_transformer<float>(mc, tc.seed), tc);
  const nn::param_list<float> ps = state.model.parameters();
  require_shapes(r.header.value("parameters", json()), ps, model_file);
  for (auto* p : ps) r.read_into(p->value);
  r.require_end();
  state.epoch = r.header.value("epoch", 0);
  if (o) {
    require_shapes(o->header.value("parameters", json()), ps, optim_file);
    if (o->header.value("epoch", -1) != state.epoch)
      throw data_error(fmt::format("{}: epoch {} does not match {} (epoch {})", optim_file.string(),
                                   o->header.value("epoch", -1), model_file.string(), state.epoch));
    for (auto& m : state.optimizer.m) o->read_into(m);
    for (auto& v : state.optimizer.v) o->read_into(v);
    o->require_end();
    state.step = o->header.value("step", std::int64_t(0));
    state.optimizer.steps = o->header.value("adamw_steps", std::int64_t(0));
    for (const auto& e : o->header.value("history", json::array())) {
      epoch_summary s;
      s.epoch = e.value("epoch", 0);
      s.train_nll = e.value("train_nll", 0.0);
      s.events_per_s = e.value("events_per_s", 0.0);
      s.validation = metrics_from_json(e.value("validation", json::object()));
      state.history.push_back(s);
    }
  }
  return state;
}

}  // namespace gs::predictor
