#include "learning/predictor/model.hpp"

#include <fmt/format.h>

#include <array>
#include <cassert>
#include <cmath>

namespace gs::predictor {

using nlohmann::json;

json to_json(const model_config& c) {
  json pops = json::array();
  for (const auto& p : c.populations) pops.push_back({{"name", p.name}, {"offset", p.offset}, {"size", p.size}});
  return {{"width", c.width},
          {"blocks", c.blocks},
          {"heads", c.heads},
          {"mlp_ratio", c.mlp_ratio},
          {"context", c.context},
          {"components", c.components},
          {"frequencies", c.frequencies},
          {"history_basis", c.history_basis},
          {"history_min_ms", c.history_min_ms},
          {"history_max_ms", c.history_max_ms},
          {"min_interval_ms", c.min_interval_ms},
          {"log_tau_shift", c.log_tau_shift},
          {"log_tau_scale", c.log_tau_scale},
          {"populations", pops}};
}

model_config model_config_from_json(const json& j, const std::string& source) {
  model_config c;
  auto get = [&](const char* key, auto& out) {
    if (!j.contains(key)) throw data_error(fmt::format("{}: model entry '{}' is missing", source, key));
    try {
      j.at(key).get_to(out);
    } catch (const json::exception&) {
      throw data_error(fmt::format("{}: model entry '{}' has the wrong type ({})", source, key, j.at(key).dump()));
    }
  };
  get("width", c.width);
  get("blocks", c.blocks);
  get("heads", c.heads);
  get("mlp_ratio", c.mlp_ratio);
  get("context", c.context);
  get("components", c.components);
  get("frequencies", c.frequencies);
  get("history_basis", c.history_basis);
  get("history_min_ms", c.history_min_ms);
  get("history_max_ms", c.history_max_ms);
  get("min_interval_ms", c.min_interval_ms);
  get("log_tau_shift", c.log_tau_shift);
  get("log_tau_scale", c.log_tau_scale);
  if (!j.contains("populations") || !j["populations"].is_array())
    throw data_error(fmt::format("{}: model entry 'populations' is missing", source));
  for (const auto& p : j["populations"]) {
    population_range r;
    r.name = p.value("name", "");
    r.offset = p.value("offset", -1);
    r.size = p.value("size", 0);
    c.populations.push_back(r);
  }
  if (c.width <= 0 || c.heads <= 0 || c.width % c.heads != 0 || c.blocks < 0 || c.mlp_ratio <= 0 ||
      c.context < 1 || c.components < 1 || c.frequencies < 0 || c.history_basis < 0 || c.history_basis == 1 ||
      !(c.history_min_ms > 0) || !(c.history_max_ms > c.history_min_ms) || !(c.min_interval_ms > 0) || !(c.log_tau_scale > 0) ||
      c.vocabulary() <= 0)
    throw data_error(fmt::format("{}: invalid model configuration {}", source, j.dump()));
  return c;
}

event_sequence to_events(const spike_train& train, double min_interval_ms) {
  event_sequence s;
  s.ids = train.ids;
  s.tau.assign(train.size(), std::nan(""));
  for (std::size_t i = 1; i < train.size(); ++i) {
    const double d = train.t_ms[i] - train.t_ms[i - 1];
    if (d < min_interval_ms) ++s.clamped;
    s.tau[i] = std::max(d, min_interval_ms);
  }
  return s;
}

window window_at(const event_sequence& seq, std::size_t start, std::size_t n) {
  assert(start >= 1 && start + n < seq.ids.size());
  const std::span<const int> ids(seq.ids);
  const std::span<const double> tau(seq.tau);
  return {ids.subspan(start, n), ids.subspan(start + 1, n), tau.subspan(start, n), tau.subspan(start + 1, n)};
}

template <class T>
spike_history<T>::spike_history(const model_config& c)
    : coef("history.coef", Eigen::Index(c.populations.size()), c.history_basis, false) {
  for (const auto& p : c.populations) pop_.insert(pop_.end(), std::size_t(p.size), int(&p - c.populations.data()));
  log_min_ = std::log(c.history_min_ms);
  if (c.history_basis > 1) inv_step_ = double(c.history_basis - 1) / std::log(c.history_max_ms / c.history_min_ms);
}

template <class T>
void spike_history<T>::forward(nn::mat<T>& logits, std::span<const int> ids, std::span<const double> tau) {
  visit(ids, tau, [&](std::size_t i, std::size_t k, int b, double w) {
    const int n = ids_[k];
    logits(Eigen::Index(i), n) += T(w) * coef.value(pop_[std::size_t(n)], b);
  });
}

template <class T>
void spike_history<T>::add_last(nn::mat<T>& logits, std::span<const int> ids, std::span<const double> tau) {
  assert(logits.rows() == 1 && !ids.empty());
  visit(ids, tau, [&](std::size_t, std::size_t k, int b, double w) {
    const int n = ids_[k];
    logits(0, n) += T(w) * coef.value(pop_[std::size_t(n)], b);
  }, ids.size() - 1);
}

template <class T>
void spike_history<T>::backward(const nn::mat<T>& dlogits) {
  for_each_pair([&](std::size_t i, std::size_t k, int b, double w) {
    const int n = ids_[k];
    coef.grad(pop_[std::size_t(n)], b) += T(w) * dlogits(Eigen::Index(i), n);
  }, 0);
}

template <class T>
spike_transformer<T>::spike_transformer(const model_config& c, std::uint64_t seed) : cfg(c) {
  nn::init_rng rng(seed);
  token = nn::embedding<T>(c.vocabulary(), c.width, "token", rng);
  time_in = nn::linear<T>(1 + 2 * c.frequencies, c.width, "time_in", rng);
  for (int b = 0; b < c.blocks; ++b)
    blocks.emplace_back(c.width, c.heads, c.mlp_ratio * c.width, c.blocks, fmt::format("block{}", b), rng);
  ln_f = nn::layer_norm<T>(c.width, "ln_f");
  mark_out = nn::linear<T>(c.width, c.vocabulary(), "mark_out", rng);
  time_out = nn::linear<T>(c.width, 3 * c.components, "time_out", rng);
  history = spike_history<T>(c);
  interval = nn::lognormal_mixture<T>(c.components);
  interval.shift = c.log_tau_shift;
  interval.scale = c.log_tau_scale;
}

template <class T>
nn::mat<T> spike_transformer<T>::time_features(std::span<const double> tau) const {
  nn::mat<T> f(Eigen::Index(tau.size()), 1 + 2 * cfg.frequencies);
  for (std::size_t i = 0; i < tau.size(); ++i) {
    const double z = (std::log(tau[i]) - cfg.log_tau_shift) / cfg.log_tau_scale;
    const auto r = Eigen::Index(i);
    f(r, 0) = T(z);
    for (int k = 0; k < cfg.frequencies; ++k) {
      const double w = std::ldexp(1.0, k - 2);
      f(r, 1 + 2 * k) = T(std::sin(w * z));
      f(r, 2 + 2 * k) = T(std::cos(w * z));
    }
  }
  return f;
}

template <class T>
typename spike_transformer<T>::nll spike_transformer<T>::forward(const window& w) {
  nn::mat<T> x = token.forward(w.ids) + time_in.forward(time_features(w.tau));
  for (auto& b : blocks) x = b.forward(x);
  const nn::mat<T> h = ln_f.forward(x);
  nll out;
  nn::mat<T> logits = mark_out.forward(h);
  history.forward(logits, w.ids, w.tau);
  out.mark = mark_nll.forward(logits, w.next_ids);
  mix_params_ = time_out.forward(h);
  out.time = interval.forward(mix_params_, w.next_tau);
  return out;
}

template <class T>
void spike_transformer<T>::backward(std::span<const T> dtime, std::span<const T> dmark) {
  const nn::mat<T> dlogits = mark_nll.backward(dmark);
  history.backward(dlogits);
  nn::mat<T> dh = mark_out.backward(dlogits) + time_out.backward(interval.backward(dtime));
  nn::mat<T> dx = ln_f.backward(dh);
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) dx = b->backward(dx);
  token.backward(dx);
  time_in.backward(dx);  // the features are fixed: their gradient is not needed
}

template <class T>
void spike_transformer<T>::reset_cache() {
  cache_.assign(blocks.size(), {});
  cache_ids_.clear();
  cache_tau_.clear();
}

template <class T>
void spike_transformer<T>::append(int id, double tau) {
  if (cache_.size() != blocks.size()) reset_cache();
  cache_ids_.push_back(id);
  cache_tau_.push_back(tau);
  const std::array<int, 1> one{id};
  nn::mat<T> x = token.forward(one) + time_in.forward(time_features(std::span(cache_tau_).last(1)));
  for (std::size_t b = 0; b < blocks.size(); ++b) x = blocks[b].step(x, cache_[b]);
  const nn::mat<T> h = ln_f.forward(x);
  nn::mat<T> logits = mark_out.forward(h);
  history.add_last(logits, cache_ids_, cache_tau_);
  mark_nll.forward(logits, one);  // for its probabilities; the target is a placeholder
  mix_params_ = time_out.forward(h);
}

template <class T>
nn::param_list<T> spike_transformer<T>::parameters() {
  nn::param_list<T> ps;
  token.collect(ps);
  time_in.collect(ps);
  for (auto& b : blocks) b.collect(ps);
  ln_f.collect(ps);
  mark_out.collect(ps);
  time_out.collect(ps);
  if (cfg.history_basis > 0) ps.push_back(&history.coef);
  return ps;
}

template class spike_history<float>;
template class spike_history<double>;
template class spike_transformer<float>;
template class spike_transformer<double>;

}  // namespace gs::predictor
