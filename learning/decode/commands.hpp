// What `gillespike learn surrogate` does, behind the option parsing in tools/gillespike.cpp:
// decodes a continuous variable from recorded spikes with a surrogate-gradient spiking network
// and, on the same binned data, MLP and GRU baselines; prints and writes their R^2.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "learning/decode/train.hpp"

namespace gs::decode {

struct surrogate_options {
  std::filesystem::path data;         // phy folder, run output folder or SONATA .h5
  std::filesystem::path target;       // JSON time series (data.hpp's target_series)
  std::filesystem::path config_file;  // optional JSON {"data": {...}, "snn": {...}, "mlp": {...}, "gru": {...}, "train": {...}}
  std::vector<std::string> sets;      // overrides, e.g. "snn.surrogate=\"arctan\"", "train.epochs=5"
  std::filesystem::path output;       // optional JSON results with the learning curves
  bool quiet = false;
};

// Every setting, defaults filled in; refuses unknown sections and keys (with the closest name),
// wrong types and out-of-range values, naming the source and the JSON path.
struct decode_settings {
  double bin_ms = 10, start_ms = -1, stop_ms = -1;  // -1: the target's span
  double train_fraction = 0.7, val_fraction = 0.15;
  surrogate::snn_config snn;
  int mlp_hidden = 64, mlp_history = 10, gru_hidden = 64;
  train_config train;
};
decode_settings parse_settings(const nlohmann::json& j, const std::string& source);

struct decode_report {
  binned_data data;
  bin_split split;
  std::vector<fit_result> fits;  // snn, mlp, gru
};
// The whole task on data already read: bins, standardises, trains the three decoders. A window
// reaching past `run_end_ms` (the run's duration, when known; negative when not) is refused.
decode_report run_decoders(const predictor::spike_train& spikes, const target_series& target,
                           const decode_settings& s, double run_end_ms = -1);

// Reads, runs, prints the table and writes `output`; returns the exit status.
int run_surrogate(const surrogate_options& o);

}  // namespace gs::decode
