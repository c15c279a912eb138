// Multivariate Hawkes baseline with exponential kernels: neuron n fires at rate
//   lambda_n(t) = mu_n + sum over earlier spikes j of alpha[g(n), g(m_j)] * beta * exp(-beta (t - t_j)),
// where g maps neurons to kernel groups: each neuron its own group (a full neuron-to-neuron
// matrix), or one group per population (kernels shared within population pairs, which a short
// recording of thousands of neurons can support). Fitted by maximum likelihood: mu and alpha by
// expectation-maximisation (Lewis and Mohler 2011; no step lowers the likelihood), the decay rate
// beta by the best likelihood over a grid. Scored with the transformer's metrics, its state carried
// from the recording's start.
#pragma once

#include <cstddef>
#include <vector>

#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/model.hpp"

namespace gs::predictor {

struct hawkes_baseline {
  static constexpr int max_groups = 4096;  // alpha is dense: 4096^2 doubles are 128 MiB
  int neurons = 0, groups = 0;
  std::vector<int> group_of;     // per neuron
  std::vector<double> group_size;
  double beta = 1;               // per ms
  std::vector<double> mu;        // per neuron, per ms
  std::vector<double> alpha;     // alpha[P * groups + Q]: what one spike in group Q adds to each neuron of P
  double log_likelihood = 0;     // of the fitted events, per event

  // Fits events [begin, end) of seq (the span starts at event begin) with `iterations` EM steps for
  // each beta in `betas` (per ms), keeping the most likely. A neuron silent in the fitted events
  // gets the background rate 0.5 / span, as in poisson_baseline. Throws data_error for more than
  // max_groups groups or fewer than two events.
  static hawkes_baseline fit(const event_sequence& seq, const std::vector<int>& group_of, std::size_t begin,
                             std::size_t end, const std::vector<double>& betas, int iterations);
  // Log-likelihood per event of events [begin, end) under these parameters.
  double mean_log_likelihood(const event_sequence& seq, std::size_t begin, std::size_t end) const;
  // Scores events [first, end) (first >= 2, as score_model), conditioning on everything before.
  std::vector<event_score> score(const event_sequence& seq, std::size_t first, std::size_t end) const;
};

// Kernel groups: one per neuron, or one per population of the vocabulary.
std::vector<int> neuron_groups(int neurons);
std::vector<int> population_groups(const std::vector<population_range>& populations);

}  // namespace gs::predictor
