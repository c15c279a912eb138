// Held-out evaluation of next-spike predictors with one set of metrics: negative log-likelihood per
// event (interval part and neuron part), top-1 and top-5 next-neuron accuracy, interval MAE and
// RMSE of the predicted mean interval, and the Kolmogorov-Smirnov statistic of the time-rescaled
// intervals u = F(tau | history), uniform on (0, 1) when the interval model is right.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <vector>

#include "learning/predictor/model.hpp"

namespace gs::predictor {

struct metrics {
  std::size_t events = 0;
  double nll_time = 0, nll_mark = 0;  // nats per event; time density per ms
  double top1 = 0, top5 = 0;
  double mae_ms = 0, rmse_ms = 0;
  double ks = 0;
  double nll() const { return nll_time + nll_mark; }
};
nlohmann::json to_json(const metrics& m);
metrics metrics_from_json(const nlohmann::json& j);

// What one predictor says about one held-out event.
struct event_score {
  double nll_time = 0, nll_mark = 0;
  int rank = 0;  // neurons given a strictly higher probability than the one that fired
  int ties = 0;  // other neurons given exactly its probability: top-k counts them as a fair draw
  double predicted_ms = 0, actual_ms = 0;
  double u = 0;  // predicted CDF of the interval at the observed interval
};
metrics summarise(const std::vector<event_score>& scores);

// Scores events [first, end) of seq (first >= 2), each predicted from at least context - stride
// earlier events (fewer only at the start of the recording): windows of up to `context` tokens
// advance by `stride` and score their last `stride` targets. Windows run in parallel on up to
// `threads` threads (0: all), each on its own copy of the model; the result does not depend on it.
template <class T>
std::vector<event_score> score_model(const spike_transformer<T>& model, const event_sequence& seq, std::size_t first,
                                     std::size_t end, int stride, int threads);

#ifdef GILLESPIKE_HAVE_CUDA
// score_model on the GPU (cuda_model.hpp): the windows of a whole context in batches there, the few
// shorter ones at the recording's start on the CPU; the same scores up to float32 rounding.
std::vector<event_score> score_model_cuda(const spike_transformer<float>& model, const event_sequence& seq,
                                          std::size_t first, std::size_t end, int stride);
#endif

// Homogeneous Poisson process per neuron: the maximum-likelihood rate of neuron n is its spike
// count over the fitted span. Pooled, the next interval is exponential with the total rate and
// the next neuron is n with probability rate_n / total.
struct poisson_baseline {
  std::vector<double> rate_per_ms;
  // Events [begin, end) of the train; the span is t[end - 1] - t[begin]. A neuron silent there
  // gets half a spike's rate, so that held-out spikes of it have a finite likelihood.
  static poisson_baseline fit(const spike_train& train, std::size_t begin, std::size_t end);
  std::vector<event_score> score(const event_sequence& seq, std::size_t first, std::size_t end) const;
};

}  // namespace gs::predictor
