// Repeats every input spike as its own spike at the same time (NEST's parrot_neuron): the way to
// record a Poisson or playback source, or to share one input train among many targets.
#pragma once
#include <array>
#include <string>
#include <string_view>

#include "models/model.hpp"

namespace gs {

struct parrot_neuron {
  static constexpr std::string_view name = "parrot_neuron";
  static constexpr std::string_view doc = "emits a spike at the time of each input spike";

  struct params {};
  struct state {
    double pending = 0;  // input spikes not yet repeated
  };
  static constexpr std::array<field<params>, 0> param_table{};
  static constexpr std::array state_table{
      field<state>{"pending", "1", &state::pending, "input spikes waiting to be repeated"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params&) { return {}; }
  static void prepare(params&) {}
  static state initial(const params&) { return {}; }
  GS_HD static void advance(state&, const params&, double) {}
  GS_HD static void receive(state& s, const params&, double, int receptor) {
    if (receptor != dc_receptor) s.pending += 1;
  }
  GS_HD static bool crossed(const state& s, const params&) { return s.pending > 0; }
  GS_HD static void reset(state& s, const params&) { s.pending -= 1; }  // one spike per input
  static spike_estimate estimate(const state& s, const params&) {
    return spike_estimate::at(s.pending > 0 ? 0 : no_spike);
  }
  static double input_effect(const params&, double, int receptor) { return receptor == dc_receptor ? 0 : 1; }
  static spike_estimate next_spike(const state& s, const params& p) { return estimate(s, p); }
};

}  // namespace gs
