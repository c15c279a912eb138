// Registers a new model, then one whose name is taken: the loader must refuse the plugin and
// keep neither (all or nothing).
#include "engine/population.hpp"
#include "models/lif_psc_delta.hpp"
#include "plugins/plugin.hpp"

namespace {
struct renamed : gs::lif_psc_delta {
  static constexpr std::string_view name = "test_duplicate_first";
};
void add(gs::registry& reg) {
  reg.add_model(gs::describe_model<renamed>());
  reg.add_model(gs::describe_model<gs::lif_psc_delta>());
}
}  // namespace

GILLESPIKE_PLUGIN("duplicate_model", add)
