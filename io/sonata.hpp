// SONATA spike output (spikes.h5): one group per node population under /spikes, the layout that
// libsonata, bmtk and NEST's SONATA readers load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <memory>
#include <string>
#include <vector>

#include "io/staged_file.hpp"

namespace gs::io {

namespace h5 {
class writer;
}

// Stored as the HDF5 enum attribute `sorting`; readers binary-search on it, so it must be true.
enum class spike_sorting : std::uint8_t { none = 0, by_id = 1, by_time = 2 };

struct spike_population {  // one node population's spikes
  std::string name;
  std::span<const double> timestamps_ms;
  std::span<const std::uint64_t> node_ids;  // population-local ids (SONATA node_ids)
  spike_sorting sorting;
};

// Spikes written as they come (a run's recording, batch by batch), each population's into datasets
// that grow; write_sonata_spikes below writes whole arrays. Through a staged_file: the file
// appears only after finish(), and a writer dropped unfinished leaves nothing.
class sonata_spike_writer {
 public:
  struct population {
    std::string name;
    spike_sorting sorting;  // what the data will keep, checked as it arrives
  };
  sonata_spike_writer(const std::filesystem::path& path, std::span<const population> pops);
  ~sonata_spike_writer();

  // Appends to population `pop` (an index into the constructor's list). Throws
  // std::invalid_argument as write_sonata_spikes does, when the data breaks the sorting.
  void append(std::size_t pop, std::span<const double> timestamps_ms, std::span<const std::uint64_t> node_ids);
  void finish();

 private:
  struct state;
  staged_file staged_;
  std::unique_ptr<h5::writer> out_;
  std::vector<state> pops_;
};

// Writes through a staged_file. Throws std::invalid_argument when a population's spans differ in
// length, its name is not a plain HDF5 name, or its data is not sorted as it claims;
// std::runtime_error naming the file and the operation when HDF5 or the file system fails.
void write_sonata_spikes(const std::filesystem::path& path, std::span<const spike_population> pops);

}  // namespace gs::io
