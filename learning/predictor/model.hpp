// The next-spike transformer: a causal transformer over spike events whose token is a neuron's
// embedding plus an encoding of the log interval since the previous event, with two heads per
// position: a softmax over neurons for the next spike's neuron and a log-normal mixture for the
// interval to it. Together they give the exact negative log-likelihood of a marked temporal point
// process, -log p(tau) - log P(neuron), per event.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <vector>

#include "learning/nn/layers.hpp"
#include "learning/predictor/spike_data.hpp"

namespace gs::predictor {

struct model_config {
  int width = 32, blocks = 2, heads = 4, mlp_ratio = 4;
  int context = 64;      // events per training window and evaluation context
  int components = 8;    // of the log-normal mixture
  int frequencies = 8;   // sinusoid pairs encoding the log interval
  double min_interval_ms = 1e-4;  // zero intervals (equal times) are raised to this: log 0 has no density
  // From the training split: log intervals (ms) are standardised as (log tau - shift) / scale.
  double log_tau_shift = 0, log_tau_scale = 1;
  std::vector<population_range> populations;  // the vocabulary
  int vocabulary() const { return populations.empty() ? 0 : populations.back().offset + populations.back().size; }
};
nlohmann::json to_json(const model_config& c);
// Throws data_error naming `source` for a missing or invalid entry.
model_config model_config_from_json(const nlohmann::json& j, const std::string& source);

// Events as the model sees them: token ids and the interval before each event (ms, floored at
// min_interval_ms; tau[0] is undefined, so windows start at index 1).
struct event_sequence {
  std::vector<int> ids;
  std::vector<double> tau;
  std::size_t clamped = 0;  // intervals raised to min_interval_ms
};
event_sequence to_events(const spike_train& train, double min_interval_ms);

// Tokens start .. start + n - 1 predicting events start + 1 .. start + n.
struct window {
  std::span<const int> ids, next_ids;
  std::span<const double> tau, next_tau;
};
window window_at(const event_sequence& seq, std::size_t start, std::size_t n);

template <class T>
class spike_transformer {
 public:
  model_config cfg;
  nn::embedding<T> token;
  nn::linear<T> time_in;
  std::vector<nn::transformer_block<T>> blocks;
  nn::layer_norm<T> ln_f;
  nn::linear<T> mark_out, time_out;
  nn::softmax_cross_entropy<T> mark_nll;
  nn::lognormal_mixture<T> interval;

  // Copies are independent models (layers own their parameters): one per worker thread.
  spike_transformer(const model_config& c, std::uint64_t seed);

  struct nll {
    std::vector<T> time, mark;  // per position, nats
  };
  nll forward(const window& w);
  // d(total)/d(nll.time[i]) and d(total)/d(nll.mark[i]); accumulates into the parameters' grads.
  void backward(std::span<const T> dtime, std::span<const T> dmark);
  nn::param_list<T> parameters();

  // After forward: P(next neuron) per position, and the interval mixture's parameters.
  const nn::mat<T>& mark_probabilities() const { return mark_nll.probabilities(); }
  typename nn::lognormal_mixture<T>::mixture interval_mixture(Eigen::Index i) const {
    return interval.row(mix_params_, i);
  }

  // The fixed (untrained) encoding of a log interval: z, then sin and cos of z times 2^(f-2).
  nn::mat<T> time_features(std::span<const double> tau) const;

 private:
  nn::mat<T> mix_params_;
};

}  // namespace gs::predictor
