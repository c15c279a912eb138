// What `gillespike predict train` and `gillespike predict eval` do, behind the option parsing in
// tools/gillespike.cpp. Bad input (data, configuration, checkpoints) throws data_error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gs::predictor {

struct train_options {
  std::filesystem::path data;         // phy folder, run output folder or SONATA .h5
  std::filesystem::path out_dir;      // receives GiT{epoch}.model / .optim
  std::filesystem::path config_file;  // optional JSON {"model": {...}, "train": {...}}
  std::vector<std::string> sets;      // overrides, e.g. "model.width=64", "train.epochs=3"
  std::filesystem::path resume;       // optional GiT{epoch}.model to continue from
  std::string device = "cpu";         // cpu | cuda (the GPU path, builds with CUDA only)
  bool quiet = false;
};
// Trains (or resumes) and prints one line per epoch; returns the exit status.
int run_train(const train_options& o);

struct eval_options {
  std::filesystem::path model;  // GiT{epoch}.model
  std::filesystem::path data;   // the whole recording: the split is the one the model was trained with
  std::filesystem::path output; // JSON results; default: next to the model, GiT{epoch}.eval.json
  std::string split = "test";   // test | validation
  int stride = 0;               // 0: half the context
  int threads = 0;              // 0: all cores
  std::string device = "cpu";   // cpu | cuda: the transformer's forward passes on the GPU
  std::vector<double> hawkes_betas = {0.2, 1.0, 5.0};  // per ms, the grid for the kernels' decay rate
  int hawkes_iterations = 20;   // EM steps per beta
  std::string hawkes_kernels = "population";  // population (shared by population pairs) | neuron
  std::filesystem::path true_run;  // optional: the run file of a hawkes_linear network that made the data
};
// Scores the transformer and the Poisson and Hawkes baselines (fitted on the training split) on
// the same events, and with true_run the generating Hawkes network too; prints and writes JSON.
int run_eval(const eval_options& o);

struct sample_options {
  std::filesystem::path model;    // GiT{epoch}.model
  std::filesystem::path data;     // the recording the model was trained on: history and held-out spikes
  std::filesystem::path out_dir;  // receives phy/, spikes.h5 and comparison.json
  double duration_ms = 0;         // 0: as long as the test split
  std::uint64_t seed = 1;
  double sample_rate = 30000;     // Hz, for phy's spike_times.npy
};
// Continues the recording from the start of its test split, writes the generated spikes in the
// simulator's formats, and prints and writes their comparison with the test split.
int run_sample(const sample_options& o);

}  // namespace gs::predictor
