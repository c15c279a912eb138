#include "learning/rls/rls.hpp"

#if defined(GILLESPIKE_HAVE_CUDA)
#include "learning/rls/gpu.hpp"
#endif

#include <Eigen/Cholesky>
#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include <stdexcept>
#include <type_traits>

namespace gs::rls {

trainer::trainer(std::vector<neuron_inputs> neurons, const std::vector<bool>& excitatory_source, double lambda,
                 double mu, bool single_precision_P, bool on_gpu)
    : neurons_(std::move(neurons)) {
  if (!(lambda > 0) || !(mu >= 0))
    throw std::invalid_argument(fmt::format("rls: expected lambda > 0 and mu >= 0, found {} and {}", lambda, mu));
  (single_precision_P && !on_gpu ? Pf_.reserve(neurons_.size()) : P_.reserve(neurons_.size()));
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
    Eigen::MatrixXd P = regulariser.llt().solve(Eigen::MatrixXd::Identity(p, p));
    if (single_precision_P && !on_gpu) Pf_.push_back(P.cast<float>());
    else P_.push_back(std::move(P));
  }
  if (on_gpu) {
#if defined(GILLESPIKE_HAVE_CUDA)
    gpu_ = std::make_shared<gpu_state>(neurons_, P_, single_precision_P);
    P_.clear();  // the GPU's copy is the one that changes
#else
    throw std::invalid_argument("rls: this build has no CUDA");  // the run file's check says so first
#endif
  }
}

void trainer::update(const Eigen::VectorXd& activity, const Eigen::VectorXd& target) {
#if defined(GILLESPIKE_HAVE_CUDA)
  if (gpu_) return gpu_->update(activity, target, neurons_);
#endif
  // P stays symmetric: only its lower triangle is read and written, which halves the memory
  // traffic that bounds the update (4096 neurons x 58^2 doubles are 110 MB per step).
  auto step = [&](auto& P, neuron_inputs& n, double f) {
    using vec = Eigen::Matrix<typename std::decay_t<decltype(P)>::Scalar, Eigen::Dynamic, 1>;
    vec r(n.sources.size()), Pr(n.sources.size());
    for (std::size_t j = 0; j < n.sources.size(); ++j) r(Eigen::Index(j)) = activity(n.sources[j]);
    Pr.noalias() = P.template selfadjointView<Eigen::Lower>() * r;
    const double gain = 1 / (1 + double(r.dot(Pr)));
    double error = -f;
    for (std::size_t j = 0; j < n.sources.size(); ++j) error += n.weights(Eigen::Index(j)) * activity(n.sources[j]);
    n.weights -= (error * gain) * Pr.template cast<double>();
    P.template selfadjointView<Eigen::Lower>().rankUpdate(Pr, -gain);
  };
  tbb::parallel_for(std::size_t(0), neurons_.size(), [&](std::size_t i) {
    if (Pf_.empty()) step(P_[i], neurons_[i], target(Eigen::Index(i)));
    else step(Pf_[i], neurons_[i], target(Eigen::Index(i)));
  });
}

Eigen::MatrixXd trainer::inverse_correlation(std::size_t neuron) const {
#if defined(GILLESPIKE_HAVE_CUDA)
  if (gpu_) return gpu_->P(neuron);
#endif
  if (!Pf_.empty()) return Eigen::MatrixXf(Pf_[neuron].selfadjointView<Eigen::Lower>()).cast<double>();
  return P_[neuron].selfadjointView<Eigen::Lower>();
}

void trainer::restore(std::size_t neuron, const Eigen::VectorXd& weights, const Eigen::MatrixXd& P) {
  const Eigen::Index p = neurons_[neuron].weights.size();
  if (weights.size() != p || P.rows() != p || P.cols() != p)
    throw std::invalid_argument(fmt::format("rls: neuron {}: restored weights or P of the wrong size", neuron));
  neurons_[neuron].weights = weights;
#if defined(GILLESPIKE_HAVE_CUDA)
  if (gpu_) return gpu_->restore(neuron, weights, P);
#endif
  if (Pf_.empty()) P_[neuron] = P;
  else Pf_[neuron] = P.cast<float>();  // exact: a checkpoint holds these floats as doubles
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
