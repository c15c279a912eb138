// Loads plugin libraries into a registry: by path, or by name from the search path
// GILLESPIKE_PLUGIN_PATH (directories separated by ':') and the installed plugin folder.
#pragma once
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/registry.hpp"

namespace gs {

// A plugin that cannot be used; the message names the file and what is wrong with it.
struct plugin_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The file a plugin entry of a run file means: a path (with a '/', relative to `base`) or a name
// looked up as NAME, libNAME.so and NAME.so in the search path. Throws plugin_error.
std::filesystem::path find_plugin(const std::string& entry, const std::filesystem::path& base);

// Loads the library and registers what it adds, all or nothing; a file already loaded is not
// loaded twice. Throws plugin_error.
void load_plugin(registry& reg, const std::filesystem::path& file);

// Every plugin library (*.so) in the search path directories, in path order.
std::vector<std::filesystem::path> plugins_on_search_path();

}  // namespace gs
