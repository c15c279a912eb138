// An out-of-tree connection rule: a ring lattice. Source i connects to the `k` targets that
// follow it (i+1, ..., i+k, wrapping around), and with "both_sides" also to the k before it,
// as in Watts-Strogatz networks before rewiring. Source and target populations have equal size.
// It can also draw a source's synapses again on demand ("procedural": true in a run file), on the
// CPU and, when nvcc compiles this file, on the GPU.
#include <fmt/format.h>

#include "engine/host_device.hpp"  // GS_HD
#include "plugins/plugin.hpp"

namespace {

// One source's targets among ids [chunk * procedural_chunk, ...), in increasing order: the
// neighbourhood [i - back, i + k] around source i without i, which wraps around the ring into at
// most two intervals of ids.
struct ring_chunks {
  uint32_t n, k, back;  // back: k with both_sides, else 0

  GS_HD uint32_t operator()(uint32_t i, uint32_t chunk, uint32_t* out) const {
    const int64_t first = int64_t(chunk) * gs::procedural_chunk, last = first + gs::procedural_chunk;
    const int64_t lo = int64_t(i) - back, hi = int64_t(i) + k;  // unwrapped, lo <= i <= hi
    // The intervals [a, b] in increasing order: wrapped below 0, wrapped above n - 1, or neither.
    int64_t a[2] = {lo, 0}, b[2] = {hi, -1};
    if (lo < 0) a[0] = 0, b[0] = hi, a[1] = lo + n, b[1] = n - 1;
    if (hi >= int64_t(n)) a[0] = 0, b[0] = hi - n, a[1] = lo, b[1] = n - 1;
    uint32_t m = 0;
    for (int r = 0; r < 2; ++r)
      for (int64_t t = a[r] > first ? a[r] : first; t <= b[r] && t < last; ++t)
        if (t != i) out[m++] = static_cast<uint32_t>(t);
    return m;
  }
};

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
  r.procedural = [](const gs::json& p, const gs::rule_context& c) -> gs::chunk_generator {
    const uint32_t k = p["k"].get<uint32_t>();
    return ring_chunks{c.n_target, k, p["both_sides"].get<bool>() ? k : 0};
  };
  reg.add_rule(std::move(r));
#if defined(__CUDACC__)
  gs::add_procedural_gpu_form<ring_chunks>(reg, "ring");  // compiled by nvcc: procedural on the GPU too
#endif
}

}  // namespace

GILLESPIKE_PLUGIN("ring", register_ring)
