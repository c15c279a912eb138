// The built-in models' registration: the same describe_model() call a plugin makes. Compiled by the
// host compiler; with CUDA, models/builtin_gpu.cu then adds each model's GPU form, as a plugin does
// (docs/plugins.md, "On the GPU").
#include "engine/population.hpp"
#include "models/adex.hpp"
#include "models/glif.hpp"
#include "models/hawkes.hpp"
#include "models/izhikevich.hpp"
#include "models/lif_cond_exp.hpp"
#include "models/lif_psc_delta.hpp"
#include "models/lif_psc_exp.hpp"
#include "models/parrot_neuron.hpp"
#include "models/pp_lif_delta.hpp"
#include "plugins/registry.hpp"

namespace gs {

void register_builtin_models(registry& reg) {
  reg.add_model(describe_model<lif_psc_exp>("built-in"));
  reg.add_model(describe_model<lif_psc_delta>("built-in"));
  reg.add_model(describe_model<parrot_neuron>("built-in"));
  reg.add_model(describe_model<pp_lif_delta>("built-in"));
  reg.add_model(describe_model<hawkes_linear>("built-in"));
  reg.add_model(describe_model<hawkes_nonlinear>("built-in"));
  reg.add_model(describe_model<aeif_psc_exp>("built-in"));
  reg.add_model(describe_model<izhikevich>("built-in"));
  reg.add_model(describe_model<lif_cond_exp>("built-in"));
  reg.add_model(describe_model<glif1_psc_exp>("built-in"));
  reg.add_model(describe_model<glif2_psc_exp>("built-in"));
  reg.add_model(describe_model<glif3_psc_exp>("built-in"));
  reg.add_model(describe_model<glif4_psc_exp>("built-in"));
  reg.add_model(describe_model<glif5_psc_exp>("built-in"));
#if defined(GILLESPIKE_HAVE_CUDA)
  register_builtin_gpu_forms(reg);
#endif
}

}  // namespace gs
