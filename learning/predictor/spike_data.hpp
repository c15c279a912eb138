// The spike trains the predictor learns from: one time-ordered sequence of (time, token) events
// read from the simulator's outputs (a phy folder, a SONATA spikes file or the NWB export), where a token is a
// neuron's index in a vocabulary of populations; and the chronological train/validation/test split.
#pragma once

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace gs::predictor {

// Bad input data (empty, mismatched, unsorted, unknown neurons): the CLI exits with status 2.
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Tokens offset .. offset + size - 1 are this population's node ids 0 .. size - 1.
struct population_range {
  std::string name;
  int offset = 0, size = 0;
};

struct spike_train {
  std::vector<double> t_ms;  // non-decreasing
  std::vector<int> ids;      // tokens, 0 .. vocabulary() - 1
  std::vector<population_range> populations;
  std::string source;        // file or folder, for messages
  int vocabulary() const { return populations.empty() ? 0 : populations.back().offset + populations.back().size; }
  std::size_t size() const { return t_ms.size(); }
};

// A phy folder: spikes.times.npy (float64 s) when present, else spike_times.npy (int64 samples)
// divided by params.py's sample_rate; spike_clusters.npy (int32) as the ids of one population "phy".
spike_train read_phy(const std::filesystem::path& dir);
// A SONATA spikes file: every population under /spikes, merged in time order; tokens number the
// populations one after another (in the file's order), each sized by its largest node id + 1.
spike_train read_sonata(const std::filesystem::path& file);
// An NWB file's units table (the annotated export, spikes.nwb): spike_times (s) split by
// spike_times_index, each unit's neuron_id as its id, in one population "nwb".
spike_train read_nwb(const std::filesystem::path& file);
// A .h5 file is SONATA and a .nwb file NWB; a folder is a phy folder, or a run's output folder
// holding phy/, spikes.h5 or spikes.nwb.
spike_train read_spikes(const std::filesystem::path& path);

// Re-numbers `train`'s tokens in a model's vocabulary (same population names); throws data_error
// naming the file for a population the vocabulary lacks or a node id beyond its size.
void use_vocabulary(spike_train& train, const std::vector<population_range>& vocabulary);

// Chronological split by event count: events [0, train_end) train, [train_end, val_end) validate,
// [val_end, n) test.
struct split {
  std::size_t train_end = 0, val_end = 0, n = 0;
};
split chronological_split(std::size_t n, double train_fraction, double val_fraction);

}  // namespace gs::predictor
