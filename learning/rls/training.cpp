#include "learning/rls/training.hpp"

#include <fmt/format.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <cmath>

#include "engine/backends/clock/simulator.hpp"
#include "engine/rng.hpp"

namespace gs::rls {

namespace {

// The steps k (time (k + 1) dt) at which times t fall; the config put them on the grid.
uint64_t step_of(double t, double dt) { return uint64_t(std::llround(t / dt)) - 1; }

}  // namespace

training::training(const run_config& cfg, const registry& reg)
    : cfg_(cfg), reg_(reg), spec_(*cfg.rls), net_(build_network(cfg, reg)) {
  const uint32_t N = net_.neurons;
  for (const auto& name : spec_.plastic) {
    const auto& ps = *std::find_if(cfg.projections.begin(), cfg.projections.end(),
                                   [&](const projection_spec& p) { return p.name == name; });
    for (uint32_t i = 0; i < net_.projections.size(); ++i)
      if (net_.projections[i].path == ps.path) plastic_.push_back(i);
  }
  trained_of_gid_.assign(N, -1);
  for (const auto& name : spec_.trained) {
    const uint32_t pi = uint32_t(cfg.population_index(name));
    const population_base& p = *net_.populations[pi];
    for (uint32_t l = 0; l < p.size; ++l) {
      trained_of_gid_[p.first_gid + l] = int32_t(trained_.size());
      trained_.push_back({pi, l});
    }
  }

  // Each trained neuron's plastic inputs, by projection, source and order in the row (the
  // clock backend's reordering by target keeps that order, so map_synapses finds it again).
  // A source is inhibitory when its plastic weights are negative, as in the reference.
  std::vector<neuron_inputs> inputs(trained_.size());
  std::vector<bool> excitatory(N, true);
  for (uint32_t pi : plastic_) {
    projection& pr = net_.projections[pi];
    if (pr.weights.empty()) pr.weights.assign(pr.targets.size(), float(pr.weight));  // RLS gives each its own
    const uint32_t src0 = net_.populations[pr.source]->first_gid, tgt0 = net_.populations[pr.target]->first_gid;
    for (size_t s = 0; s + 1 < pr.row.size(); ++s)
      for (uint64_t e = pr.row[s]; e < pr.row[s + 1]; ++e) {
        neuron_inputs& in = inputs[size_t(trained_of_gid_[tgt0 + pr.targets[e]])];
        in.sources.push_back(int(src0 + s));
        in.weights.conservativeResize(in.weights.size() + 1);
        in.weights(in.weights.size() - 1) = double(pr.weights[e]);
        if (pr.weights[e] < 0) excitatory[src0 + s] = false;
      }
  }
  rls_ = std::make_unique<trainer>(std::move(inputs), excitatory, spec_.lambda, spec_.mu, spec_.single_precision_P,
                                     spec_.on_gpu);
  map_synapses();
  delay_steps_ = std::max<uint32_t>(1, uint32_t(std::llround(net_.projections[plastic_[0]].delay / cfg.dt)));

  const double dt = cfg.dt;
  const size_t n_learn = size_t(std::floor((spec_.window_end - spec_.window_start) / spec_.learn_every + 1e-9));
  for (size_t j = 1; j <= n_learn; ++j) {
    learn_ms_.push_back(spec_.window_start + double(j) * spec_.learn_every);
    learn_step_.push_back(step_of(learn_ms_.back(), dt));
  }
  // Current samples about every ms (every step when learning times are off that grid).
  uint64_t every = std::max<uint64_t>(1, uint64_t(std::llround(1.0 / dt)));
  const uint64_t first = uint64_t(std::llround(spec_.window_start / dt)), last = step_of(spec_.window_end, dt);
  for (uint64_t k : learn_step_)
    if ((k + 1 - first) % every != 0) every = 1;
  for (uint64_t k = first + every - 1; k <= last; k += every) {
    sample_step_.push_back(k);
    sample_ms_.push_back(double(k + 1) * dt);
  }
}

void training::map_synapses() {
  synapses_.assign(trained_.size(), {});
  for (uint32_t pi : plastic_) {
    const projection& pr = net_.projections[pi];
    const uint32_t tgt0 = net_.populations[pr.target]->first_gid;
    for (uint64_t e = 0; e < pr.targets.size(); ++e) synapses_[size_t(trained_of_gid_[tgt0 + pr.targets[e]])].push_back({pi, e});
  }
}

void training::write_weights() {
  tbb::parallel_for(size_t(0), trained_.size(), [&](size_t i) {
    const Eigen::VectorXd& w = rls_->weights(i);
    for (size_t j = 0; j < synapses_[i].size(); ++j)
      net_.projections[synapses_[i][j].projection].weights[synapses_[i][j].index] = float(w(Eigen::Index(j)));
  });
}

void training::set_targets(std::vector<double> targets, size_t rows, size_t columns, const std::string& source) {
  const std::string where = spec_.path + ".targets";
  if (rows != trained_.size() || columns != learn_ms_.size())
    throw config_error(source, where,
                       fmt::format("expected targets of shape ({}, {}) (trained neurons, learning times), found ({}, {})",
                                   trained_.size(), learn_ms_.size(), rows, columns));
  for (size_t k = 0; k < targets.size(); ++k)
    if (!std::isfinite(targets[k]))
      throw config_error(source, where, fmt::format("target of neuron {} at learning time {} is {}, not a finite number",
                                                    k / columns, k % columns, targets[k]));
  targets_ = std::move(targets);
}

presentation training::present(uint32_t key, bool learn, double psth_bin) {
  // A fresh initial state, drawn from the run file's "initial" values with a stream of its own.
  const uint64_t seed = rng_stream(cfg_.seed, rng_purpose::rls_loop, key).next64();
  for (size_t i = 0; i < cfg_.populations.size(); ++i) {
    const auto& ps = cfg_.populations[i];
    net_.populations[i] = reg_.find_model(ps.model)->make(ps, seed, uint32_t(i), net_.populations[i]->first_gid);
  }
  struct reader {
    const population_base* pop;
    int plastic;
    std::vector<int> fixed;
  };
  std::vector<reader> readers;
  for (const auto& p : net_.populations) {
    reader r{p.get(), -1, {}};
    if (std::find(spec_.trained.begin(), spec_.trained.end(), p->name) != spec_.trained.end()) {
      r.plastic = p->state_index(spec_.plastic_current);
      for (const auto& v : spec_.fixed_current) r.fixed.push_back(p->state_index(v));
    }
    readers.push_back(std::move(r));
  }
  auto fixed_current = [&](size_t i) {
    const reader& r = readers[trained_[i].pop];
    double s = 0;
    for (int v : r.fixed) s += r.pop->value(trained_[i].local, v);
    return s;
  };

  const size_t n = trained_.size();
  presentation out;
  out.current.resize(Eigen::Index(n), Eigen::Index(sample_step_.size()));
  out.plastic.resize(Eigen::Index(n), Eigen::Index(sample_step_.size()));
  const uint64_t bin_steps = psth_bin > 0 ? std::max<uint64_t>(1, uint64_t(std::llround(psth_bin / cfg_.dt))) : 0;
  if (bin_steps) out.psth = Eigen::MatrixXd::Zero(Eigen::Index(n), Eigen::Index(std::ceil(cfg_.duration / (double(bin_steps) * cfg_.dt) - 1e-9)));

  // r: each source's spikes filtered as the plastic receptor filters them, counted from the step
  // they arrive (delay_steps_ after the step they were fired in).
  Eigen::VectorXd r = Eigen::VectorXd::Zero(net_.neurons);
  const double decay = std::exp(-cfg_.dt / spec_.tau);
  std::vector<std::vector<uint32_t>> in_flight(delay_steps_);
  Eigen::VectorXd f(static_cast<Eigen::Index>(n));
  size_t next_learn = 0, next_sample = 0;

  const step_observer observe = [&](uint64_t k, std::span<const uint32_t> fired) {
    if (k == 0) map_synapses();  // rows are in target order from here on
    r *= decay;
    std::vector<uint32_t>& arriving = in_flight[k % delay_steps_];
    if (k >= delay_steps_)
      for (uint32_t g : arriving) r(g) += 1;
    arriving.assign(fired.begin(), fired.end());
    for (uint32_t g : fired) {
      const int32_t i = trained_of_gid_[g];
      if (i < 0) continue;
      ++out.spikes;
      if (bin_steps) out.psth(i, Eigen::Index(k / bin_steps)) += 1;
    }
    if (next_sample < sample_step_.size() && sample_step_[next_sample] == k) {
      tbb::parallel_for(size_t(0), n, [&](size_t i) {
        const double plastic = readers[trained_[i].pop].pop->value(trained_[i].local, readers[trained_[i].pop].plastic);
        out.plastic(Eigen::Index(i), Eigen::Index(next_sample)) = plastic;
        out.current(Eigen::Index(i), Eigen::Index(next_sample)) = plastic + fixed_current(i);
      });
      ++next_sample;
    }
    if (next_learn < learn_step_.size() && learn_step_[next_learn] == k) {
      if (learn) {
        const auto t0 = std::chrono::steady_clock::now();
        const size_t cols = learn_ms_.size();
        for (size_t i = 0; i < n; ++i) f(Eigen::Index(i)) = targets_[i * cols + next_learn] - fixed_current(i);
        rls_->update(r, f);
        write_weights();
        out.update_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      }
      ++next_learn;
    }
  };
  run_result res = simulate_clock(net_, cfg_, {}, nullptr, observe);
  out.spike_times = std::move(res.spike_times);
  out.spike_gids = std::move(res.spike_gids);
  return out;
}

Eigen::VectorXd training::mean_current(const presentation& p) const { return p.current.rowwise().mean(); }

std::vector<double> training::correlations(const Eigen::MatrixXd& current) const {
  const size_t n = trained_.size(), m = learn_ms_.size();
  // Per learning time, the samples within +-smoothing ms.
  std::vector<std::pair<size_t, size_t>> span(m);
  for (size_t j = 0; j < m; ++j) {
    size_t lo = 0, hi = 0;
    while (lo < sample_ms_.size() && sample_ms_[lo] < learn_ms_[j] - spec_.smoothing - 1e-9) ++lo;
    hi = lo;
    while (hi < sample_ms_.size() && sample_ms_[hi] <= learn_ms_[j] + spec_.smoothing + 1e-9) ++hi;
    span[j] = {lo, hi};
  }
  std::vector<double> out(n);
  tbb::parallel_for(size_t(0), n, [&](size_t i) {
    std::vector<double> a(m);
    for (size_t j = 0; j < m; ++j) {
      double s = 0;
      for (size_t q = span[j].first; q < span[j].second; ++q) s += current(Eigen::Index(i), Eigen::Index(q));
      a[j] = s / double(span[j].second - span[j].first);
    }
    const double* b = targets_.data() + i * m;
    double ma = 0, mb = 0;
    for (size_t j = 0; j < m; ++j) ma += a[j], mb += b[j];
    ma /= double(m), mb /= double(m);
    double sab = 0, saa = 0, sbb = 0;
    for (size_t j = 0; j < m; ++j) sab += (a[j] - ma) * (b[j] - mb), saa += (a[j] - ma) * (a[j] - ma), sbb += (b[j] - mb) * (b[j] - mb);
    out[i] = saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::nan("");
  });
  return out;
}

}  // namespace gs::rls
