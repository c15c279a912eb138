// The built-in models' GPU forms (built with CUDA only): compiled by nvcc, apart from their
// registration (models/builtin.cpp), so that their CPU code stays with the host compiler (it ran
// slower through nvcc: docs/cuda.md). A plugin makes the same add_gpu_form call.
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

void register_builtin_gpu_forms(registry& reg) {
  add_gpu_form<lif_psc_exp>(reg);
  add_gpu_form<lif_psc_delta>(reg);
  add_gpu_form<parrot_neuron>(reg);
  add_gpu_form<pp_lif_delta>(reg);
  add_gpu_form<hawkes_linear>(reg);
  add_gpu_form<hawkes_nonlinear>(reg);
  add_gpu_form<aeif_psc_exp>(reg);
  add_gpu_form<izhikevich>(reg);
  add_gpu_form<lif_cond_exp>(reg);
  add_gpu_form<glif1_psc_exp>(reg);
  add_gpu_form<glif2_psc_exp>(reg);
  add_gpu_form<glif3_psc_exp>(reg);
  add_gpu_form<glif4_psc_exp>(reg);
  add_gpu_form<glif5_psc_exp>(reg);
}

}  // namespace gs
