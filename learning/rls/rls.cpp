#include "learning/rls/rls.hpp"

#include <Eigen/Cholesky>
#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include <stdexcept>

namespace gs::rls {

trainer::trainer(std::vector<neuron_inputs> neurons, const std::vector<bool>& excitatory_source, double lambda,
                 double mu)
    : neurons_(std::move(neurons)) {
  if (!(lambda > 0) || !(mu >= 0))
    throw std::invalid_argument(fmt::format("rls: expected lambda > 0 and mu >= 0, found {} and {}", lambda, mu));
  P_.reserve(neurons_.size());
  for (std::size_t i = 0; i < neurons_.size(); ++i) {
    const auto& n = neurons_[i];
    const Eigen::Index p = Eigen::Index(n.sources.size());
    if (n.weights.size() != p)
      throw std::invalid_argument(fmt::format("rls: neuron {} has {} sources but {} weights", i, p, n.weights.size()));
    Eigen::MatrixXd regulariser = lambda * Eigen::MatrixXd::Identity(p, p);
    for (Eigen::Index j = 0; j < p; ++j)
      for (Eigen::Index k = 0; k < p; ++k) {
        const int a = n.sources[std::size_t(j)], b = n.sources[std::size_t(k)];
        if (a < 0 || std::size_t(a) >= excitatory_source.size())
          throw std::invalid_argument(fmt::format("rls: neuron {}: source {} out of range", i, a));
        if (excitatory_source[std::size_t(a)] == excitatory_source[std::size_t(b)]) regulariser(j, k) += mu;
      }
    // Symmetric positive definite (lambda > 0, C positive semi-definite): a Cholesky solve.
    P_.push_back(regulariser.llt().solve(Eigen::MatrixXd::Identity(p, p)));
  }
}

void trainer::update(const Eigen::VectorXd& activity, const Eigen::VectorXd& target) {
  tbb::parallel_for(std::size_t(0), neurons_.size(), [&](std::size_t i) {
    auto& n = neurons_[i];
    Eigen::MatrixXd& P = P_[i];
    Eigen::VectorXd r(n.sources.size());
    for (std::size_t j = 0; j < n.sources.size(); ++j) r(Eigen::Index(j)) = activity(n.sources[j]);
    // P stays symmetric: only its lower triangle is read and written, which halves the memory
    // traffic that bounds the update (4096 neurons x 58^2 doubles are 110 MB per step).
    Eigen::VectorXd Pr(r.size());
    Pr.noalias() = P.selfadjointView<Eigen::Lower>() * r;
    const double gain = 1 / (1 + r.dot(Pr));
    const double error = n.weights.dot(r) - target(Eigen::Index(i));
    n.weights -= (error * gain) * Pr;
    P.selfadjointView<Eigen::Lower>().rankUpdate(Pr, -gain);
  });
}

Eigen::MatrixXd trainer::inverse_correlation(std::size_t neuron) const {
  return P_[neuron].selfadjointView<Eigen::Lower>();
}

void trainer::restore(std::size_t neuron, const Eigen::VectorXd& weights, const Eigen::MatrixXd& P) {
  if (weights.size() != neurons_[neuron].weights.size() || P.rows() != P_[neuron].rows() || P.cols() != P_[neuron].cols())
    throw std::invalid_argument(fmt::format("rls: neuron {}: restored weights or P of the wrong size", neuron));
  neurons_[neuron].weights = weights;
  P_[neuron] = P;
}

Eigen::VectorXd trainer::input(const Eigen::VectorXd& activity) const {
  Eigen::VectorXd out(Eigen::Index(neurons_.size()));
  for (std::size_t i = 0; i < neurons_.size(); ++i) {
    double s = 0;
    for (std::size_t j = 0; j < neurons_[i].sources.size(); ++j)
      s += neurons_[i].weights(Eigen::Index(j)) * activity(neurons_[i].sources[j]);
    out(Eigen::Index(i)) = s;
  }
  return out;
}

}  // namespace gs::rls
