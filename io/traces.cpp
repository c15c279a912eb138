#include "io/traces.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "io/hdf5_handle.hpp"
#include "io/staged_file.hpp"

namespace gs::io {

namespace {

void validate(const trace_group& g) {
  h5::require_component(g.name, "trace group name");
  if (g.variables.size() != g.values.size()) {
    throw std::invalid_argument(fmt::format("trace group '{}' names {} variables but has {} value arrays", g.name,
                                            g.variables.size(), g.values.size()));
  }
  const std::size_t expected = g.times_ms.size() * g.node_ids.size();
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    h5::require_component(g.variables[v].first, "trace variable name");
    if (g.values[v].size() != expected) {
      throw std::invalid_argument(
          fmt::format("trace group '{}' variable '{}' has {} values, expected {} samples x {} ids", g.name,
                      g.variables[v].first, g.values[v].size(), g.times_ms.size(), g.node_ids.size()));
    }
  }
}

}  // namespace

void write_traces(const std::filesystem::path& path, std::span<const trace_group> groups) {
  std::ranges::for_each(groups, validate);
  staged_file staged(path);
  h5::writer out(staged.temp(), path);
  for (const auto& g : groups) {
    const std::string group = "/" + g.name;
    const hsize_t samples = g.times_ms.size();
    const hsize_t ids = g.node_ids.size();
    out.group(group);
    out.string_attribute(group, "population", g.population);
    out.dataset(group + "/time", {samples}, g.times_ms.data());
    out.string_attribute(group + "/time", "units", "ms");
    out.dataset(group + "/node_ids", {ids}, g.node_ids.data());
    for (std::size_t v = 0; v < g.variables.size(); ++v) {
      const std::string dataset = group + "/" + g.variables[v].first;
      out.dataset(dataset, {samples, ids}, g.values[v].data());
      out.string_attribute(dataset, "units", g.variables[v].second);
    }
  }
  out.close();
  staged.commit();
}

}  // namespace gs::io
