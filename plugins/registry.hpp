// The registry of cell models and connection rules, looked up by name. Built-in models and rules
// register through the same calls an outside plugin uses (register_builtin_*), so there is one
// mechanism whether a model is compiled in or loaded.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gs {

using json = nlohmann::ordered_json;
class population_base;
struct population_spec;

// A parameter or state variable as `info`, the docs and the config validator see it.
struct param_info {
  std::string name, unit, doc;
  double default_value = 0;
  enum kind_t { number, integer, boolean } kind = number;
};

struct model_info {
  std::string name, doc, origin;  // origin: "built-in" or the plugin file
  std::vector<param_info> params, state;
  std::vector<std::string> receptors;
  // Creates the population: per-neuron parameters and initial state drawn from the spec.
  std::function<std::unique_ptr<population_base>(const population_spec&, uint64_t seed,
                                                 uint32_t pop_index, uint32_t first_gid)>
      make;
};

// Where a rule sends the synapses it generates, as population-local (source, target) pairs.
struct synapse_sink {
  virtual void add(uint32_t source, uint32_t target) = 0;
  virtual ~synapse_sink() = default;
};

struct rule_context {
  uint32_t n_source = 0, n_target = 0;
  bool same_population = false;  // autapses only exist when source and target coincide
  uint64_t seed = 0;
  uint32_t projection = 0;       // index of the internal projection, keys its random stream
};

struct rule_info {
  std::string name, doc, origin;
  std::vector<param_info> params;
  // Empty when the parameters fit the populations, otherwise the problem (e.g. p outside [0,1]).
  std::function<std::string(const json& params, const rule_context&)> check;
  // Must emit the same synapses in the same order every time it is called with the same input:
  // the builder calls it twice (count, then fill) to build CSR without a temporary edge list.
  std::function<void(const json& params, const rule_context&, synapse_sink&)> generate;
};

class registry {
 public:
  void add_model(model_info m);
  void add_rule(rule_info r);
  const model_info* find_model(const std::string& name) const;
  const rule_info* find_rule(const std::string& name) const;
  const std::vector<model_info>& models() const { return models_; }
  const std::vector<rule_info>& rules() const { return rules_; }
  std::vector<std::string> model_names() const;
  std::vector<std::string> rule_names() const;

 private:
  std::vector<model_info> models_;
  std::vector<rule_info> rules_;
};

void register_builtin_models(registry&);
void register_builtin_rules(registry&);

// The registry with everything built in; plugins loaded later add to it.
registry& default_registry();

}  // namespace gs
