#include "io/sonata.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "io/hdf5_handle.hpp"

namespace gs::io {

namespace {

[[noreturn]] void not_sorted(const std::string& name, spike_sorting sorting) {
  throw std::invalid_argument(fmt::format("spike population '{}' is marked {} but is not sorted that way", name,
                                          sorting == spike_sorting::by_time ? "by_time" : "by_id"));
}

// Whether `next` continues data sorted as claimed whose last element was `last` (none before: nullptr).
template <class T>
bool continues_sorted(std::span<const T> next, const T* last) {
  return std::ranges::is_sorted(next) && (!last || next.empty() || next.front() >= *last);
}

void check_lengths(const std::string& name, std::size_t timestamps, std::size_t node_ids) {
  if (timestamps != node_ids) {
    throw std::invalid_argument(
        fmt::format("spike population '{}' has {} timestamps but {} node ids", name, timestamps, node_ids));
  }
}

void validate(const spike_population& pop) {
  h5::require_component(pop.name, "spike population name");
  check_lengths(pop.name, pop.timestamps_ms.size(), pop.node_ids.size());
  const bool sorted = pop.sorting == spike_sorting::by_time ? continues_sorted<double>(pop.timestamps_ms, nullptr)
                      : pop.sorting == spike_sorting::by_id ? continues_sorted<std::uint64_t>(pop.node_ids, nullptr)
                                                            : true;
  if (!sorted) not_sorted(pop.name, pop.sorting);
}

h5::handle sorting_type(const std::filesystem::path& path) {
  auto type = h5::make(H5Tenum_create(H5T_NATIVE_UINT8), H5Tclose, path, "create sorting enum type");
  for (const auto& [name, value] : {std::pair{"none", spike_sorting::none}, std::pair{"by_id", spike_sorting::by_id},
                                    std::pair{"by_time", spike_sorting::by_time}}) {
    h5::check(H5Tenum_insert(type.get(), name, &value), path, fmt::format("add {} to sorting enum type", name));
  }
  return type;
}

// SONATA's signature and /spikes, then one group per population with its sorting attribute; the
// datasets /spikes/<name>/{timestamps,node_ids} are the caller's.
void write_layout(h5::writer& out, const std::filesystem::path& path,
                  std::span<const sonata_spike_writer::population> pops) {
  const std::uint32_t magic = 0x0A7A;  // SONATA's file signature and format version
  const std::uint32_t version[2] = {0, 1};
  out.attribute("/", "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, 0, &magic);
  out.attribute("/", "version", H5T_STD_U32LE, H5T_NATIVE_UINT32, 2, version);
  out.group("/spikes");
  const auto sorting = sorting_type(path);
  for (const auto& pop : pops) {
    const std::string group = "/spikes/" + pop.name;
    out.group(group);
    out.attribute(group, "sorting", sorting.get(), sorting.get(), 0, &pop.sorting);
  }
}

}  // namespace

void write_sonata_spikes(const std::filesystem::path& path, std::span<const spike_population> pops) {
  std::ranges::for_each(pops, validate);
  staged_file staged(path);
  h5::writer out(staged.temp(), path);
  std::vector<sonata_spike_writer::population> layout;
  for (const auto& pop : pops) layout.push_back({pop.name, pop.sorting});
  write_layout(out, path, layout);
  for (const auto& pop : pops) {
    const std::string group = "/spikes/" + pop.name;
    const hsize_t n = pop.timestamps_ms.size();
    out.dataset(group + "/timestamps", {n}, pop.timestamps_ms.data());
    out.string_attribute(group + "/timestamps", "units", "ms");
    out.dataset(group + "/node_ids", {n}, pop.node_ids.data());
  }
  out.close();
  staged.commit();
}

struct sonata_spike_writer::state {
  population spec;
  h5::growing_dataset<double> timestamps;
  h5::growing_dataset<std::uint64_t> node_ids;
  double last_time = 0;
  std::uint64_t last_id = 0;
};

sonata_spike_writer::sonata_spike_writer(const std::filesystem::path& path, std::span<const population> pops)
    : staged_(path) {
  for (const auto& pop : pops) h5::require_component(pop.name, "spike population name");
  out_ = std::make_unique<h5::writer>(staged_.temp(), path);
  write_layout(*out_, path, pops);
  for (const auto& pop : pops) {
    const std::string group = "/spikes/" + pop.name;
    auto timestamps = out_->growing<double>(group + "/timestamps");
    out_->string_attribute(group + "/timestamps", "units", "ms");
    pops_.push_back({pop, std::move(timestamps), out_->growing<std::uint64_t>(group + "/node_ids")});
  }
}

sonata_spike_writer::~sonata_spike_writer() = default;

void sonata_spike_writer::append(std::size_t pop, std::span<const double> timestamps_ms,
                                 std::span<const std::uint64_t> node_ids) {
  state& s = pops_.at(pop);
  check_lengths(s.spec.name, timestamps_ms.size(), node_ids.size());
  if (timestamps_ms.empty()) return;
  const bool first = s.timestamps.size() == 0;
  const bool sorted = s.spec.sorting == spike_sorting::by_time
                          ? continues_sorted(timestamps_ms, first ? nullptr : &s.last_time)
                      : s.spec.sorting == spike_sorting::by_id ? continues_sorted(node_ids, first ? nullptr : &s.last_id)
                                                               : true;
  if (!sorted) not_sorted(s.spec.name, s.spec.sorting);
  s.timestamps.append(timestamps_ms);
  s.node_ids.append(node_ids);
  s.last_time = timestamps_ms.back();
  s.last_id = node_ids.back();
}

void sonata_spike_writer::finish() {
  pops_.clear();  // the datasets close before the file
  out_->close();
  staged_.commit();
}

}  // namespace gs::io
