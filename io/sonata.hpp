// SONATA spike output (spikes.h5): one group per node population under /spikes, the layout that
// libsonata, bmtk and NEST's SONATA readers load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace gs::io {

// Stored as the HDF5 enum attribute `sorting`; readers binary-search on it, so it must be true.
enum class spike_sorting : std::uint8_t { none = 0, by_id = 1, by_time = 2 };

struct spike_population {  // one node population's spikes
  std::string name;
  std::span<const double> timestamps_ms;
  std::span<const std::uint64_t> node_ids;  // population-local ids (SONATA node_ids)
  spike_sorting sorting;
};

// Writes through a staged_file. Throws std::invalid_argument when a population's spans differ in
// length, its name is not a plain HDF5 name, or its data is not sorted as it claims;
// std::runtime_error naming the file and the operation when HDF5 or the file system fails.
void write_sonata_spikes(const std::filesystem::path& path, std::span<const spike_population> pops);

}  // namespace gs::io
