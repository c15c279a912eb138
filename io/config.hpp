// The JSON run file: parsed, overridden by --set, and validated into plain structs. Every error
// names the file, the dotted JSON path, what was expected and what was found (docs/config.md).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataset/hidden.hpp"
#include "dataset/protocol.hpp"
#include "engine/value.hpp"
#include "plugins/registry.hpp"

namespace gs {

// Bad input: the CLI reports it and exits with status 2.
struct config_error : std::runtime_error {
  config_error(const std::string& file, const std::string& path, const std::string& message);
  std::string file, path, problem;
};

struct rls_spec;  // learning/rls/spec.hpp (not installed: plugins never see it)

struct named_value {
  std::string name;
  value_spec value;
  std::string path;
};

// Where the neurons of a population sit in the plane ("positions"; engine/network.hpp draws them).
struct layout_spec {
  enum kind_t { none, grid, random } kind = none;
  uint32_t rows = 0, columns = 0;  // grid
  position extent{1, 1}, center{0, 0};
  bool periodic = false;  // distances wrap around the extent (a torus)
};

struct population_spec {
  std::string name, model, path;
  uint32_t size = 0;
  std::vector<named_value> params, initial;
  layout_spec positions;
  std::string type;  // "excitatory", "inhibitory" (Dale's law is checked), or empty
  std::string layer;  // a label for the annotations (e.g. "L4"), or empty
};

struct projection_spec {
  std::string name;  // optional, unique: how "learning" sections refer to it
  std::string source, path;
  std::vector<std::string> targets;
  std::string rule;
  json rule_params;  // checked against the rule's parameter table, defaults filled in
  value_spec weight = value_spec::of(1.0), delay = value_spec::of(1.0);
  std::string receptor;  // empty: chosen by the sign of the (constant) weight
  bool procedural = false;  // synapses regenerated when the source spikes, not stored (clock backend)
};

struct stimulus_spec {
  std::string generator, path;  // a registered stimulus generator (registry::find_stimulus)
  json params;                  // its own parameters, checked against its table
  // The generator's factory, copied from the registry (which may grow while this config lives).
  std::function<std::unique_ptr<stimulus_generator>(const json&, const stimulus_context&)> make;
  std::function<poisson_rates(const json&)> independent_poisson;  // likewise (stimulus_info)
  bool current = false;  // a current source: `weight` holds the "amplitude" (pA)
  std::vector<std::string> targets;
  std::vector<uint32_t> ids;  // population-local; empty = every neuron of the targets
  value_spec weight = value_spec::of(1.0);  // per target when drawn
  std::string receptor;
  double start = 0, stop = std::numeric_limits<double>::infinity();
};

struct state_recorder_spec {
  std::string name, population, path;
  std::vector<uint32_t> ids;
  std::vector<std::string> variables;
  double interval = 1.0, start = 0.0;
};

struct run_config {
  std::string file;
  json document;  // the run file after --set, as run
  double duration = 0, min_delay = 0.1;
  uint64_t seed = 1;
  std::string backend = "event";  // "event", "clock" (CPU), or "cuda" (the clock-driven step on a GPU)
  std::string method = "next_reaction";  // event backend: "next_reaction" or "direct" (Gillespie)
  double dt = 0.1;       // ms, the clock-driven backends' step (the event backend has none)
  unsigned threads = 0;  // clock backend: worker threads, 0 = all cores
  std::vector<population_spec> populations;
  std::vector<projection_spec> projections;
  std::vector<stimulus_spec> stimuli;
  std::vector<std::string> spike_populations;  // recorded; all when no spike recorder lists them
  bool record_spikes = false;
  std::vector<state_recorder_spec> state_recorders;
  std::string output_dir = "out";
  std::vector<std::string> formats{"sonata", "phy"};
  double phy_sample_rate = 30000.0;
  std::shared_ptr<const protocol_spec> protocol;  // null without "protocol"
  hidden_spec hidden;
  std::shared_ptr<const rls_spec> rls;  // "learning": {"rls": ...}; null without it

  int population_index(const std::string& name) const;
  // The clock and cuda backends share the time grid, the step order and the delays in steps.
  bool clock_driven() const { return backend != "event"; }
};

// What a rule sees of one (source, target) pair of populations, short of the positions
// themselves (the network fills them in).
rule_context projection_context(const run_config& cfg, uint32_t source, uint32_t target, uint32_t projection);

// Reads and validates; throws config_error on bad input.
// Plugins the file names are loaded into `reg` first.
run_config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       registry& reg);

// Closest of `names` to `word` by edit distance, or empty when nothing is close.
std::string closest_name(const std::string& word, const std::vector<std::string>& names);

}  // namespace gs
