#include "plugins/registry.hpp"

#include <stdexcept>

#include "engine/population.hpp"
#include "models/lif_psc_delta.hpp"
#include "models/lif_psc_exp.hpp"
#include "models/parrot_neuron.hpp"

namespace gs {

void registry::add_model(model_info m) {
  if (find_model(m.name))
    throw std::runtime_error("cell model \"" + m.name + "\" is registered twice (" + m.origin + ")");
  models_.push_back(std::move(m));
}

void registry::add_rule(rule_info r) {
  if (find_rule(r.name))
    throw std::runtime_error("connection rule \"" + r.name + "\" is registered twice (" + r.origin + ")");
  rules_.push_back(std::move(r));
}

const model_info* registry::find_model(const std::string& name) const {
  for (const auto& m : models_)
    if (m.name == name) return &m;
  return nullptr;
}

const rule_info* registry::find_rule(const std::string& name) const {
  for (const auto& r : rules_)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> registry::model_names() const {
  std::vector<std::string> n;
  for (const auto& m : models_) n.push_back(m.name);
  return n;
}

std::vector<std::string> registry::rule_names() const {
  std::vector<std::string> n;
  for (const auto& r : rules_) n.push_back(r.name);
  return n;
}

void register_builtin_models(registry& reg) {
  reg.add_model(describe_model<lif_psc_exp>("built-in"));
  reg.add_model(describe_model<lif_psc_delta>("built-in"));
  reg.add_model(describe_model<parrot_neuron>("built-in"));
}

registry& default_registry() {
  static registry reg = [] {
    registry r;
    register_builtin_models(r);
    register_builtin_rules(r);
    return r;
  }();
  return reg;
}

}  // namespace gs
