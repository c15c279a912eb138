#include "io/sonata.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "io/hdf5_handle.hpp"
#include "io/staged_file.hpp"

namespace gs::io {

namespace {

void validate(const spike_population& pop) {
  h5::require_component(pop.name, "spike population name");
  if (pop.timestamps_ms.size() != pop.node_ids.size()) {
    throw std::invalid_argument(fmt::format("spike population '{}' has {} timestamps but {} node ids", pop.name,
                                            pop.timestamps_ms.size(), pop.node_ids.size()));
  }
  const bool sorted = pop.sorting == spike_sorting::by_time ? std::ranges::is_sorted(pop.timestamps_ms)
                      : pop.sorting == spike_sorting::by_id ? std::ranges::is_sorted(pop.node_ids)
                                                            : true;
  if (!sorted) {
    throw std::invalid_argument(fmt::format("spike population '{}' is marked {} but is not sorted that way",
                                            pop.name, pop.sorting == spike_sorting::by_time ? "by_time" : "by_id"));
  }
}

h5::handle sorting_type(const std::filesystem::path& path) {
  auto type = h5::make(H5Tenum_create(H5T_NATIVE_UINT8), H5Tclose, path, "create sorting enum type");
  for (const auto& [name, value] : {std::pair{"none", spike_sorting::none}, std::pair{"by_id", spike_sorting::by_id},
                                    std::pair{"by_time", spike_sorting::by_time}}) {
    h5::check(H5Tenum_insert(type.get(), name, &value), path, fmt::format("add {} to sorting enum type", name));
  }
  return type;
}

}  // namespace

void write_sonata_spikes(const std::filesystem::path& path, std::span<const spike_population> pops) {
  std::ranges::for_each(pops, validate);
  staged_file staged(path);
  h5::writer out(staged.temp(), path);

  const std::uint32_t magic = 0x0A7A;  // SONATA's file signature and format version
  const std::uint32_t version[2] = {0, 1};
  out.attribute("/", "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &magic);
  out.attribute("/", "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, 2, version);
  out.group("/spikes");

  const auto sorting = sorting_type(path);
  for (const auto& pop : pops) {
    const std::string group = "/spikes/" + pop.name;
    const hsize_t n = pop.timestamps_ms.size();
    out.group(group);
    out.attribute(group, "sorting", sorting.get(), sorting.get(), 0, &pop.sorting);
    out.dataset(group + "/timestamps", {n}, pop.timestamps_ms.data());
    out.string_attribute(group + "/timestamps", "units", "ms");
    out.dataset(group + "/node_ids", {n}, pop.node_ids.data());
  }
  out.close();
  staged.commit();
}

}  // namespace gs::io
