// A number from the run file: a constant or a distribution drawn per neuron or per synapse.
#pragma once
#include <cmath>
#include <limits>

#include "engine/rng.hpp"

namespace gs {

struct value_spec {
  enum kind_t { constant, uniform, normal, lognormal } kind = constant;
  double a = 0, b = 0;  // constant a; uniform [a, b); normal mean a, std b; lognormal mu a, sigma b
  double lo = -std::numeric_limits<double>::infinity();  // normal: redrawn outside [lo, hi]
  double hi = std::numeric_limits<double>::infinity();

  static value_spec of(double v) { return {constant, v, 0}; }
  GS_HD bool is_constant() const { return kind == constant; }
  // Smallest value a draw can take (for checks such as the minimum delay).
  double min_value() const {
    switch (kind) {
      case constant: return a;
      case uniform: return a;
      case normal: return lo;
      case lognormal: return 0;
    }
    return a;
  }
  // Largest value a draw can take (infinity when unbounded).
  double max_value() const {
    switch (kind) {
      case constant: return a;
      case uniform: return b;
      case normal: return hi;
      case lognormal: return std::numeric_limits<double>::infinity();
    }
    return a;
  }
  // The same function on the host and in the cuda backend's kernels (procedural synapses).
  GS_HD double draw(rng_stream& rng) const {
    switch (kind) {
      case constant: return a;
      case uniform: return a + (b - a) * rng.uniform();
      case normal:
        for (;;) {  // the config check guarantees [lo, hi] has non-negligible mass
          const double x = a + b * rng.normal();
          if (x >= lo && x <= hi) return x;
        }
      case lognormal: return std::exp(a + b * rng.normal());
    }
    return a;
  }
};

}  // namespace gs
