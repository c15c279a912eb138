#include "learning/predictor/evaluate.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <numeric>

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

template <class T>
std::vector<event_score> score_model(const spike_transformer<T>& model, const event_sequence& seq, std::size_t first,
                                     std::size_t end, int stride, int threads) {
  first = std::max<std::size_t>(first, 2);
  end = std::min(end, seq.ids.size());
  if (first >= end) return {};
  const std::size_t context = std::size_t(model.cfg.context);
  const std::size_t step = std::clamp<std::size_t>(std::size_t(std::max(stride, 1)), 1, context);
  // Window w scores targets [first + w * step, min(end, first + (w + 1) * step)), reading tokens
  // from max(1, last target - context) on.
  const std::size_t windows = (end - first + step - 1) / step;
  std::vector<event_score> scores(end - first);
  tbb::enumerable_thread_specific<spike_transformer<T>> copies(model);
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(std::size_t(0), windows, [&](std::size_t w) {
      spike_transformer<T>& m = copies.local();
      const std::size_t lo = first + w * step, hi = std::min(end, lo + step);
      const std::size_t start = hi - 1 > context ? hi - 1 - context : 1;
      const std::size_t n = hi - 1 - start;
      const auto out = m.forward(window_at(seq, start, n));
      const auto& probs = m.mark_probabilities();
      for (std::size_t j = lo; j < hi; ++j) {
        const auto i = Eigen::Index(j - 1 - start);  // position whose target is event j
        event_score& s = scores[j - first];
        s.nll_time = double(out.time[std::size_t(i)]);
        s.nll_mark = double(out.mark[std::size_t(i)]);
        const T p = probs(i, seq.ids[j]);
        s.rank = int((probs.row(i).array() > p).count());
        s.ties = int((probs.row(i).array() == p).count()) - 1;
        const auto mix = m.interval_mixture(i);
        s.predicted_ms = mix.mean();
        s.actual_ms = seq.tau[j];
        s.u = mix.cdf(seq.tau[j]);
      }
    });
  });
  return scores;
}

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
