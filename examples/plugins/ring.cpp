// An out-of-tree connection rule: a ring lattice. Source i connects to the `k` targets that
// follow it (i+1, ..., i+k, wrapping around), and with "both_sides" also to the k before it,
// as in Watts-Strogatz networks before rewiring. Source and target populations have equal size.
#include <fmt/format.h>

#include "plugins/plugin.hpp"

namespace {

void register_ring(gs::registry& reg) {
  gs::rule_info r;
  r.name = "ring";
  r.doc = "ring lattice: each neuron to its k following (and with both_sides, k preceding) neighbours";
  r.params = {{"k", "", "neighbours on each side", 1, gs::param_info::integer},
              {"both_sides", "", "also connect to the k preceding neighbours", 0, gs::param_info::boolean}};
  r.check = [](const gs::json& p, const gs::rule_context& c) -> std::string {
    if (c.n_source != c.n_target)
      return fmt::format("a ring needs populations of equal size, found {} and {}", c.n_source, c.n_target);
    const uint64_t k = p["k"].get<uint64_t>(), sides = p["both_sides"].get<bool>() ? 2 : 1;
    if (k * sides >= c.n_target) return fmt::format("k = {} is too large for a ring of {} neurons", k, c.n_target);
    return {};
  };
  r.generate = [](const gs::json& p, const gs::rule_context& c, gs::synapse_sink& sink) {
    const uint32_t n = c.n_target, k = p["k"].get<uint32_t>();
    const bool both = p["both_sides"].get<bool>();
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t d = 1; d <= k; ++d) {
        sink.add(i, (i + d) % n);
        if (both) sink.add(i, (i + n - d) % n);
      }
  };
  reg.add_rule(std::move(r));
}

}  // namespace

GILLESPIKE_PLUGIN("ring", register_ring)
