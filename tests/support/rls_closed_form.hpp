// The closed form an RLS trainer must reach after any number of updates, solved in long double by a
// method of its own (LDLT of the normal equations), for test_rls (CPU) and test_rls_cuda (GPU):
//   w = (L + R'R)^-1 (R'f + L w0),  P = (L + R'R)^-1,  L = lambda I + mu C,
// C_jk = 1 for sources j and k of the same sign, R the activities of the neuron's sources per step.
#pragma once
#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <vector>

namespace gs::test {

struct ridge_solution {
  Eigen::VectorXd w;
  Eigen::MatrixXd P;
};

// `activity[t]`: all sources' activities at step t; `target(t)`: the neuron's target then.
inline ridge_solution ridge_closed_form(const std::vector<int>& sources, const std::vector<bool>& excitatory,
                                        double lambda, double mu, const Eigen::VectorXd& w0,
                                        const std::vector<Eigen::VectorXd>& activity, const Eigen::VectorXd& target) {
  using lmat = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
  using lvec = Eigen::Matrix<long double, Eigen::Dynamic, 1>;
  const Eigen::Index p = Eigen::Index(sources.size());
  lmat A = lmat::Zero(p, p);
  for (Eigen::Index j = 0; j < p; ++j)
    for (Eigen::Index k = 0; k < p; ++k)
      A(j, k) = (j == k ? lambda : 0.0L) +
                (excitatory[size_t(sources[size_t(j)])] == excitatory[size_t(sources[size_t(k)])] ? mu : 0.0L);
  lvec b = A * w0.cast<long double>();
  for (size_t t = 0; t < activity.size(); ++t) {
    lvec r(p);
    for (Eigen::Index j = 0; j < p; ++j) r(j) = activity[t](sources[size_t(j)]);
    A += r * r.transpose();
    b += r * (long double)target(Eigen::Index(t));
  }
  const Eigen::LDLT<lmat> ldlt(A);
  return {ldlt.solve(b).cast<double>(), ldlt.solve(lmat::Identity(p, p)).cast<double>()};
}

}  // namespace gs::test
