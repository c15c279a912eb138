// Trains sequence decoders on binned spikes by truncated backpropagation through time and scores
// them by R^2: the spiking network of learning/surrogate and two conventional baselines on the
// same data, an MLP on a window of recent bins and a GRU. One training loop serves all three.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "learning/decode/data.hpp"
#include "learning/nn/gru.hpp"
#include "learning/nn/layers.hpp"
#include "learning/surrogate/snn.hpp"

namespace gs::decode {

using surrogate::sequence;

struct train_config {
  int epochs = 60;
  int window = 25;  // steps per truncated-BPTT window
  int batch = 8;    // parallel streams cut from the training split
  double lr = 3e-3, weight_decay = 0.01, clip = 1.0;
  double warmup_fraction = 0.05, final_lr_fraction = 0.05;
  std::uint64_t seed = 1;
};

// y_t = fc2(GELU(fc1([x_{t-history+1}, ..., x_t]))): a feedforward decoder of the last `history`
// bins (zeros before the first), the usual MLP decoder of neural data.
template <class T>
class mlp_decoder {
 public:
  int inputs = 0, history = 1;
  nn::linear<T> fc1, fc2;
  mlp_decoder(int inputs, int outputs, int hidden, int history, std::uint64_t seed);
  void reset(Eigen::Index batch);
  sequence<T> forward(const sequence<T>& x);
  void backward(const sequence<T>& dy);
  nn::param_list<T> parameters();

 private:
  nn::gelu<T> act_;
  nn::mat<T> past_;  // B x (history - 1) * inputs: the bins before the window, oldest first
  Eigen::Index batch_ = 1;
};

// y_t = h_t W + b over a GRU's hidden state.
template <class T>
class gru_decoder {
 public:
  nn::gru<T> cell;
  nn::linear<T> out;
  gru_decoder(int inputs, int outputs, int hidden, std::uint64_t seed);
  void reset(Eigen::Index batch) { cell.reset(batch); }
  sequence<T> forward(const sequence<T>& x);
  void backward(const sequence<T>& dy);
  nn::param_list<T> parameters();
};

// The training split (standardised inputs and target) and the evaluation over every bin.
struct dataset {
  matrix x, y;  // standardised: x by the training split's counts, y by its target
  bin_split split;
};

struct epoch_record {
  int epoch = 0;
  double train_mse = 0;     // mean over the epoch's windows, standardised target
  double validation_r2 = 0; // mean over outputs
};

struct fit_result {
  std::string name;
  std::size_t parameters = 0;
  std::vector<epoch_record> history;
  int best_epoch = 0;                  // highest validation R^2; its weights are the ones scored
  std::vector<double> validation_r2, test_r2;  // per output
  matrix prediction;                   // every bin, standardised units
  double seconds = 0;
};

// Trains with AdamW (warm-up, cosine decay, gradient clipping) on `batch` streams cut from the
// training split at an offset drawn per epoch from the seed, `window` steps per update with the
// state carried across windows; keeps the weights of the epoch with the best validation R^2.
template <class Model>
fit_result fit(Model& model, const dataset& data, const train_config& c, const std::string& name);

// The model's output for every bin, run from a zero state over the whole recording (so a split's
// first bins have the history before them, as a decoder in use would).
template <class Model>
matrix predict_all(Model& model, const matrix& x);

}  // namespace gs::decode
