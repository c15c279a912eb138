// Training the next-spike transformer: mini-batches of windows drawn from the training split,
// AdamW with warm-up and cosine decay, gradient clipping; the batch is split into a fixed number
// of chunks that run in parallel (oneTBB) and are summed in a fixed order, so a seed gives the same
// model whatever the thread count. Each epoch ends with the validation NLL and two files,
// GiT{epoch}.model (configuration and weights) and GiT{epoch}.optim (optimizer state and
// progress); resuming from them continues exactly as if training had not stopped.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "learning/nn/optim.hpp"
#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/model.hpp"

namespace gs::predictor {

struct train_config {
  int batch = 16;
  int epochs = 1;
  std::int64_t steps_per_epoch = 0;  // 0: training events / (batch * context), at least 1
  double lr = 2e-3, warmup_fraction = 0.05, final_lr_fraction = 0.1;
  double weight_decay = 0.01, clip = 1.0;
  double train_fraction = 0.8, val_fraction = 0.1;
  std::uint64_t seed = 1;
  int threads = 0;  // 0: all cores
};
nlohmann::json to_json(const train_config& c);
train_config train_config_from_json(const nlohmann::json& j, const std::string& source);

struct epoch_summary {
  int epoch = 0;
  double train_nll = 0;  // mean over the epoch's training windows
  metrics validation;
  double events_per_s = 0;  // training events (window positions) per second
};
nlohmann::json to_json(const epoch_summary& e);

// Everything a checkpoint holds.
struct training_state {
  spike_transformer<float> model;
  nn::adamw<float> optimizer;
  train_config train;
  int epoch = 0;            // epochs completed
  std::int64_t step = 0;    // optimizer steps taken
  std::vector<epoch_summary> history;

  training_state(spike_transformer<float> m, const train_config& t);
};

// (epoch, step within the epoch, steps per epoch, running mean loss, events per second)
using train_progress = std::function<void(int, std::int64_t, std::int64_t, double, double)>;

// A model configuration completed from the data: vocabulary and the standardisation of log
// intervals over the training split.
model_config fit_model_config(model_config c, const spike_train& data, const split& s);

// Starts a training state for `data` (whose split is taken from train_config).
training_state start_training(const spike_train& data, const model_config& c, const train_config& t);
// Runs epochs state.epoch + 1 .. state.train.epochs on data (already in the model's vocabulary),
// writing checkpoints into out_dir after each. device "cuda" runs the steps and the validation on
// the GPU (cuda_model.hpp; builds with CUDA only), on the same windows.
void continue_training(training_state& state, const spike_train& data, const std::filesystem::path& out_dir,
                       const train_progress& progress = {}, const std::string& device = "cpu");

void save_checkpoint(training_state& state, const std::filesystem::path& out_dir);
// `model_file` is GiT{epoch}.model; its .optim sibling is read too when with_optimizer. Without it,
// the state has the model and, of the training settings, the split fractions.
training_state load_checkpoint(const std::filesystem::path& model_file, bool with_optimizer);

}  // namespace gs::predictor
