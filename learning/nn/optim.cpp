#include "learning/nn/optim.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gs::nn {

template <class T>
adamw<T>::adamw(const param_list<T>& params, adamw_config c) : cfg(c) {
  for (const auto* p : params) {
    m.push_back(mat<T>::Zero(p->value.rows(), p->value.cols()));
    v.push_back(mat<T>::Zero(p->value.rows(), p->value.cols()));
  }
}

template <class T>
void adamw<T>::step(const param_list<T>& params, double lr) {
  ++steps;
  const double c1 = 1 - std::pow(cfg.beta1, double(steps)), c2 = 1 - std::pow(cfg.beta2, double(steps));
  const T b1 = T(cfg.beta1), b2 = T(cfg.beta2);
  for (std::size_t k = 0; k < params.size(); ++k) {
    param<T>& p = *params[k];
    // Same order of operations as torch.optim.AdamW: decay, then the Adam step.
    if (p.decay && cfg.weight_decay != 0) p.value *= T(1 - lr * cfg.weight_decay);
    m[k] = b1 * m[k] + (T(1) - b1) * p.grad;
    v[k] = b2 * v[k] + (T(1) - b2) * p.grad.cwiseProduct(p.grad);
    const T step_size = T(lr / c1), denom_scale = T(1 / std::sqrt(c2));
    p.value.array() -= step_size * m[k].array() / (v[k].array().sqrt() * denom_scale + T(cfg.eps));
  }
}

double lr_schedule::operator()(std::int64_t step) const {
  if (step < warmup) return peak * double(step + 1) / double(warmup);
  const double progress = std::min(1.0, double(step - warmup) / double(std::max<std::int64_t>(1, total - warmup)));
  const double low = peak * final_fraction;
  return low + 0.5 * (peak - low) * (1 + std::cos(std::numbers::pi * progress));
}

template <class T>
double clip_grad_norm(const param_list<T>& params, double max_norm) {
  double sq = 0;
  for (const auto* p : params) sq += p->grad.template cast<double>().squaredNorm();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const T factor = T(max_norm / (norm + 1e-6));  // torch.nn.utils.clip_grad_norm_'s guard
    for (auto* p : params) p->grad *= factor;
  }
  return norm;
}

template class adamw<float>;
template class adamw<double>;
template double clip_grad_norm<float>(const param_list<float>&, double);
template double clip_grad_norm<double>(const param_list<double>&, double);

}  // namespace gs::nn
