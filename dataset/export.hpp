// ML-ready exports of a protocol run (docs/datasets.md, "gillespike export"): the spikes of
// every example (a stimulus segment framed by half blanks) binned into a sparse time x neuron
// count matrix (CSR), in one HDF5 file and one SciPy .npz per example, filed by split. Reads
// spikes.h5 and annotations.h5 of the run folder in chunks, so memory grows with one example,
// not with the recording.
#pragma once
#include <cstdint>
#include <filesystem>

namespace gs {

struct export_options {
  std::filesystem::path run_dir, out_dir;
  double bin_ms = 10;
  uint64_t chunk = 1 << 16;  // spikes read at a time per population
};

struct export_summary {
  uint64_t examples = 0, spikes = 0, nonzeros = 0;
  uint64_t h5_bytes = 0, npz_bytes = 0;
};

// Throws config_error for missing or malformed inputs (exit status 2 in the CLI).
export_summary export_binned(const export_options& opt);

}  // namespace gs
