// One neuron's step of a clock-driven backend: the function the CPU clock backend
// (engine/backends/clock) and the CUDA kernels (engine/backends/cuda) both call, so a model's
// per-step update is written once. What depends only on a parameter set and dt is computed on
// the host beforehand (prepare); the step itself runs on either side (GS_HD).
#pragma once
#include <cmath>
#include <cstdint>

#include "engine/host_device.hpp"
#include "engine/rng.hpp"
#include "models/model.hpp"

namespace gs {

template <class Model>
struct clock_step {
  using params = typename Model::params;
  using state = typename Model::state;

  // Models with a fixed-step form (step_constants, prepare_step, step).
  static constexpr bool fixed_step = requires { typename Model::step_constants; };
  // Models that declare a frame_rate take their membrane decay over dt from the caller.
  static constexpr bool has_frame = requires(const params& q) { Model::frame_rate(q); };
  static constexpr bool stochastic = requires(const state& s, const params& q) { Model::hazard(s, q); };
  static constexpr bool closed_form = requires(const state& s, const params& q) { Model::estimate(s, q); };
  // A model that gives only a step (advance for at most max_step ms).
  static constexpr bool stepped = !stochastic && !closed_form;

  struct frame_decay {
    double x_m;  // exp(-frame_rate dt); -1: no frame for these parameters, advance() takes its own exp
  };
  struct no_constants {};
  template <class M>
  struct constants_of {
    using type = std::conditional_t<has_frame, frame_decay, no_constants>;
  };
  template <class M>
    requires requires { typename M::step_constants; }
  struct constants_of<M> {
    using type = typename M::step_constants;
  };
  using constants = typename constants_of<Model>::type;

  // Host only: what a step with these parameters and dt needs besides the state.
  static constants prepare(const params& p, double dt) {
    if constexpr (fixed_step) {
      return Model::prepare_step(p, dt);
    } else if constexpr (has_frame) {
      return {Model::frame_rate(p) > 0 ? std::exp(-Model::frame_rate(p) * dt) : -1.0};
    } else {
      return {};
    }
  }

  // Advances by h with the model's own step, max_step at a time for a step-only model.
  GS_HD static void advance(state& s, const params& p, double h) {
    if constexpr (stepped) {
      for (; h > Model::max_step; h -= Model::max_step) Model::advance(s, p, Model::max_step);
    }
    Model::advance(s, p, h);
  }

  // Receives a step's summed inputs, in[0] the DC input and in[1 + r] receptor r's; zero sums
  // are skipped (receive() of zero is a no-op for every model, and costs).
  GS_HD static void receive(state& s, const params& p, const double* in) {
    if (in[0] != 0) Model::receive(s, p, in[0], dc_receptor);
    for (int r = 0; r < int(Model::receptors.size()); ++r)
      if (in[r + 1] != 0) Model::receive(s, p, in[r + 1], r);
  }

  // One step of dt, in NEST's order (iaf_psc_exp): the state is advanced by dt, the inputs are
  // received, the threshold is checked (a stochastic model spikes with probability
  // 1 - exp(-hazard dt), drawn from the stream keyed by (seed, gid, step k)), and a neuron that
  // spikes is reset. Returns whether it spiked.
  GS_HD static bool run(state& s, const params& p, const constants& c, double dt, const double* in, uint64_t seed,
                        uint32_t gid, uint64_t k) {
    if constexpr (fixed_step) {
      Model::step(s, p, c);
    } else if constexpr (has_frame) {
      Model::advance(s, p, dt, c.x_m);
    } else {
      advance(s, p, dt);
    }
    receive(s, p, in);
    bool spike = false;
    if constexpr (requires { Model::crossed(s, p); }) spike = Model::crossed(s, p);  // stochastic: optional
    if constexpr (stochastic) {
      if (!spike) {
        const double h = Model::hazard(s, p);
        // Strictly below, so a hazard of zero never fires whatever the draw.
        spike = h > 0 && rng_stream(seed, rng_purpose::clock_hazard, gid, static_cast<uint32_t>(k)).uniform() <
                             -std::expm1(-h * dt);
      }
    }
    if (spike) Model::reset(s, p);
    return spike;
  }
};

}  // namespace gs
