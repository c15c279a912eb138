#include "dataset/protocol.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/rng.hpp"
#include "models/model.hpp"

namespace gs {

double receptive_field::gain_at(double sf) const {
  const double k = 2 * M_PI * sf;
  return std::exp(-0.5 * k * k * center_sigma * center_sigma) -
         surround_weight * std::exp(-0.5 * k * k * surround_sigma * surround_sigma);
}

double protocol_spec::trial_length() const {
  double d = 0;
  for (const auto& s : segments) d += s.duration;
  return d;
}

std::vector<protocol_segment> protocol_spec::timeline() const {
  std::vector<protocol_segment> out;
  std::vector<size_t> stim_slots;
  for (size_t j = 0; j < segments.size(); ++j)
    if (segments[j].stimulus >= 0) stim_slots.push_back(j);
  double t = 0;
  for (uint32_t trial = 0; trial < trials; ++trial) {
    std::vector<slot> order = segments;
    if (shuffle) {
      // Fisher-Yates over the stimulus slots, from a stream of its own per trial.
      rng_stream rng(seed, rng_purpose::protocol, trial);
      for (size_t m = stim_slots.size(); m > 1; --m) {
        const size_t r = rng.below(m);
        std::swap(order[stim_slots[m - 1]], order[stim_slots[r]]);
      }
    }
    for (size_t j = 0; j < order.size(); ++j) {
      out.push_back({t, t + order[j].duration, trial, uint32_t(j), order[j].stimulus});
      t += order[j].duration;
    }
  }
  return out;
}

std::vector<uint8_t> protocol_spec::trial_splits() const {
  std::vector<uint32_t> order(trials);
  std::iota(order.begin(), order.end(), 0u);
  rng_stream rng(seed, rng_purpose::protocol, trials, 1);
  for (size_t m = order.size(); m > 1; --m) std::swap(order[m - 1], order[rng.below(m)]);
  // Cut points rounded so the counts add up to the number of trials.
  const double total = split[0] + split[1] + split[2];
  const auto n_train = static_cast<size_t>(std::llround(trials * split[0] / total));
  const auto n_val = static_cast<size_t>(std::llround(trials * (split[0] + split[1]) / total)) - n_train;
  std::vector<uint8_t> out(trials, 2);
  for (size_t k = 0; k < order.size(); ++k) out[order[k]] = k < n_train ? 0 : k < n_train + n_val ? 1 : 2;
  return out;
}

std::vector<protocol_example> protocol_spec::examples(const std::vector<protocol_segment>& tl) const {
  const std::vector<uint8_t> splits = trial_splits();
  std::vector<protocol_example> out;
  for (size_t k = 0; k < tl.size(); ++k) {
    if (tl[k].stimulus < 0) continue;
    protocol_example e{tl[k].start, tl[k].end, tl[k].trial, uint32_t(k), tl[k].stimulus, splits[tl[k].trial]};
    if (k > 0 && tl[k - 1].stimulus < 0) e.start = 0.5 * (tl[k - 1].start + tl[k - 1].end);
    if (k + 1 < tl.size() && tl[k + 1].stimulus < 0) e.end = 0.5 * (tl[k + 1].start + tl[k + 1].end);
    out.push_back(e);
  }
  return out;
}

double protocol_rate(const protocol_spec& p, uint32_t input, const protocol_segment& seg, uint64_t i,
                     const position& at, double t) {
  const protocol_input& in = p.inputs[input];
  if (seg.stimulus < 0) return in.baseline_hz;
  const protocol_stimulus& s = p.stimuli[size_t(seg.stimulus)];
  if (s.kind == protocol_stimulus::rate_file) {
    const rate_table& r = *s.table;
    const auto col = std::min(r.columns - 1, static_cast<size_t>((t - seg.start) / r.frame_ms));
    return r.rates[(in.first_row + i) * r.columns + col];
  }
  const grating_spec& g = s.g;
  const double theta = g.orientation_deg * M_PI / 180, k = 2 * M_PI * g.spatial_frequency;
  const double drive = in.rf.polarity * g.contrast * in.rf.gain_at(g.spatial_frequency) *
                       std::cos(k * (at[0] * std::cos(theta) + at[1] * std::sin(theta)) -
                                2 * M_PI * g.temporal_frequency_hz * (t - seg.start) * 1e-3 + g.phase_deg * M_PI / 180);
  return std::max(0.0, in.baseline_hz + in.gain_hz * drive);
}

double protocol_rate_bound(const protocol_spec& p, uint32_t input, const protocol_segment& seg) {
  const protocol_input& in = p.inputs[input];
  if (seg.stimulus < 0) return in.baseline_hz;
  const protocol_stimulus& s = p.stimuli[size_t(seg.stimulus)];
  if (s.kind == protocol_stimulus::grating)
    return std::max(0.0, in.baseline_hz + in.gain_hz * s.g.contrast * std::abs(in.rf.gain_at(s.g.spatial_frequency)));
  return 0;  // rate files: the generator keeps the maximum over the input's rows
}

namespace {

class protocol_generator final : public stimulus_generator {
 public:
  protocol_generator(std::shared_ptr<const protocol_spec> p, uint32_t input, std::vector<position> positions,
                     const stimulus_context& c)
      : p_(std::move(p)), input_(input), positions_(std::move(positions)), timeline_(p_->timeline()),
        n_(c.n_targets), end_(c.stop), t_(c.start), rng_(c.seed, rng_purpose::stimulus, c.index) {
    // The rate tables' maxima over this input's rows bound their segments.
    for (const auto& s : p_->stimuli) {
      double m = 0;
      if (s.kind == protocol_stimulus::rate_file) {
        const rate_table& r = *s.table;
        const auto first = r.rates.begin() + std::ptrdiff_t(p_->inputs[input_].first_row * r.columns);
        m = *std::max_element(first, first + std::ptrdiff_t(n_ * r.columns));
      }
      table_max_.push_back(m);
    }
    while (seg_ < timeline_.size() && timeline_[seg_].end <= t_) ++seg_;
  }

  stimulus_event next() override {
    while (seg_ < timeline_.size() && t_ < end_) {
      const protocol_segment& s = timeline_[seg_];
      t_ = std::max(t_, s.start);
      const double seg_end = std::min(s.end, end_);
      const double bound = s.stimulus >= 0 && p_->stimuli[size_t(s.stimulus)].kind == protocol_stimulus::rate_file
                               ? table_max_[size_t(s.stimulus)]
                               : protocol_rate_bound(*p_, input_, s);
      const double total = bound * 1e-3 * static_cast<double>(n_);  // candidates per ms
      if (total > 0) {
        const double cand = t_ + rng_.exponential(total);
        if (cand < seg_end) {
          t_ = cand;
          const uint64_t i = rng_.below(n_);
          // Accept with rate / bound (always when the rate is the bound, as in a blank).
          const double r = protocol_rate(*p_, input_, s, i, positions_.empty() ? position{0, 0} : positions_[i], cand);
          if (r >= bound || rng_.uniform() * bound < r) return {cand, static_cast<int64_t>(i), 1};
          continue;
        }
      }
      t_ = seg_end;
      ++seg_;
    }
    return {no_spike};
  }

 private:
  std::shared_ptr<const protocol_spec> p_;
  uint32_t input_;
  std::vector<position> positions_;
  std::vector<protocol_segment> timeline_;
  std::vector<double> table_max_;
  uint64_t n_;
  double end_, t_;
  size_t seg_ = 0;
  rng_stream rng_;
};

}  // namespace

std::unique_ptr<stimulus_generator> make_protocol_generator(std::shared_ptr<const protocol_spec> protocol,
                                                            uint32_t input, std::vector<position> positions,
                                                            const stimulus_context& ctx) {
  return std::make_unique<protocol_generator>(std::move(protocol), input, std::move(positions), ctx);
}

}  // namespace gs
