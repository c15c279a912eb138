// A plugin whose registration throws something that is not a std::exception: still a clear
// refusal, not a crash.
#include "plugins/plugin.hpp"

namespace {
void add(gs::registry&) { throw 42; }
}  // namespace

GILLESPIKE_PLUGIN("throws_int", add)
