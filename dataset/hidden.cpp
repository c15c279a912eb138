#include "dataset/hidden.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/network.hpp"
#include "engine/rng.hpp"
#include "io/config.hpp"

namespace gs {

std::vector<uint8_t> hidden_mask(const run_config& cfg, std::vector<std::array<double, 2>>* centres) {
  const hidden_spec& h = cfg.hidden;
  uint64_t first = 0;
  std::vector<uint8_t> mask;
  if (centres) centres->assign(cfg.populations.size(), {std::nan(""), std::nan("")});
  for (size_t p = 0; p < cfg.populations.size(); ++p) {
    const population_spec& ps = cfg.populations[p];
    mask.resize(first + ps.size, 0);
    const bool listed = h.populations.empty() ||
                        std::find(h.populations.begin(), h.populations.end(), ps.name) != h.populations.end();
    const auto k = static_cast<size_t>(std::llround(h.fraction * ps.size));
    if (listed && k > 0) {
      rng_stream rng(h.seed, rng_purpose::hidden, uint32_t(p));
      std::vector<uint32_t> order(ps.size);
      std::iota(order.begin(), order.end(), 0u);
      if (h.selection == "clustered") {
        // The k neurons nearest a point drawn uniformly in the population's bounding box.
        const auto pos = neuron_positions(ps, cfg.seed, uint32_t(p));
        position lo = pos[0], hi = pos[0];
        for (const auto& q : pos)
          for (int d = 0; d < 2; ++d) lo[d] = std::min(lo[d], q[d]), hi[d] = std::max(hi[d], q[d]);
        const double cx = lo[0] + rng.uniform() * (hi[0] - lo[0]), cy = lo[1] + rng.uniform() * (hi[1] - lo[1]);
        if (centres) (*centres)[p] = {cx, cy};
        auto d2 = [&](uint32_t i) { return (pos[i][0] - cx) * (pos[i][0] - cx) + (pos[i][1] - cy) * (pos[i][1] - cy); };
        std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return d2(a) < d2(b); });
      } else {
        for (size_t m = 0; m < k; ++m) std::swap(order[m], order[m + rng.below(ps.size - m)]);  // partial Fisher-Yates
      }
      for (size_t m = 0; m < k; ++m) mask[first + order[m]] = 1;
    }
    first += ps.size;
  }
  return mask;
}

}  // namespace gs
