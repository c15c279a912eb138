// The firing rate of a leaky integrate-and-fire neuron driven by white noise, in the diffusion
// approximation (Siegert 1951, Ricciardi 1977; Brunel 2000's notation), and its inverse: the mean
// input that gives a rate. The "psth" RLS target generator turns target rates into target currents
// with it, as TrainSpikingNet does for PSTH targets.
#pragma once

#include <vector>

namespace gs::rls {

// tau_m dV/dt = -(V - E_L) + mu + sigma sqrt(tau_m) xi(t), spike and reset at threshold, then
// refractory: voltages relative to E_L (mV), times in ms.
struct lif_noise {
  double tau_m, V_th, V_reset, t_ref, sigma;
};

// 1 / (t_ref + tau_m sqrt(pi) integral from (V_reset - mu)/sigma to (V_th - mu)/sigma of
// exp(u^2) (1 + erf u) du), in Hz.
double lif_rate(double mu, const lif_noise& n);

// The mean input mu (mV) for each rate (Hz), from a table of lif_rate over the mu that span the
// rates asked for, interpolated linearly in log rate (2048 points). Rates below min_rate are taken
// as min_rate; rates of 0.95 / t_ref or more throw std::invalid_argument.
std::vector<double> lif_inputs_for_rates(const std::vector<double>& rates_hz, const lif_noise& n,
                                         double min_rate = 1e-3);

}  // namespace gs::rls
