// The registry of cell models, connection rules, stimulus generators and RLS target generators,
// looked up by name. Built-in models and rules
// register through the same calls an outside plugin uses (register_builtin_*), so there is one
// mechanism whether a model is compiled in or loaded.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace gs {

using json = nlohmann::ordered_json;
class population_base;
struct population_spec;
class cuda_population;
class cuda_procedural;

// A parameter or state variable as `info`, the docs and the config validator see it.
struct param_info {
  std::string name, unit, doc;
  double default_value = 0;
  // profile: a number or a distance profile ({"gaussian": {...}}, plugins/spatial.hpp), for
  // spatial populations. mask: an optional object bounding the distance (plugins/spatial.hpp).
  // text, file: a string; a file is a path the config resolves against the run file's folder.
  // numbers: an array of numbers.
  enum kind_t { number, integer, boolean, profile, mask, text, file, numbers } kind = number;
  // Without a default (NaN) a parameter is required, unless it is optional: then it is absent
  // when the run file leaves it out, and the owner's check says which combinations are needed.
  // Kinds other than number, integer, boolean and profile have no numeric default: they are
  // required or optional.
  bool optional = false;
};

// The default as `info` prints it: a number, true/false, "required", or "-" (absent unless given).
std::string default_text(const param_info& p);

struct model_info {
  std::string name, doc, origin;  // origin: "built-in" or the plugin file
  std::vector<param_info> params, state;
  std::vector<std::string> receptors;
  // Synaptic weights are conductances (nS, never negative) and the receptor alone says whether
  // an input excites or inhibits; Dale's law is then checked on receptors, not on weight signs.
  bool conductance_based = false;
  // Creates the population: per-neuron parameters and initial state drawn from the spec.
  std::function<std::unique_ptr<population_base>(const population_spec&, uint64_t seed,
                                                 uint32_t pop_index, uint32_t first_gid)>
      make;
  // Copies a population made by `make` to the GPU (engine/backends/cuda): set by
  // registry::add_gpu_form from a file compiled by nvcc; the model has no GPU form otherwise.
  std::function<std::unique_ptr<cuda_population>(population_base&)> make_cuda;
};

// Where a rule sends the synapses it generates, as population-local (source, target) pairs.
struct synapse_sink {
  virtual void add(uint32_t source, uint32_t target) = 0;
  // A synapse that brings its own weight and/or delay (read from a file, say); NaN stands for
  // the projection's. Sinks that only need the pairs keep the default.
  virtual void add(uint32_t source, uint32_t target, double /*weight*/, double /*delay*/) { add(source, target); }
  virtual ~synapse_sink() = default;
};

using position = std::array<double, 2>;  // (x, y) in the units of the run file's extents

struct rule_context {
  uint32_t n_source = 0, n_target = 0;
  bool same_population = false;  // autapses only exist when source and target coincide
  uint64_t seed = 0;
  uint32_t projection = 0;       // index of the internal projection, keys its random stream
  // Spatial populations (docs/config.md, "positions"). The flags say whether a population has
  // positions at all; the spans hold them once drawn (empty while the run file is validated).
  bool source_spatial = false, target_spatial = false;
  std::span<const position> source_positions, target_positions;
  // Distances wrap around a torus of this size (both populations periodic with equal extents).
  bool periodic = false;
  position extent{0, 0};
  std::string_view source_name, target_name;  // for messages
};

// Procedural connectivity (docs/config.md, "procedural"): a projection whose synapses are drawn
// again whenever its source neuron spikes instead of being stored. The targets are cut into chunks
// of procedural_chunk consecutive ids; a generator writes one source's targets within one chunk,
// in increasing order (at most procedural_chunk of them), and returns how many. It must give the
// same targets every time, whatever the order of calls and from any thread.
inline constexpr uint32_t procedural_chunk = 256;
using chunk_generator = std::function<uint32_t(uint32_t source, uint32_t chunk, uint32_t* targets)>;

struct rule_info {
  std::string name, doc, origin;
  std::vector<param_info> params;
  // Empty when the parameters fit the populations, otherwise the problem (e.g. p outside [0,1]).
  std::function<std::string(const json& params, const rule_context&)> check;
  // Must emit the same synapses in the same order every time it is called with the same input:
  // the builder calls it twice (count, then fill) to build CSR without a temporary edge list.
  std::function<void(const json& params, const rule_context&, synapse_sink&)> generate;
  // Rules that can regenerate their synapses: the chunk generator for checked parameters, or
  // empty when these parameters cannot be regenerated (the run file is then refused, saying why
  // in procedural_limits).
  std::function<chunk_generator(const json& params, const rule_context&)> procedural;
  std::string procedural_limits;
  // The device form of `procedural` (engine/backends/cuda/procedural.cuh): makes the object
  // through which the cuda backend delivers spikes through this rule's procedural projections.
  // Set by registry::add_rule_gpu_form from a file compiled by nvcc; without it the rule's
  // procedural projections run on the clock backend only.
  std::function<std::unique_ptr<cuda_procedural>()> make_cuda;
};

// One input of a stimulus: at time t, to one of its targets (an index into the flattened
// target list) or to all of them, with the targets' weights multiplied by `scale`.
struct stimulus_event {
  static constexpr int64_t all = -1;
  double t;  // infinity: nothing more
  int64_t target = all;
  double scale = 1;
};

// Makes the input times of one stimulus entry, in time order. The engine owns the targets (the
// populations and ids, per-target weights drawn from "weight" or "amplitude", the receptor) and
// delivers; a generator only says when, to whom and how strongly.
class stimulus_generator {
 public:
  virtual ~stimulus_generator() = default;
  virtual stimulus_event next() = 0;
};

struct stimulus_context {
  uint64_t n_targets = 0;
  double start = 0, stop = 0;  // [start, stop) clipped to the run's duration
  uint64_t seed = 0;
  uint32_t index = 0;          // the entry's position: random draws come from
                               // rng_stream(seed, rng_purpose::stimulus, index)
};

// The inputs of a generator that are independent Poisson trains, one per target, with a
// piecewise-constant rate: rates_hz[k] from times_ms[k] on (nothing before times_ms[0]).
struct poisson_rates {
  std::vector<double> times_ms, rates_hz;
};

struct stimulus_info {
  std::string name, doc, origin;
  // The generator's own keys, besides those every stimulus has (target, ids, weight or
  // amplitude, receptor, start, stop: docs/config.md).
  std::vector<param_info> params;
  // A current source: it drives the models' DC input with "amplitude" (pA) instead of
  // synaptic inputs with "weight" through a receptor.
  bool current = false;
  // Empty when the parameters are fine, otherwise {key path relative to the entry, problem}.
  std::function<std::pair<std::string, std::string>(const json& params)> check;
  std::function<std::unique_ptr<stimulus_generator>(const json& params, const stimulus_context&)> make;
  // Set by generators whose trains are independent Poisson processes per target: a clock backend
  // then draws each target's count of inputs per step, in parallel, instead of taking the
  // generator's events one by one (same law; engine/backends/clock).
  std::function<poisson_rates(const json& params)> independent_poisson;
};

// What a generator of RLS targets (learning/rls) is given: how many neurons are trained, the
// learning times within a presentation, each trained neuron's mean synaptic current over the
// learning window before training (what the reference centres its targets on), and the seed.
struct target_context {
  uint32_t neurons = 0;
  std::vector<double> times_ms;
  std::vector<double> mean_current;
  uint64_t seed = 0;
};

struct target_info {
  std::string name, doc, origin;
  std::vector<param_info> params;
  // Empty when the parameters are fine, otherwise {key path relative to the entry, problem}.
  std::function<std::pair<std::string, std::string>(const json& params)> check;
  // The targets, row-major: neurons rows of times_ms.size() values.
  std::function<std::vector<double>(const json& params, const target_context&)> make;
};

// A loaded plugin library and what it added.
struct plugin_record {
  std::string file, name, built_with;
  std::vector<std::string> models, rules, stimuli, targets;
};

class registry {
 public:
  // Names must be unique across built-ins and plugins. Inside begin_plugin/end_plugin the
  // entries are stamped with the plugin's file as their origin.
  void add_model(model_info m);
  // Gives a registered model its GPU form (model_info::make_cuda); engine/backends/cuda/kernels.cuh
  // has add_gpu_form<Model>(registry&), which a file compiled by nvcc calls.
  void add_gpu_form(const std::string& model,
                    std::function<std::unique_ptr<cuda_population>(population_base&)> make_cuda);
  void add_rule(rule_info r);
  // Gives a registered rule the GPU form of its procedural generator (rule_info::make_cuda);
  // engine/backends/cuda/procedural.cuh has add_procedural_gpu_form<Generator>(registry&, rule).
  void add_rule_gpu_form(const std::string& rule, std::function<std::unique_ptr<cuda_procedural>()> make_cuda);
  void add_stimulus(stimulus_info s);
  void add_target(target_info t);
  void begin_plugin(std::string file, std::string name, std::string built_with);
  void end_plugin();
  const std::vector<plugin_record>& plugins() const { return plugins_; }
  const model_info* find_model(const std::string& name) const;
  const rule_info* find_rule(const std::string& name) const;
  const stimulus_info* find_stimulus(const std::string& name) const;
  const std::vector<stimulus_info>& stimuli() const { return stimuli_; }
  std::vector<std::string> stimulus_names() const;
  const target_info* find_target(const std::string& name) const;
  const std::vector<target_info>& targets() const { return targets_; }
  std::vector<std::string> target_names() const;
  const std::vector<model_info>& models() const { return models_; }
  const std::vector<rule_info>& rules() const { return rules_; }
  std::vector<std::string> model_names() const;
  std::vector<std::string> rule_names() const;

 private:
  std::vector<model_info> models_;
  std::vector<rule_info> rules_;
  std::vector<stimulus_info> stimuli_;
  std::vector<target_info> targets_;
  std::vector<plugin_record> plugins_;
  bool in_plugin_ = false;
};

void register_builtin_models(registry&);
void register_builtin_gpu_forms(registry&);  // with CUDA: models/builtin_gpu.cu
void register_builtin_rules(registry&);
void register_builtin_rule_gpu_forms(registry&);  // with CUDA: plugins/connection_rules_gpu.cu
void register_builtin_stimuli(registry&);
void register_builtin_targets(registry&);  // learning/rls/targets.cpp

// The registry with everything built in; plugins loaded later add to it.
registry& default_registry();

}  // namespace gs
