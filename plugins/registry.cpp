#include "plugins/registry.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace gs {

std::string default_text(const param_info& p) {
  if (p.optional) return "-";
  if (std::isnan(p.default_value)) return "required";
  if (p.kind == param_info::boolean) return p.default_value != 0 ? "true" : "false";
  return fmt::format("{:g}", p.default_value);
}

void registry::add_model(model_info m) {
  if (in_plugin_) m.origin = plugins_.back().file;
  if (const model_info* old = find_model(m.name))
    throw std::runtime_error("cell model \"" + m.name + "\" is registered twice (" + old->origin + " and " +
                             m.origin + ")");
  if (in_plugin_) plugins_.back().models.push_back(m.name);
  models_.push_back(std::move(m));
}

void registry::add_rule(rule_info r) {
  if (in_plugin_) r.origin = plugins_.back().file;
  if (const rule_info* old = find_rule(r.name))
    throw std::runtime_error("connection rule \"" + r.name + "\" is registered twice (" + old->origin + " and " +
                             r.origin + ")");
  if (in_plugin_) plugins_.back().rules.push_back(r.name);
  rules_.push_back(std::move(r));
}

void registry::add_stimulus(stimulus_info st) {
  if (in_plugin_) st.origin = plugins_.back().file;
  if (const stimulus_info* old = find_stimulus(st.name))
    throw std::runtime_error("stimulus generator \"" + st.name + "\" is registered twice (" + old->origin + " and " +
                             st.origin + ")");
  if (in_plugin_) plugins_.back().stimuli.push_back(st.name);
  stimuli_.push_back(std::move(st));
}

const stimulus_info* registry::find_stimulus(const std::string& name) const {
  for (const auto& s : stimuli_)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<std::string> registry::stimulus_names() const {
  std::vector<std::string> n;
  for (const auto& s : stimuli_) n.push_back(s.name);
  return n;
}

void registry::add_target(target_info t) {
  if (in_plugin_) t.origin = plugins_.back().file;
  if (const target_info* old = find_target(t.name))
    throw std::runtime_error("target generator \"" + t.name + "\" is registered twice (" + old->origin + " and " +
                             t.origin + ")");
  if (in_plugin_) plugins_.back().targets.push_back(t.name);
  targets_.push_back(std::move(t));
}

const target_info* registry::find_target(const std::string& name) const {
  for (const auto& t : targets_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> registry::target_names() const {
  std::vector<std::string> n;
  for (const auto& t : targets_) n.push_back(t.name);
  return n;
}

void registry::begin_plugin(std::string file, std::string name, std::string built_with) {
  plugins_.push_back({std::move(file), std::move(name), std::move(built_with), {}, {}, {}, {}});
  in_plugin_ = true;
}

void registry::end_plugin() { in_plugin_ = false; }

void registry::add_gpu_form(const std::string& model,
                            std::function<std::unique_ptr<cuda_population>(population_base&)> make_cuda) {
  for (auto& m : models_)
    if (m.name == model) {
      m.make_cuda = std::move(make_cuda);
      return;
    }
  throw std::runtime_error("a GPU form for cell model \"" + model + "\", which is not registered (add_model first)");
}

void registry::add_rule_gpu_form(const std::string& rule, std::function<std::unique_ptr<cuda_procedural>()> make_cuda) {
  for (auto& r : rules_)
    if (r.name == rule) {
      if (!r.procedural)
        throw std::runtime_error("a GPU form for connection rule \"" + rule + "\", which cannot regenerate its synapses "
                                 "(it sets no rule_info::procedural)");
      r.make_cuda = std::move(make_cuda);
      return;
    }
  throw std::runtime_error("a GPU form for connection rule \"" + rule + "\", which is not registered (add_rule first)");
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

registry& default_registry() {
  static registry reg = [] {
    registry r;
    register_builtin_models(r);
    register_builtin_rules(r);
    register_builtin_stimuli(r);
    register_builtin_targets(r);
    return r;
  }();
  return reg;
}

}  // namespace gs
