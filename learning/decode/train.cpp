#include "learning/decode/train.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>

#include "learning/nn/optim.hpp"

namespace gs::decode {

namespace {

// All steps of a sequence stacked into one (steps * B) x width matrix, step-major, and back.
template <class T>
nn::mat<T> stack(const sequence<T>& s) {
  const Eigen::Index B = s.empty() ? 0 : s[0].rows(), w = s.empty() ? 0 : s[0].cols();
  nn::mat<T> out(Eigen::Index(s.size()) * B, w);
  for (std::size_t t = 0; t < s.size(); ++t) out.middleRows(Eigen::Index(t) * B, B) = s[t];
  return out;
}

template <class T>
sequence<T> unstack(const nn::mat<T>& m, Eigen::Index B) {
  sequence<T> out(std::size_t(m.rows() / B));
  for (std::size_t t = 0; t < out.size(); ++t) out[t] = m.middleRows(Eigen::Index(t) * B, B);
  return out;
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

template <class Model>
using scalar_of = typename std::decay_t<decltype(std::declval<Model&>().parameters()[0]->value)>::Scalar;

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

}  // namespace

// ---- mlp_decoder

template <class T>
mlp_decoder<T>::mlp_decoder(int in, int outputs, int hidden, int hist, std::uint64_t seed) : inputs(in), history(hist) {
  nn::init_rng rng(seed);
  fc1 = nn::linear<T>(in * hist, hidden, "mlp.fc1", rng, 1 / std::sqrt(double(in * hist)));
  fc2 = nn::linear<T>(hidden, outputs, "mlp.fc2", rng, 1 / std::sqrt(double(hidden)));
  reset(1);
}

template <class T>
void mlp_decoder<T>::reset(Eigen::Index batch) {
  batch_ = batch;
  past_ = nn::mat<T>::Zero(batch, Eigen::Index(history - 1) * inputs);
}

template <class T>
sequence<T> mlp_decoder<T>::forward(const sequence<T>& x) {
  const Eigen::Index B = batch_, n = inputs, L = Eigen::Index(history);
  // Row (t, b) of the features: the last `history` bins up to t, oldest first.
  nn::mat<T> features(Eigen::Index(x.size()) * B, L * n);
  nn::mat<T> ring(B, L * n);
  ring.leftCols((L - 1) * n) = past_;
  for (std::size_t t = 0; t < x.size(); ++t) {
    ring.rightCols(n) = x[t];
    features.middleRows(Eigen::Index(t) * B, B) = ring;
    if (L > 1) ring.leftCols((L - 1) * n) = ring.rightCols((L - 1) * n).eval();
  }
  past_ = ring.leftCols((L - 1) * n);
  return unstack(fc2.forward(act_.forward(fc1.forward(features))), B);
}

template <class T>
void mlp_decoder<T>::backward(const sequence<T>& dy) {
  fc1.backward(act_.backward(fc2.backward(stack(dy))));
}

template <class T>
nn::param_list<T> mlp_decoder<T>::parameters() {
  nn::param_list<T> out;
  fc1.collect(out);
  fc2.collect(out);
  return out;
}

// ---- gru_decoder

template <class T>
gru_decoder<T>::gru_decoder(int inputs, int outputs, int hidden, std::uint64_t seed) {
  nn::init_rng rng(seed);
  cell = nn::gru<T>(inputs, hidden, "gru", rng);
  out = nn::linear<T>(hidden, outputs, "gru.out", rng, 1 / std::sqrt(double(hidden)));
}

template <class T>
sequence<T> gru_decoder<T>::forward(const sequence<T>& x) {
  const sequence<T> h = cell.forward(x);
  return unstack(out.forward(stack(h)), x.empty() ? 1 : x[0].rows());
}

template <class T>
void gru_decoder<T>::backward(const sequence<T>& dy) {
  cell.backward(unstack(out.backward(stack(dy)), dy.empty() ? 1 : dy[0].rows()));
}

template <class T>
nn::param_list<T> gru_decoder<T>::parameters() {
  nn::param_list<T> ps;
  cell.collect(ps);
  out.collect(ps);
  return ps;
}

// ---- training

template <class Model>
matrix predict_all(Model& model, const matrix& x) {
  using T = scalar_of<Model>;
  constexpr Eigen::Index chunk = 512;  // bounds the cached activations
  model.reset(1);
  matrix out;
  for (Eigen::Index t0 = 0; t0 < x.rows(); t0 += chunk) {
    const Eigen::Index len = std::min(chunk, x.rows() - t0);
    sequence<T> in(static_cast<std::size_t>(len));
    for (Eigen::Index t = 0; t < len; ++t) in[std::size_t(t)] = x.row(t0 + t).template cast<T>();
    const sequence<T> y = model.forward(in);
    if (out.size() == 0) out.resize(x.rows(), y[0].cols());
    for (Eigen::Index t = 0; t < len; ++t) out.row(t0 + t) = y[std::size_t(t)].template cast<double>();
  }
  return out;
}

template <class Model>
fit_result fit(Model& model, const dataset& data, const train_config& c, const std::string& name) {
  using T = scalar_of<Model>;
  const auto started = std::chrono::steady_clock::now();
  fit_result r;
  r.name = name;
  const nn::param_list<T> ps = model.parameters();
  for (const auto* p : ps) r.parameters += std::size_t(p->value.size());
  nn::adamw<T> opt(ps, {.lr = c.lr, .weight_decay = c.weight_decay});
  const Eigen::Index B = c.batch, K = c.window, n_train = data.split.train_end, D = data.y.cols();
  const Eigen::Index stream = (n_train - K) / B;  // every epoch's streams fit whatever its offset
  if (stream < K)
    throw data_error("the training split is too short for train.batch streams of at least train.window bins each");
  const Eigen::Index windows = stream / K;
  nn::lr_schedule schedule{c.lr, std::int64_t(c.warmup_fraction * double(c.epochs * windows)),
                           std::int64_t(c.epochs * windows), c.final_lr_fraction};
  std::vector<nn::mat<T>> best;
  double best_r2 = -INFINITY;
  for (int epoch = 1; epoch <= c.epochs; ++epoch) {
    const Eigen::Index offset = Eigen::Index(mix(c.seed * 1000003ULL + std::uint64_t(epoch)) % std::uint64_t(K));
    model.reset(B);
    double loss_sum = 0;
    for (Eigen::Index w = 0; w < windows; ++w) {
      sequence<T> x(static_cast<std::size_t>(K)), target(static_cast<std::size_t>(K));
      for (Eigen::Index t = 0; t < K; ++t) {
        x[std::size_t(t)].resize(B, data.x.cols());
        target[std::size_t(t)].resize(B, D);
        for (Eigen::Index b = 0; b < B; ++b) {
          const Eigen::Index row = offset + b * stream + w * K + t;
          x[std::size_t(t)].row(b) = data.x.row(row).template cast<T>();
          target[std::size_t(t)].row(b) = data.y.row(row).template cast<T>();
        }
      }
      const sequence<T> y = model.forward(x);
      sequence<T> dy(y.size());
      double loss = 0;
      const T scale = T(2.0 / double(K * B * D));
      for (std::size_t t = 0; t < y.size(); ++t) {
        const nn::mat<T> e = y[t] - target[t];
        loss += double(e.squaredNorm());
        dy[t] = scale * e;
      }
      loss /= double(K * B * D);
      if (!std::isfinite(loss)) throw std::runtime_error(name + ": the training loss is not finite");
      loss_sum += loss;
      nn::zero_grad(ps);
      model.backward(dy);
      nn::clip_grad_norm(ps, c.clip);
      opt.step(ps, schedule(opt.steps));
    }
    const matrix pred = predict_all(model, data.x);
    const double val = mean_of(r_squared(data.y, pred, data.split.train_end, data.split.val_end));
    r.history.push_back({epoch, loss_sum / double(windows), val});
    if (val > best_r2) {
      best_r2 = val;
      r.best_epoch = epoch;
      best.clear();
      for (const auto* p : ps) best.push_back(p->value);
    }
  }
  for (std::size_t k = 0; k < ps.size(); ++k) ps[k]->value = best[k];
  r.prediction = predict_all(model, data.x);
  r.validation_r2 = r_squared(data.y, r.prediction, data.split.train_end, data.split.val_end);
  r.test_r2 = r_squared(data.y, r.prediction, data.split.val_end, data.split.n);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

template class mlp_decoder<float>;
template class mlp_decoder<double>;
template class gru_decoder<float>;
template class gru_decoder<double>;
template fit_result fit(surrogate::spiking_net<float>&, const dataset&, const train_config&, const std::string&);
template fit_result fit(mlp_decoder<float>&, const dataset&, const train_config&, const std::string&);
template fit_result fit(gru_decoder<float>&, const dataset&, const train_config&, const std::string&);
template matrix predict_all(surrogate::spiking_net<float>&, const matrix&);

}  // namespace gs::decode
