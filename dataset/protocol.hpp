// Stimulus protocols (docs/config.md, "protocol"): a trial is a sequence of blank and stimulus
// segments, repeated for N trials (stimulus order shuffled per trial with a seed); each stimulus
// gives every neuron of the input populations a rate (drifting gratings seen through
// centre-surround receptive fields, or a rate file), delivered as inhomogeneous Poisson trains.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugins/registry.hpp"

namespace gs {

// A sinusoidal grating drifting along its orientation: luminance contrast
// c cos(k (x cos(theta) + y sin(theta)) - 2 pi f t + phase), k = 2 pi spatial_frequency.
struct grating_spec {
  double orientation_deg = 0, spatial_frequency = 1, temporal_frequency_hz = 2, contrast = 1, phase_deg = 0;
};

// Rates in Hz, one row per input neuron (the targets of protocol.inputs in order), one column
// per frame of `frame_ms` from the start of the segment.
struct rate_table {
  std::string path;
  double frame_ms = 1;
  size_t rows = 0, columns = 0;
  std::vector<double> rates;  // row-major
};

struct protocol_stimulus {
  std::string name;
  enum kind_t { grating, rate_file } kind = grating;
  grating_spec g;
  std::shared_ptr<const rate_table> table;
};

// A difference of Gaussians (each of unit integral, the surround scaled by surround_weight):
// the linear filter of an LGN ON (+1) or OFF (-1) cell centred on the neuron's position.
struct receptive_field {
  int polarity = 1;
  double center_sigma = 0, surround_sigma = 0, surround_weight = 0;  // center_sigma 0: a point
  // The filter's gain for a grating of spatial frequency sf (cycles per length unit): its
  // Fourier transform at k = 2 pi sf, exp(-k^2 sc^2 / 2) - w exp(-k^2 ss^2 / 2).
  double gain_at(double spatial_frequency) const;
};

struct protocol_input {
  std::string target, path;
  uint64_t first_row = 0;  // this input's first row in a rate table
  double baseline_hz = 0, gain_hz = 0;
  receptive_field rf;
};

// One segment of one trial on the run's time line.
struct protocol_segment {
  double start = 0, end = 0;  // ms
  uint32_t trial = 0, index = 0;  // index: position within the trial
  int32_t stimulus = -1;          // into protocol_spec::stimuli; -1 for a blank segment
};

// One ML example: a stimulus segment with the second half of the blank before it and the first
// half of the blank after it (or nothing where the neighbour is not blank).
struct protocol_example {
  double start = 0, end = 0;
  uint32_t trial = 0, segment = 0;  // segment: row of the time line
  int32_t stimulus = 0;
  uint8_t split = 0;  // 0 train, 1 validation, 2 test (by trial)
};

struct protocol_spec {
  uint32_t trials = 1;
  struct slot {
    double duration = 0;
    int32_t stimulus = -1;  // -1: blank
  };
  std::vector<slot> segments;  // one trial, as written
  bool shuffle = false;
  uint64_t seed = 1;
  std::vector<double> split{0.8, 0.1, 0.1};  // train, validation, test fractions of the trials
  std::vector<protocol_stimulus> stimuli;
  std::vector<protocol_input> inputs;

  double trial_length() const;
  double length() const { return trial_length() * trials; }
  // Every segment of every trial in time order; shuffled trials permute the stimulus slots
  // (stimulus and duration) among themselves, blanks stay where they are.
  std::vector<protocol_segment> timeline() const;
  std::vector<protocol_example> examples(const std::vector<protocol_segment>& timeline) const;
  // Split of each trial (0 train, 1 validation, 2 test): trials shuffled with the seed and cut
  // by the fractions.
  std::vector<uint8_t> trial_splits() const;
};

// The generator for one input: independent inhomogeneous Poisson trains, one per target neuron,
// at the protocol's rate for that neuron, by thinning a merged train at a per-segment bound.
// `positions` are the targets' (empty when the population has none; then no grating).
std::unique_ptr<stimulus_generator> make_protocol_generator(std::shared_ptr<const protocol_spec> protocol,
                                                            uint32_t input, std::vector<position> positions,
                                                            const stimulus_context& ctx);

// The rate (Hz) of target neuron `i` of input `input` at time t inside segment `seg`, and the
// bound of that rate over the segment; exposed for tests.
double protocol_rate(const protocol_spec& p, uint32_t input, const protocol_segment& seg, uint64_t i,
                     const position& at, double t);
double protocol_rate_bound(const protocol_spec& p, uint32_t input, const protocol_segment& seg);

}  // namespace gs
