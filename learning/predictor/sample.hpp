// Generating spikes from a trained next-spike transformer, writing them in the simulator's output
// formats, and comparing a generated train with recorded spikes by the statistics that matter for
// a spiking network: firing rates, inter-spike intervals and pairwise spike-count correlations.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>

#include "learning/predictor/model.hpp"

namespace gs::predictor {

// Continues `history` (events [0, history_end) of seq, whose last event is at t_start) for
// duration_ms: each step draws the next interval from the mixture and the next neuron from the
// softmax, predicted with the key/value cache from a window that, as in evaluation, grows to
// `context` events and then restarts from its last context - context / 2, so every draw sees at
// least context - context / 2 events of history. The result has the model's vocabulary.
spike_train sample_spikes(const spike_transformer<float>& model, const event_sequence& seq, std::size_t history_end,
                          double t_start, double duration_ms, std::uint64_t seed);

// phy/ (spikes.times.npy, spike_times.npy at sample_rate, spike_clusters.npy, params.py) and
// spikes.h5 (SONATA, one population per vocabulary population) under dir.
void write_spike_outputs(const std::filesystem::path& dir, const spike_train& train, double sample_rate);

// Rates, ISI distributions and correlations of `generated` against `recorded` (same vocabulary).
// Correlations are of spike counts in bin_ms bins, over the `top` neurons most active in `recorded`.
nlohmann::json compare_trains(const spike_train& generated, const spike_train& recorded, double bin_ms = 5.0,
                              int top = 50);

}  // namespace gs::predictor
