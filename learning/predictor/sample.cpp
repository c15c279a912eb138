#include "learning/predictor/sample.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include "io/npy.hpp"
#include "io/sonata.hpp"
#include "io/staged_file.hpp"

namespace gs::predictor {

namespace fs = std::filesystem;
using nlohmann::json;

spike_train sample_spikes(const spike_transformer<float>& model, const event_sequence& seq, std::size_t history_end,
                          double t_start, double duration_ms, std::uint64_t seed) {
  spike_transformer<float> m = model;  // the cache lives in the model
  std::mt19937_64 rng(seed);
  const std::size_t L = std::size_t(m.cfg.context), keep = L - std::max<std::size_t>(1, L / 2);
  // The current window's tokens: the last (up to L) recorded events to start with.
  const std::size_t from = history_end > L + 1 ? history_end - L : 1;
  std::vector<int> ids(seq.ids.begin() + std::ptrdiff_t(from), seq.ids.begin() + std::ptrdiff_t(history_end));
  std::vector<double> tau(seq.tau.begin() + std::ptrdiff_t(from), seq.tau.begin() + std::ptrdiff_t(history_end));
  m.reset_cache();
  for (std::size_t k = 0; k < ids.size(); ++k) m.append(ids[k], tau[k]);
  spike_train out;
  out.populations = m.cfg.populations;
  out.source = "sampled";
  double t = t_start;
  while (true) {
    const double next_tau = std::max(m.interval_mixture(0).sample(rng), m.cfg.min_interval_ms);
    const auto probs = m.mark_probabilities().row(0);
    std::discrete_distribution<int> who(probs.data(), probs.data() + probs.size());
    const int next_id = who(rng);
    t += next_tau;
    if (t > t_start + duration_ms) break;
    out.t_ms.push_back(t);
    out.ids.push_back(next_id);
    if (ids.size() == L) {  // full: restart the window from its last `keep` tokens
      ids.erase(ids.begin(), ids.end() - std::ptrdiff_t(keep));
      tau.erase(tau.begin(), tau.end() - std::ptrdiff_t(keep));
      m.reset_cache();
      for (std::size_t k = 0; k < ids.size(); ++k) m.append(ids[k], tau[k]);
    }
    ids.push_back(next_id);
    tau.push_back(next_tau);
    m.append(next_id, next_tau);
  }
  return out;
}

void write_spike_outputs(const fs::path& dir, const spike_train& train, double sample_rate) {
  const fs::path phy = dir / "phy";
  fs::create_directories(phy);
  const std::size_t n = train.size();
  std::vector<double> seconds(n);
  std::vector<std::int64_t> samples(n);
  std::vector<std::int32_t> clusters(train.ids.begin(), train.ids.end());
  for (std::size_t k = 0; k < n; ++k) {
    seconds[k] = train.t_ms[k] * 1e-3;
    samples[k] = std::llround(seconds[k] * sample_rate);
  }
  io::write_npy(phy / "spike_times.npy", std::span<const std::int64_t>(samples));
  io::write_npy(phy / "spike_clusters.npy", std::span<const std::int32_t>(clusters));
  io::write_npy(phy / "spikes.times.npy", std::span<const double>(seconds));
  {
    io::staged_file staged(phy / "params.py");
    std::ofstream f(staged.temp());
    f << fmt::format("# written by gillespike predict sample: generated spikes, no raw data file\n"
                     "dat_path = []\nn_channels_dat = 0\ndtype = 'int16'\noffset = 0\n"
                     "sample_rate = {:.1f}\nhp_filtered = False\n",
                     sample_rate);
    if (!f.flush()) throw std::runtime_error(fmt::format("cannot write {}", (phy / "params.py").string()));
    f.close();
    staged.commit();
  }
  // SONATA: one population per vocabulary population, population-local node ids, in time order.
  std::vector<std::vector<double>> times(train.populations.size());
  std::vector<std::vector<std::uint64_t>> node_ids(train.populations.size());
  for (std::size_t k = 0; k < n; ++k) {
    const auto p = std::size_t(std::upper_bound(train.populations.begin(), train.populations.end(), train.ids[k],
                                                [](int v, const population_range& r) { return v < r.offset; }) -
                               train.populations.begin() - 1);
    times[p].push_back(train.t_ms[k]);
    node_ids[p].push_back(std::uint64_t(train.ids[k] - train.populations[p].offset));
  }
  std::vector<io::spike_population> pops;
  for (std::size_t p = 0; p < train.populations.size(); ++p)
    pops.push_back({train.populations[p].name, times[p], node_ids[p], io::spike_sorting::by_time});
  io::write_sonata_spikes(dir / "spikes.h5", pops);
}

namespace {

struct train_stats {
  double span_ms = 0;
  std::vector<double> rate_hz;  // per neuron
  std::vector<double> isi_ms;   // pooled over neurons
};

train_stats stats_of(const spike_train& s) {
  train_stats st;
  const std::size_t V = std::size_t(s.vocabulary());
  st.span_ms = s.size() > 1 ? s.t_ms.back() - s.t_ms.front() : 0;
  std::vector<double> count(V, 0.0), last(V, -1.0);
  for (std::size_t k = 0; k < s.size(); ++k) {
    const std::size_t n = std::size_t(s.ids[k]);
    count[n] += 1;
    if (last[n] >= 0) st.isi_ms.push_back(s.t_ms[k] - last[n]);
    last[n] = s.t_ms[k];
  }
  st.rate_hz.resize(V);
  for (std::size_t n = 0; n < V; ++n) st.rate_hz[n] = st.span_ms > 0 ? count[n] / st.span_ms * 1e3 : 0;
  std::sort(st.isi_ms.begin(), st.isi_ms.end());
  return st;
}

double mean(const std::vector<double>& v) { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = mean(a), mb = mean(b);
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += (a[k] - ma) * (b[k] - mb);
    aa += (a[k] - ma) * (a[k] - ma);
    bb += (b[k] - mb) * (b[k] - mb);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
}

// Two-sample Kolmogorov-Smirnov distance of two sorted samples.
double ks_distance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) return 1;
  std::size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(double(i) / double(a.size()) - double(j) / double(b.size())));
  }
  return d;
}

// Mean Pearson correlation of binned spike counts over all pairs of `neurons`.
double mean_pair_correlation(const spike_train& s, const std::vector<int>& neurons, double bin_ms) {
  if (s.size() < 2 || neurons.size() < 2) return 0;
  const double t0 = s.t_ms.front();
  const std::size_t bins = std::size_t((s.t_ms.back() - t0) / bin_ms) + 1;
  std::vector<int> slot(std::size_t(s.vocabulary()), -1);
  for (std::size_t k = 0; k < neurons.size(); ++k) slot[std::size_t(neurons[k])] = int(k);
  std::vector<std::vector<double>> counts(neurons.size(), std::vector<double>(bins, 0.0));
  for (std::size_t k = 0; k < s.size(); ++k)
    if (const int j = slot[std::size_t(s.ids[k])]; j >= 0) counts[std::size_t(j)][std::size_t((s.t_ms[k] - t0) / bin_ms)] += 1;
  double sum = 0;
  std::size_t pairs = 0;
  for (std::size_t a = 0; a < neurons.size(); ++a)
    for (std::size_t b = a + 1; b < neurons.size(); ++b) {
      sum += pearson(counts[a], counts[b]);
      ++pairs;
    }
  return sum / double(pairs);
}

}  // namespace

json compare_trains(const spike_train& generated, const spike_train& recorded, double bin_ms, int top) {
  const train_stats g = stats_of(generated), r = stats_of(recorded);
  std::vector<int> order(r.rate_hz.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return r.rate_hz[std::size_t(a)] > r.rate_hz[std::size_t(b)]; });
  order.resize(std::min(order.size(), std::size_t(top)));
  auto cv = [](const std::vector<double>& isi) {
    const double m = mean(isi);
    double v = 0;
    for (double x : isi) v += (x - m) * (x - m);
    return isi.size() > 1 && m > 0 ? std::sqrt(v / double(isi.size() - 1)) / m : 0;
  };
  return {{"spikes", {{"generated", generated.size()}, {"recorded", recorded.size()}}},
          {"span_ms", {{"generated", g.span_ms}, {"recorded", r.span_ms}}},
          {"mean_rate_hz", {{"generated", mean(g.rate_hz)}, {"recorded", mean(r.rate_hz)}}},
          {"rate_correlation_across_neurons", pearson(g.rate_hz, r.rate_hz)},
          {"isi_mean_ms", {{"generated", mean(g.isi_ms)}, {"recorded", mean(r.isi_ms)}}},
          {"isi_cv", {{"generated", cv(g.isi_ms)}, {"recorded", cv(r.isi_ms)}}},
          {"isi_ks_distance", ks_distance(g.isi_ms, r.isi_ms)},
          {"pair_correlation",
           {{"bin_ms", bin_ms},
            {"neurons", order.size()},
            {"generated", mean_pair_correlation(generated, order, bin_ms)},
            {"recorded", mean_pair_correlation(recorded, order, bin_ms)}}}};
}

}  // namespace gs::predictor
