// AdamW, the learning-rate schedule and gradient clipping against hand-derived values: Adam's first
// step moves each weight by lr * sign(gradient), decoupled decay scales it by (1 - lr * decay)
// first, and the schedule's warm-up and cosine have closed forms.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "learning/nn/optim.hpp"

using namespace gs::nn;

TEST_CASE("adamw: first step is lr * sign(g) after decoupled decay; later steps follow the recurrence") {
  param<double> w("w", 1, 3, true), b("b", 1, 1, false);
  w.value << 1.0, -2.0, 0.5;
  b.value << 3.0;
  const param_list<double> ps = {&w, &b};
  adamw_config cfg;
  cfg.lr = 0.1;
  cfg.weight_decay = 0.2;
  cfg.eps = 0;  // exact sign step
  adamw<double> opt(ps, cfg);
  w.grad << 4.0, -0.001, 2.0;
  b.grad << -7.0;
  opt.step(ps, 0.1);
  CHECK(w.value(0, 0) == doctest::Approx(1.0 * (1 - 0.02) - 0.1).epsilon(1e-14));
  CHECK(w.value(0, 1) == doctest::Approx(-2.0 * (1 - 0.02) + 0.1).epsilon(1e-14));
  CHECK(w.value(0, 2) == doctest::Approx(0.5 * (1 - 0.02) - 0.1).epsilon(1e-14));
  CHECK(b.value(0, 0) == doctest::Approx(3.0 + 0.1).epsilon(1e-14));  // no decay on b

  // Second step on b with gradient 1, by the textbook recurrence with bias correction.
  b.grad << 1.0;
  w.grad.setZero();
  opt.step(ps, 0.05);
  const double m = 0.9 * 0.1 * -7.0 + 0.1 * 1.0, v = 0.999 * 0.001 * 49.0 + 0.001 * 1.0;
  const double mhat = m / (1 - 0.9 * 0.9), vhat = v / (1 - 0.999 * 0.999);
  CHECK(b.value(0, 0) == doctest::Approx(3.1 - 0.05 * mhat / std::sqrt(vhat)).epsilon(1e-13));
  CHECK(opt.steps == 2);
}

TEST_CASE("lr_schedule: linear warm-up, cosine to the floor, then flat") {
  const lr_schedule s{.peak = 2.0, .warmup = 4, .total = 14, .final_fraction = 0.1};
  CHECK(s(0) == doctest::Approx(0.5));
  CHECK(s(3) == doctest::Approx(2.0));
  CHECK(s(4) == doctest::Approx(2.0));
  CHECK(s(9) == doctest::Approx(0.2 + 0.5 * 1.8 * (1 + std::cos(std::numbers::pi * 0.5))));
  CHECK(s(14) == doctest::Approx(0.2));
  CHECK(s(100) == doctest::Approx(0.2));
}

TEST_CASE("clip_grad_norm: returns the norm and scales to the limit only when above it") {
  param<float> a("a", 1, 2, true), b("b", 2, 1, true);
  a.grad << 3.0f, 0.0f;
  b.grad << 0.0f, 4.0f;
  const param_list<float> ps = {&a, &b};
  CHECK(clip_grad_norm(ps, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad(0, 0) == 3.0f);
  CHECK(clip_grad_norm(ps, 1.0) == doctest::Approx(5.0));
  CHECK(std::hypot(a.grad(0, 0), b.grad(1, 0)) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(a.grad(0, 0) / b.grad(1, 0) == doctest::Approx(0.75));
}
