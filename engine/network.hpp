// The network as the engine runs it: populations with consecutive global ids (in run-file
// order) and projections stored as CSR rows per source neuron, one per (source, target) pair
// of populations so that a row is delivered to a single model with one call.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/population.hpp"
#include "engine/procedural.hpp"
#include "io/config.hpp"
#include "plugins/registry.hpp"

namespace gs {

struct projection {
  std::string path;  // the run file entry it comes from, for messages
  uint32_t source = 0, target = 0;  // population indices
  int receptor = 0;
  std::vector<uint64_t> row;        // row[s]..row[s+1]: synapses of source neuron s
  std::vector<uint32_t> targets;    // population-local target ids
  std::vector<float> weights;       // per synapse, or empty when all equal `weight`
  std::vector<float> delays;        // per synapse (rows sorted by delay), or empty: all `delay`
  double weight = 0, delay = 0;
  // Procedural (run file "procedural": true): nothing above is stored but the row offsets' absence.
  // `generate` gives a source's targets chunk by chunk, and regenerate() draws their weights
  // and delays from `values` (engine/backends/clock uses it when the source spikes). The cuda
  // backend finds the device form of `generate` through the rule's name.
  chunk_generator generate;
  synapse_values values;
  std::string rule;
  uint64_t procedural_synapses = 0;  // counted once, when built

  bool procedural() const { return bool(generate); }
  uint64_t synapses() const { return procedural() ? procedural_synapses : targets.size(); }
  // Heap memory held by the synapse arrays, including the row offsets.
  uint64_t bytes() const {
    return row.capacity() * sizeof(uint64_t) + targets.capacity() * sizeof(uint32_t) +
           weights.capacity() * sizeof(float) + delays.capacity() * sizeof(float);
  }
};

struct network {
  std::vector<std::unique_ptr<population_base>> populations;
  std::vector<projection> projections;
  std::vector<std::vector<uint32_t>> outgoing;  // per population: its projections
  std::vector<std::vector<position>> positions;  // per population, empty without "positions"
  uint32_t neurons = 0;

  uint32_t population_of(uint32_t gid) const;
};

// Creates neurons and synapses; throws config_error for problems only found when drawing.
network build_network(const run_config& cfg, const registry& reg);

// The neurons alone (parameters drawn and checked by their models): what `validate` can check
// short of running, without the cost of the synapses.
network build_populations(const run_config& cfg, const registry& reg);

// Where the neurons of a population sit: a grid row-major from the top-left, or uniform in the
// extent from a stream keyed by (seed, population, neuron); empty without "positions".
std::vector<position> neuron_positions(const population_spec& spec, uint64_t seed, uint32_t pop_index);

// One chunk of a procedural projection's synapses from `source` (population-local ids): the
// targets, and per synapse a weight and a delay (ms) when those are drawn (else the arrays are
// not touched and `weight`, `delay` hold). Returns how many, at most procedural_chunk.
uint32_t regenerate(const projection& p, uint32_t source, uint32_t chunk, uint32_t* targets, float* weights,
                    float* delays);

// Puts the synapses [b, e) of a projection's arrays in the order of a 32-bit key per synapse,
// stably: the keys (key, position in the row) are sorted directly, without an indirect
// comparison. key(s) gives synapse s's key; each non-empty array is permuted alike; `keys` is
// scratch reused across rows. Rows of fewer than 2^32 synapses.
template <class Key, class... Arrays>
void sort_synapses(uint64_t b, uint64_t e, std::vector<uint64_t>& keys, Key&& key, Arrays&... arrays) {
  keys.resize(e - b);
  for (uint64_t j = 0; j < e - b; ++j) keys[j] = (uint64_t(key(b + j)) << 32) | j;
  std::sort(keys.begin(), keys.end());
  auto permute = [&](auto& v) {
    if (v.empty()) return;
    std::vector<std::remove_reference_t<decltype(v[0])>> moved(e - b);
    for (uint64_t j = 0; j < e - b; ++j) moved[j] = v[b + static_cast<uint32_t>(keys[j])];
    std::copy(moved.begin(), moved.end(), v.begin() + b);
  };
  (permute(arrays), ...);
}

// One projection between two populations (used by build_network and by tests of the storage).
// Synapses the rule emits with their own weight or delay (synapse_sink's second add) keep them;
// the others take `weight` and `delay`.
projection connect(const rule_info& rule, const json& rule_params, const rule_context& ctx,
                   const value_spec& weight, const value_spec& delay);

}  // namespace gs
