// Clock-driven recurrent LIF layers trained by backpropagation through time with a surrogate
// derivative for the spike (Neftci, Mostafa and Zenke 2019), and the spiking network built from
// them: a stack of LIF layers and a leaky (or instantaneous) linear readout. Explicit forward and
// backward passes over windows of a batch of sequences, on the row-major matrices of learning/nn;
// instantiated for float (training) and double (gradient checks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "learning/nn/tensor.hpp"

namespace gs::surrogate {

using nn::mat;
using nn::param;
using nn::param_list;

// The stand-in for dH(x)/dx, x = u - threshold, used by the backward pass only (the forward pass
// spikes with the Heaviside step).
enum class surrogate_kind {
  fast_sigmoid,  // 1 / (1 + slope |x|)^2 (SuperSpike, Zenke and Ganguli 2018)
  arctan,        // (slope / 2) / (1 + (pi / 2 slope x)^2), the derivative of atan(pi/2 slope x) / pi
};

double surrogate_derivative(surrogate_kind kind, double slope, double x);

// A batch of sequences, one B x width matrix per time step.
template <class T>
using sequence = std::vector<mat<T>>;

// One clock step of a layer of leaky integrate-and-fire neurons, threshold 1, reset by subtraction:
//   u_t = beta * v_{t-1} + x_t W_in + s_{t-1} W_rec + b,   s_t = H(u_t - 1),   v_t = u_t - s_t,
// beta = sigmoid(beta_logit) per neuron (exp(-dt / tau_m) at the start). The reset's gradient is
// kept (not detached). The state (v, s) carries over from one window to the next; the gradient
// does not (truncated BPTT).
template <class T>
class lif_layer {
 public:
  param<T> W_in, W_rec, b, beta_logit;
  bool recurrent = true, learn_beta = false;
  surrogate_kind kind = surrogate_kind::fast_sigmoid;
  double slope = 1;

  lif_layer() = default;
  lif_layer(int in, int width, bool recurrent, double beta, bool learn_beta, surrogate_kind kind, double slope,
            const std::string& name, nn::init_rng& rng);
  int width() const { return int(b.value.cols()); }
  void reset(Eigen::Index batch);  // zero state
  sequence<T> forward(const sequence<T>& x);
  // d(loss)/d(spikes) per step in; d(loss)/d(input) per step out; parameters' gradients added.
  sequence<T> backward(const sequence<T>& ds);
  void collect(param_list<T>& out);

  mat<T> v, s;  // the state after the last step run

 private:
  sequence<T> x_, u_, s_;
  mat<T> v0_, s0_;  // the state the window started from
};

// y_t = alpha * y_{t-1} + s_t W + b per output, alpha = sigmoid(alpha_logit): the membrane of
// non-spiking leaky output neurons ("membrane" readout), or with alpha fixed at 0 a linear map of
// the spikes of the step ("spikes" readout).
template <class T>
class leaky_readout {
 public:
  param<T> W, b, alpha_logit;
  bool leaky = true, learn_alpha = false;

  leaky_readout() = default;
  leaky_readout(int in, int outputs, bool leaky, double alpha, bool learn_alpha, const std::string& name,
                nn::init_rng& rng);
  void reset(Eigen::Index batch);
  sequence<T> forward(const sequence<T>& s);
  sequence<T> backward(const sequence<T>& dy);
  void collect(param_list<T>& out);

  mat<T> y;  // the output after the last step run

 private:
  sequence<T> s_, y_;
  mat<T> y0_;
};

struct snn_config {
  int inputs = 1, outputs = 1;
  std::vector<int> hidden = {128};  // LIF layers, input side first
  bool recurrent = true;
  surrogate_kind surrogate = surrogate_kind::fast_sigmoid;
  double slope = 1;
  double bin_ms = 10;       // one step of the input and output sequences (the data's bin)
  int substeps = 2;         // clock steps per bin (dt = bin_ms / substeps), the bin's input held
  double tau_mem_ms = 50;   // initial membrane time constant: beta = exp(-dt / tau_mem)
  double tau_out_ms = 20;   // initial readout time constant (membrane readout)
  bool learn_tau = true;    // train beta and alpha (per neuron)
  bool membrane_readout = true;  // false: the readout of spikes
};

// The network steps `substeps` times per input step, each bin's input held over its substeps, and
// outputs the readout after the last substep of each bin, so a neuron can fire up to `substeps`
// times per bin.
template <class T>
class spiking_net {
 public:
  snn_config cfg;
  std::vector<lif_layer<T>> layers;
  leaky_readout<T> readout;

  spiking_net() = default;
  spiking_net(const snn_config& c, std::uint64_t seed);
  void reset(Eigen::Index batch);
  sequence<T> forward(const sequence<T>& x);
  void backward(const sequence<T>& dy);
  param_list<T> parameters();
  // Mean spikes per neuron and step of each layer over the last forward pass.
  std::vector<double> firing() const { return firing_; }

 private:
  std::vector<double> firing_;
};

}  // namespace gs::surrogate
