// An out-of-tree cell model: the quadratic integrate-and-fire neuron
//   C_m dV/dt = k (V - V_r)(V - V_t) + I_e + I_dc,
// spike when V reaches V_peak, then V = V_reset; inputs are voltage jumps (mV).
// It gives only a clock step (classical Runge-Kutta) and no spike-time formula: the event engine
// integrates it ahead and bisects the crossing on the step (docs/plugins.md).
#include <array>
#include <string>

#include "engine/population.hpp"  // describe_model, field, dc_receptor
#include "plugins/plugin.hpp"

namespace {

struct quadratic_if {
  static constexpr std::string_view name = "quadratic_if";
  static constexpr std::string_view doc = "quadratic integrate-and-fire, RK4 step (example plugin)";
  static constexpr double max_step = 0.01;  // ms: the RK4 step

  struct params {
    double C_m = 100, k = 0.7, V_r = -60, V_t = -40, V_peak = 35, V_reset = -50, I_e = 100;
  };
  struct state {
    double V_m = -60, I_dc = 0;
  };
  static constexpr std::array param_table{
      gs::field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      gs::field<params>{"k", "nS/mV", &params::k, "curvature of the quadratic"},
      gs::field<params>{"V_r", "mV", &params::V_r, "resting potential"},
      gs::field<params>{"V_t", "mV", &params::V_t, "instability threshold"},
      gs::field<params>{"V_peak", "mV", &params::V_peak, "spike cut-off"},
      gs::field<params>{"V_reset", "mV", &params::V_reset, "reset potential"},
      gs::field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
  };
  static constexpr std::array state_table{
      gs::field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      gs::field<state>{"I_dc", "pA", &state::I_dc, "current from DC stimuli"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.C_m > 0) || !(p.k > 0)) return "C_m and k must be > 0";
    if (!(p.V_r < p.V_t && p.V_t < p.V_peak && p.V_reset < p.V_peak)) return "need V_r < V_t < V_peak, V_reset < V_peak";
    return {};
  }
  static void prepare(params&) {}
  static state initial(const params& p) { return {p.V_r, 0}; }

  GS_HD static double slope(const params& p, const state& s, double v) {
    return (p.k * (v - p.V_r) * (v - p.V_t) + p.I_e + s.I_dc) / p.C_m;
  }
  GS_HD static void advance(state& s, const params& p, double h) {
    const double v = s.V_m;
    const double k1 = slope(p, s, v), k2 = slope(p, s, v + 0.5 * h * k1), k3 = slope(p, s, v + 0.5 * h * k2),
                 k4 = slope(p, s, v + h * k3);
    s.V_m = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == gs::dc_receptor) s.I_dc += w;
    else s.V_m += w;
  }
  GS_HD static bool crossed(const state& s, const params& p) { return s.V_m >= p.V_peak; }
  GS_HD static void reset(state& s, const params& p) { s.V_m = p.V_reset; }
};

void register_quadratic_if(gs::registry& reg) {
  reg.add_model(gs::describe_model<quadratic_if>());
#if defined(__CUDACC__)
  gs::add_gpu_form<quadratic_if>(reg);  // compiled by nvcc: the model runs on the cuda backend too
#endif
}

}  // namespace

GILLESPIKE_PLUGIN("quadratic_if", register_quadratic_if)
