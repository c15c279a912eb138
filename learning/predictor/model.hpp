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
  int history_basis = 12;  // knots of the spike-history term of the neuron head; 0: none
  double min_interval_ms = 1e-4;  // zero intervals (equal times) are raised to this: log 0 has no density
  // From the training split: log intervals (ms) are standardised as (log tau - shift) / scale.
  double log_tau_shift = 0, log_tau_scale = 1;
  // From the training split: the spike-history knots run geometrically from the mean interval to
  // context mean intervals, the span of a window.
  double history_min_ms = 1, history_max_ms = 100;
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

// The spike-history term of the neuron head: to the logit of neuron n at position i it adds
// g_p(t_i - t_k) for every spike k <= i of n in the window, p the population of n, with
// g_p(a) = sum_b coef[p, b] hat_b(log a) piecewise linear in log a between geometric knots
// (flat below the first, falling to 0 one knot spacing past the last). A width-32 state cannot
// say which of thousands of neurons fired in the last few hundred events; this term can, so
// refractoriness and self-excitation need no capacity from the transformer.
template <class T>
class spike_history {
 public:
  nn::param<T> coef;  // populations x basis
  spike_history() = default;
  explicit spike_history(const model_config& c);
  void forward(nn::mat<T>& logits, std::span<const int> ids, std::span<const double> tau);  // adds in place
  void backward(const nn::mat<T>& dlogits);  // the ids and times are not differentiable

  // Calls f(i, k, b, weight) for every nonzero hat value of a pair (position i >= first, token
  // k <= i) of the window: the terms forward adds, which training's initial fit counts.
  template <class F>
  void visit(std::span<const int> ids, std::span<const double> tau, F&& f, std::size_t first = 0) {
    ids_.assign(ids.begin(), ids.end());
    t_.assign(ids.size(), 0.0);
    for (std::size_t k = 1; k < ids.size(); ++k) t_[k] = t_[k - 1] + tau[k];
    for_each_pair(f, first);
  }
  // The term for the window's last position alone, added to a one-row `logits` (sampling).
  void add_last(nn::mat<T>& logits, std::span<const int> ids, std::span<const double> tau);
  int population(int token) const { return pop_[std::size_t(token)]; }

 private:
  template <class F>
  void for_each_pair(F&& f, std::size_t first) const {
    const int B = int(coef.value.cols());
    if (B == 0) return;
    for (std::size_t i = first; i < ids_.size(); ++i) {
      for (std::size_t k = i + 1; k-- > 0;) {  // ages grow as k falls: stop past the last knot
        const double x = std::max(0.0, (std::log(std::max(t_[i] - t_[k], 1e-300)) - log_min_) * inv_step_);
        const int b = int(x);
        if (b >= B) break;
        const double frac = x - double(b);
        f(i, k, b, 1 - frac);
        if (b + 1 < B && frac > 0) f(i, k, b + 1, frac);
      }
    }
  }
  std::vector<int> ids_, pop_;    // of the window's tokens; population of each token
  std::vector<double> t_;         // token times from the window's first token
  double log_min_ = 0, inv_step_ = 1;
};

template <class T>
class spike_transformer {
 public:
  model_config cfg;
  nn::embedding<T> token;
  nn::linear<T> time_in;
  std::vector<nn::transformer_block<T>> blocks;
  nn::layer_norm<T> ln_f;
  nn::linear<T> mark_out, time_out;
  spike_history<T> history;
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

  // Prediction with a key/value cache, for sampling: append adds one token (its neuron and the
  // interval before it) after those appended since reset_cache, and leaves the heads' outputs
  // for it in mark_probabilities() (one row) and interval_mixture(0): the last position of
  // forward over all those tokens, at the cost of one position. No backward.
  void reset_cache();
  void append(int id, double tau);

 private:
  nn::mat<T> mix_params_;
  std::vector<typename nn::causal_self_attention<T>::kv_cache> cache_;  // per block
  std::vector<int> cache_ids_;
  std::vector<double> cache_tau_;
};

}  // namespace gs::predictor
