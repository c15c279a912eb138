// What every cell model provides, built in or from a plugin. A model is a struct with nested
// `params` and `state`, tables naming their fields, and static functions that both the event
// backend and a clock backend call (see docs/models.md for the full contract).
#pragma once
#include <limits>
#include <string_view>

#include "engine/host_device.hpp"

namespace gs {

// One documented double field of a params or state struct: the model's parameter table.
template <class Struct>
struct field {
  std::string_view name, unit;
  double Struct::*member;
  std::string_view doc;
};

// Time from now to the next threshold crossing, as the engine keeps it in its queue.
// When `exact` is false, `dt` is a lower bound that stays valid while later inputs add up to at
// most `margin` in the model's measure input_effect(); the engine asks next_spike() when it
// comes due. An exact time holds only until the next input: then, if that input fits in the
// margin, `fallback` (<= dt) becomes the lower bound.
struct spike_estimate {
  double dt;
  bool exact;
  double margin, fallback;

  static spike_estimate at(double dt) { return {dt, true, 0, 0}; }
  static spike_estimate bound(double dt, double margin) { return {dt, false, margin, dt}; }
};

inline constexpr double no_spike = std::numeric_limits<double>::infinity();

// A stochastic model's promise about its hazard (1/ms) from now on, without further input: zero
// for `dead` ms, then at most `rate`, and still at most `rate` while later inputs add up to at
// most `margin` in input_effect(). The engine samples spikes from it by thinning.
struct rate_bound {
  double rate, margin, dead = 0;
};

// x^k for a small k >= 1: one exponential serves time constants that divide each other.
GS_HD inline double ipow(double x, int k) {
  double y = x;
  for (int i = 1; i < k; ++i) y *= x;
  return y;
}

// Receptor index used by current generators (DC steps): adds to the model's external current.
inline constexpr int dc_receptor = -1;

}  // namespace gs
