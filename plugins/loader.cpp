#include "plugins/loader.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdlib>
#include <set>

#include "plugins/plugin.hpp"

namespace gs {

namespace {

std::vector<std::filesystem::path> search_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("GILLESPIKE_PLUGIN_PATH")) {
    std::string s = env;
    for (size_t b = 0; b <= s.size();) {
      const size_t e = std::min(s.find(':', b), s.size());
      if (e > b) dirs.emplace_back(s.substr(b, e - b));
      b = e + 1;
    }
  }
  // Installed plugins live beside this library: <prefix>/lib/gillespike/plugins.
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&search_dirs), &self) && self.dli_fname)
    dirs.push_back(std::filesystem::path(self.dli_fname).parent_path() / "gillespike" / "plugins");
  return dirs;
}

std::string search_path_text() {
  std::string s;
  for (const auto& d : search_dirs()) s += (s.empty() ? "" : ", ") + d.string();
  return s;
}

}  // namespace

std::filesystem::path find_plugin(const std::string& entry, const std::filesystem::path& base) {
  if (entry.find('/') != std::string::npos) {
    const std::filesystem::path p = base / entry;  // an absolute entry replaces base
    if (!std::filesystem::exists(p)) throw plugin_error(fmt::format("plugin file {} does not exist", p.string()));
    return p;
  }
  for (const auto& dir : search_dirs())
    for (const std::string& file : {entry, "lib" + entry + ".so", entry + ".so"})
      if (std::filesystem::is_regular_file(dir / file)) return dir / file;
  const std::string where = search_path_text();
  throw plugin_error(fmt::format("no plugin \"{0}\" (looked for {0}, lib{0}.so and {0}.so in {1})", entry,
                                 where.empty() ? "an empty search path" : where));
}

std::vector<std::filesystem::path> plugins_on_search_path() {
  std::vector<std::filesystem::path> out;
  for (const auto& dir : search_dirs()) {
    std::error_code ec;
    std::vector<std::filesystem::path> here;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.is_regular_file() && e.path().extension() == ".so") here.push_back(e.path());
    std::sort(here.begin(), here.end());
    out.insert(out.end(), here.begin(), here.end());
  }
  return out;
}

void load_plugin(registry& reg, const std::filesystem::path& file) {
  std::error_code ec;
  const std::filesystem::path canon = std::filesystem::weakly_canonical(file, ec);
  const std::string name = (ec ? file : canon).string();
  for (const auto& p : reg.plugins())
    if (p.file == name) return;

  // Never closed: the registered models' code lives in the library.
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw plugin_error(fmt::format("cannot load plugin {}: {}", name, dlerror()));
  using entry_fn = const plugin_entry* (*)();
  auto fn = reinterpret_cast<entry_fn>(dlsym(handle, plugin_symbol));
  if (!fn)
    throw plugin_error(fmt::format("{} is not a gillespike plugin: it has no symbol \"{}\" (declare one with "
                                   "GILLESPIKE_PLUGIN(name, function) from plugins/plugin.hpp)",
                                   name, plugin_symbol));
  const plugin_entry* e = fn();
  if (!e) throw plugin_error(fmt::format("{}: {}() returned no plugin entry", name, plugin_symbol));
  if (e->abi != GILLESPIKE_PLUGIN_ABI)
    throw plugin_error(fmt::format("{} was built for plugin ABI version {}, this gillespike {} has version {}; "
                                   "rebuild the plugin against this gillespike's headers",
                                   name, e->abi, GILLESPIKE_VERSION, GILLESPIKE_PLUGIN_ABI));
  if (e->cxx11_strings != cxx11_strings)
    throw plugin_error(fmt::format("{} was built with _GLIBCXX_USE_CXX11_ABI={}, this gillespike with {}; "
                                   "rebuild the plugin with the same standard library settings",
                                   name, e->cxx11_strings, cxx11_strings));
  if (!e->register_all) throw plugin_error(fmt::format("{}: the plugin entry has no registration function", name));

  // All or nothing: a plugin that fails half-way (a name registered twice) leaves no trace.
  registry staged = reg;
  staged.begin_plugin(name, e->name ? e->name : "", e->built_with ? e->built_with : "");
  try {
    e->register_all(staged);
  } catch (const std::exception& ex) {
    throw plugin_error(fmt::format("plugin {} failed to register: {}", name, ex.what()));
  } catch (...) {
    throw plugin_error(fmt::format("plugin {} failed to register: it threw something that is not a std::exception", name));
  }
  staged.end_plugin();
  reg = std::move(staged);
}

}  // namespace gs
