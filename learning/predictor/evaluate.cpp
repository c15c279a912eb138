#include "learning/predictor/evaluate.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

#ifdef GILLESPIKE_HAVE_CUDA
#include "learning/predictor/cuda_model.hpp"
#endif

namespace gs::predictor {

nlohmann::json to_json(const metrics& m) {
  return {{"events", m.events},   {"nll_per_event", m.nll()}, {"nll_time", m.nll_time}, {"nll_mark", m.nll_mark},
          {"top1", m.top1},       {"top5", m.top5},           {"interval_mae_ms", m.mae_ms},
          {"interval_rmse_ms", m.rmse_ms}, {"ks_time_rescaling", m.ks}};
}

metrics metrics_from_json(const nlohmann::json& j) {
  metrics m;
  m.events = j.value("events", std::size_t(0));
  m.nll_time = j.value("nll_time", 0.0);
  m.nll_mark = j.value("nll_mark", 0.0);
  m.top1 = j.value("top1", 0.0);
  m.top5 = j.value("top5", 0.0);
  m.mae_ms = j.value("interval_mae_ms", 0.0);
  m.rmse_ms = j.value("interval_rmse_ms", 0.0);
  m.ks = j.value("ks_time_rescaling", 0.0);
  return m;
}

metrics summarise(const std::vector<event_score>& scores) {
  metrics m;
  m.events = scores.size();
  if (scores.empty()) return m;
  double se = 0;
  std::vector<double> u;
  u.reserve(scores.size());
  for (const auto& s : scores) {
    m.nll_time += s.nll_time;
    m.nll_mark += s.nll_mark;
    // Expected top-k hit when equally probable neurons are ordered at random.
    auto top = [&](int k) { return std::clamp(double(k - s.rank) / double(s.ties + 1), 0.0, 1.0); };
    m.top1 += top(1);
    m.top5 += top(5);
    m.mae_ms += std::abs(s.predicted_ms - s.actual_ms);
    se += (s.predicted_ms - s.actual_ms) * (s.predicted_ms - s.actual_ms);
    u.push_back(s.u);
  }
  const double n = double(scores.size());
  m.nll_time /= n;
  m.nll_mark /= n;
  m.top1 /= n;
  m.top5 /= n;
  m.mae_ms /= n;
  m.rmse_ms = std::sqrt(se / n);
  // Two-sided KS distance of the empirical CDF of u from the uniform CDF.
  std::sort(u.begin(), u.end());
  for (std::size_t k = 0; k < u.size(); ++k)
    m.ks = std::max({m.ks, double(k + 1) / n - u[k], u[k] - double(k) / n});
  return m;
}

namespace {

// score_model's sliding windows: each scores targets [lo, hi) from the tokens start .. hi - 2 (at
// most `context` of them); together they cover targets [first, first + events).
struct scored_window {
  std::size_t lo, hi, start;
};
struct window_plan {
  std::size_t first = 0, events = 0, step = 1;
  std::vector<scored_window> windows;
};
window_plan plan_windows(std::size_t first, std::size_t end, std::size_t n_events, std::size_t context, int stride) {
  window_plan p;
  p.first = std::max<std::size_t>(first, 2);
  end = std::min(end, n_events);
  if (p.first >= end) return p;
  p.events = end - p.first;
  p.step = std::clamp<std::size_t>(std::size_t(std::max(stride, 1)), 1, context);
  for (std::size_t lo = p.first; lo < end; lo += p.step) {
    const std::size_t hi = std::min(end, lo + p.step);
    p.windows.push_back({lo, hi, hi - 1 > context ? hi - 1 - context : 1});
  }
  return p;
}

// One event from its position's prediction: the neuron probabilities (one per token), the
// interval mixture and the two NLL parts.
template <class T, class Mixture>
event_score score_event(std::span<const T> probs, const Mixture& mix, double nll_time, double nll_mark, int target,
                        double tau) {
  event_score s;
  s.nll_time = nll_time;
  s.nll_mark = nll_mark;
  const T p = probs[std::size_t(target)];
  s.rank = int(std::count_if(probs.begin(), probs.end(), [&](T q) { return q > p; }));
  s.ties = int(std::count(probs.begin(), probs.end(), p)) - 1;
  s.predicted_ms = mix.mean();
  s.actual_ms = tau;
  s.u = mix.cdf(tau);
  return s;
}

template <class T>
void score_window_cpu(spike_transformer<T>& m, const event_sequence& seq, const scored_window& win, std::size_t first,
                      std::vector<event_score>& scores) {
  const auto out = m.forward(window_at(seq, win.start, win.hi - 1 - win.start));
  const auto& probs = m.mark_probabilities();
  for (std::size_t j = win.lo; j < win.hi; ++j) {
    const auto i = Eigen::Index(j - 1 - win.start);  // position whose target is event j
    scores[j - first] = score_event(std::span<const T>(probs.row(i).data(), std::size_t(probs.cols())),
                                    m.interval_mixture(i), double(out.time[std::size_t(i)]),
                                    double(out.mark[std::size_t(i)]), seq.ids[j], seq.tau[j]);
  }
}

}  // namespace

template <class T>
std::vector<event_score> score_model(const spike_transformer<T>& model, const event_sequence& seq, std::size_t first,
                                     std::size_t end, int stride, int threads) {
  const window_plan plan = plan_windows(first, end, seq.ids.size(), std::size_t(model.cfg.context), stride);
  std::vector<event_score> scores(plan.events);
  tbb::enumerable_thread_specific<spike_transformer<T>> copies(model);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(std::size_t(0), plan.windows.size(), [&](std::size_t w) {
      score_window_cpu(copies.local(), seq, plan.windows[w], plan.first, scores);
    });
  });
  return scores;
}

#ifdef GILLESPIKE_HAVE_CUDA
std::vector<event_score> score_model_cuda(const spike_transformer<float>& model, const event_sequence& seq,
                                          std::size_t first, std::size_t end, int stride) {
  const std::size_t context = std::size_t(model.cfg.context);
  const window_plan plan = plan_windows(first, end, seq.ids.size(), context, stride);
  const std::size_t step = plan.step;
  std::vector<event_score> scores(plan.events);
  spike_transformer<float> m = model;
  // About 16k positions per call (32 windows of the reference context 512), as a training batch.
  const std::size_t batch = std::max<std::size_t>(1, 16384 / context);
  std::vector<scored_window> full;
  for (const scored_window& win : plan.windows) {
    if (win.hi - 1 - win.start == context) full.push_back(win);
    else score_window_cpu(m, seq, win, plan.first, scores);  // the few at the recording's start
  }
  if (full.empty()) return scores;
  cuda_model gpu(m, nullptr, seq, int(std::min(batch, full.size())));
  const std::size_t V = std::size_t(m.cfg.vocabulary()), M = 3 * std::size_t(m.cfg.components);
  nn::mat<float> row(1, Eigen::Index(M));
  for (std::size_t b = 0; b < full.size(); b += batch) {
    const std::size_t n = std::min(batch, full.size() - b);
    std::vector<std::uint64_t> starts;
    for (std::size_t k = b; k < b + n; ++k) starts.push_back(full[k].start);
    // The last `step` positions of each window: those its targets are scored at.
    const auto p = gpu.predict(starts, int(step));
    for (std::size_t k = 0; k < n; ++k) {
      const scored_window& win = full[b + k];
      for (std::size_t j = win.lo; j < win.hi; ++j) {
        const std::size_t r = k * step + (j - 1 - win.start) - (context - step);
        std::copy_n(p.mixture.begin() + std::ptrdiff_t(r * M), M, row.data());
        scores[j - plan.first] =
            score_event(std::span<const float>(p.probabilities).subspan(r * V, V), m.interval.row(row, 0),
                        double(p.time[r]), double(p.mark[r]), seq.ids[j], seq.tau[j]);
      }
    }
  }
  return scores;
}
#endif

template std::vector<event_score> score_model<float>(const spike_transformer<float>&, const event_sequence&,
                                                     std::size_t, std::size_t, int, int);
template std::vector<event_score> score_model<double>(const spike_transformer<double>&, const event_sequence&,
                                                      std::size_t, std::size_t, int, int);

poisson_baseline poisson_baseline::fit(const spike_train& train, std::size_t begin, std::size_t end) {
  poisson_baseline p;
  const int V = train.vocabulary();
  std::vector<double> counts(std::size_t(V), 0.0);
  for (std::size_t k = begin; k < end; ++k) counts[std::size_t(train.ids[k])] += 1;
  const double span = train.t_ms[end - 1] - train.t_ms[begin];
  p.rate_per_ms.resize(std::size_t(V));
  for (int n = 0; n < V; ++n) p.rate_per_ms[std::size_t(n)] = std::max(counts[std::size_t(n)], 0.5) / span;
  return p;
}

std::vector<event_score> poisson_baseline::score(const event_sequence& seq, std::size_t first, std::size_t end) const {
  first = std::max<std::size_t>(first, 2);  // the events score_model can score
  const double total = std::accumulate(rate_per_ms.begin(), rate_per_ms.end(), 0.0);
  std::vector<event_score> scores;
  for (std::size_t j = first; j < end; ++j) {
    event_score s;
    const double tau = seq.tau[j], r = rate_per_ms[std::size_t(seq.ids[j])];
    s.nll_time = -std::log(total) + total * tau;
    s.nll_mark = -std::log(r / total);
    s.rank = int(std::count_if(rate_per_ms.begin(), rate_per_ms.end(), [&](double q) { return q > r; }));
    s.ties = int(std::count(rate_per_ms.begin(), rate_per_ms.end(), r)) - 1;
    s.predicted_ms = 1 / total;
    s.actual_ms = tau;
    s.u = -std::expm1(-total * tau);
    scores.push_back(s);
  }
  return scores;
}

}  // namespace gs::predictor
