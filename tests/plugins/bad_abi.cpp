// A plugin built for another ABI version: the loader must refuse it by its number.
#include "plugins/plugin.hpp"

namespace {
void nothing(gs::registry&) {}
}  // namespace

extern "C" const gs::plugin_entry* gillespike_plugin() {
  static const gs::plugin_entry entry{999, gs::cxx11_strings, "bad_abi", "9.9.9", nothing};
  return &entry;
}
