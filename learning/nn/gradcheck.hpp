// Checks analytic gradients against central finite differences in double precision, for the layer
// tests here and for any other learner (surrogate gradients) that hand-writes a backward pass.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "learning/nn/tensor.hpp"

namespace gs::nn {

// One array the loss depends on: its values (perturbed in place, then restored) and the analytic
// gradient of the loss with respect to them.
struct checked_array {
  std::string name;
  std::span<double> value;
  std::span<const double> grad;
};

struct gradcheck_report {
  std::string name;
  double rel_error = 0;   // |numeric - analytic| / max(|numeric|, |analytic|) over the whole array (2-norms)
  double max_abs_error = 0;
  double grad_norm = 0;   // of the numeric gradient, to tell a vanishing gradient from a correct one
  std::size_t checked = 0;
};

// Perturbs up to max_entries entries of each array (evenly spread; all when it has fewer) by +-h
// and compares (loss(+h) - loss(-h)) / 2h with the analytic gradient. `loss` evaluates the loss
// for the current values (forward only); the analytic gradients must have been computed before.
std::vector<gradcheck_report> check_gradients(const std::vector<checked_array>& arrays,
                                              const std::function<double()>& loss, double h = 1e-6,
                                              std::size_t max_entries = 200);

// The parameters of a double-precision model as checked arrays.
std::vector<checked_array> as_checked(const param_list<double>& params);

}  // namespace gs::nn
