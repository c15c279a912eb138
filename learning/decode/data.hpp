// The decoding task's data: a continuous target (a stimulus value, a velocity) read from a JSON
// time series, the recorded spikes counted in bins of the clock step, the chronological
// train/validation/test split, standardisation from the training split, and R^2.
#pragma once

#include <Eigen/Core>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "learning/predictor/spike_data.hpp"

namespace gs::decode {

using predictor::data_error;
using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The JSON object in `file`, or data_error naming the file (`what` says what it was for).
nlohmann::json read_json_object(const std::filesystem::path& file, const std::string& what);

// {"names": [...], "times_ms": [...], "end_ms": e, "values": [[...], ...]}: values[k] (one number
// per name) holds from times_ms[k] until times_ms[k + 1], the last until end_ms.
struct target_series {
  std::vector<std::string> names;
  std::vector<double> times_ms;
  double end_ms = 0;
  std::vector<std::vector<double>> values;
  std::string source;
};
// Refuses, naming the file and the JSON path: missing or unknown keys, values rows of the wrong
// length, non-finite numbers, times that do not increase, end_ms not after the last time.
target_series read_target(const std::filesystem::path& file);

// Spike counts per bin (bins x neurons) and the target averaged over each bin (bins x outputs),
// for bins of bin_ms from start_ms to stop_ms.
struct binned_data {
  matrix counts, target;
  std::vector<std::string> names;
  double start_ms = 0, bin_ms = 0;
  std::size_t spikes = 0;  // in the window
};
// start_ms and stop_ms must lie within the target's span and the window must hold at least one
// bin; spikes must not run past the target's end (the target would not cover the recording).
binned_data bin_data(const predictor::spike_train& spikes, const target_series& target, double bin_ms,
                     double start_ms, double stop_ms);

// Bins [0, train_end) train, [train_end, val_end) validate, [val_end, n) test.
struct bin_split {
  Eigen::Index train_end = 0, val_end = 0, n = 0;
};
bin_split split_bins(Eigen::Index n, double train_fraction, double val_fraction);

// Column means and standard deviations of rows [0, rows) (sd 1 where a column is constant).
struct standardiser {
  Eigen::RowVectorXd mean, sd;
  static standardiser fit(const matrix& m, Eigen::Index rows);
  matrix apply(const matrix& m) const;
};

// Per column over rows [first, end): 1 - sum (y - p)^2 / sum (y - mean y)^2.
std::vector<double> r_squared(const matrix& y, const matrix& prediction, Eigen::Index first, Eigen::Index end);

}  // namespace gs::decode
