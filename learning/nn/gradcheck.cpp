#include "learning/nn/gradcheck.hpp"

#include <algorithm>
#include <cmath>

namespace gs::nn {

std::vector<gradcheck_report> check_gradients(const std::vector<checked_array>& arrays,
                                              const std::function<double()>& loss, double h,
                                              std::size_t max_entries) {
  std::vector<gradcheck_report> out;
  for (const auto& a : arrays) {
    gradcheck_report r{a.name};
    const std::size_t n = a.value.size();
    const std::size_t stride = std::max<std::size_t>(1, (n + max_entries - 1) / std::max<std::size_t>(1, max_entries));
    double diff2 = 0, num2 = 0, ana2 = 0;
    for (std::size_t k = 0; k < n; k += stride) {
      const double saved = a.value[k];
      a.value[k] = saved + h;
      const double up = loss();
      a.value[k] = saved - h;
      const double down = loss();
      a.value[k] = saved;
      const double numeric = (up - down) / (2 * h), analytic = a.grad[k];
      diff2 += (numeric - analytic) * (numeric - analytic);
      num2 += numeric * numeric;
      ana2 += analytic * analytic;
      r.max_abs_error = std::max(r.max_abs_error, std::abs(numeric - analytic));
      ++r.checked;
    }
    const double denom = std::max(std::sqrt(num2), std::sqrt(ana2));
    r.rel_error = denom > 0 ? std::sqrt(diff2) / denom : 0;
    r.grad_norm = std::sqrt(num2);
    out.push_back(r);
  }
  return out;
}

std::vector<checked_array> as_checked(const param_list<double>& params) {
  std::vector<checked_array> out;
  for (auto* p : params) out.push_back({p->name, p->values(), p->grads()});
  return out;
}

}  // namespace gs::nn
