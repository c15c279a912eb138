// A plugin that needs a symbol nothing defines: dlopen must fail and the loader say why.
#include "plugins/plugin.hpp"

extern "C" void gs_test_symbol_that_nobody_defines();

namespace {
void add(gs::registry&) { gs_test_symbol_that_nobody_defines(); }
}  // namespace

GILLESPIKE_PLUGIN("undefined_symbol", add)
