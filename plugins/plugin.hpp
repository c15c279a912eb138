// The plugin ABI: what a shared library exports so that gillespike can load it. A plugin is
// one or more cell models, connection rules or stimulus generators registered through the same
// registry calls the built-ins use (plugins/registry.cpp); see docs/plugins.md.
//
//   void add_mine(gs::registry& reg) { reg.add_model(gs::describe_model<my_model>()); }
//   GILLESPIKE_PLUGIN("mine", add_mine)
//
// Models cross the boundary as C++ objects (std::function, std::string), so a plugin must be
// built against the headers of the gillespike it is loaded into, with the same standard library
// ABI: the loader refuses one whose ABI number or library flavour differs, naming both.
#pragma once
#include <cstdint>

#include "plugins/registry.hpp"

// Compiled by nvcc: add_procedural_gpu_form, for rules (a model's add_gpu_form comes with
// engine/population.hpp).
#if defined(__CUDACC__) && defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/procedural.cuh"
#endif

// Raised whenever a header a plugin compiles against changes in a way that moves memory layouts
// or signatures the engine and the plugin share.
// 2: population_base gained the clock backend's step() and friends.
// 3: population_base::prepare_steps (fixed-step models); rule_info::procedural.
// 4: stimulus_info::independent_poisson.
// 5: model_info::make_cuda (a model's GPU form).
// 6: rule_info::make_cuda (a procedural rule's GPU form).
#define GILLESPIKE_PLUGIN_ABI 6

#ifndef GILLESPIKE_VERSION
#define GILLESPIKE_VERSION "unknown"
#endif

namespace gs {

// The first field never moves, so any version of the loader can read it before trusting the rest.
struct plugin_entry {
  uint32_t abi;             // GILLESPIKE_PLUGIN_ABI when the plugin was built
  uint32_t cxx11_strings;   // _GLIBCXX_USE_CXX11_ABI: std::string layouts must agree
  const char* name;         // shown by `gillespike info`
  const char* built_with;   // the gillespike version whose headers it was built against
  void (*register_all)(registry&);
};

#if defined(_GLIBCXX_USE_CXX11_ABI)
inline constexpr uint32_t cxx11_strings = _GLIBCXX_USE_CXX11_ABI;
#else
inline constexpr uint32_t cxx11_strings = 0;
#endif

// The C symbol the loader looks up.
inline constexpr const char* plugin_symbol = "gillespike_plugin";

}  // namespace gs

#define GILLESPIKE_PLUGIN(NAME, REGISTER)                                                            \
  extern "C" __attribute__((visibility("default"))) const gs::plugin_entry* gillespike_plugin() {    \
    static const gs::plugin_entry entry{GILLESPIKE_PLUGIN_ABI, gs::cxx11_strings, NAME,                \
                                        GILLESPIKE_VERSION, REGISTER};                               \
    return &entry;                                                                                    \
  }
