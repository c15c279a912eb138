// Built-in stimulus generators: poisson, dc, spike_generator. They register through
// registry::add_stimulus, the call a plugin uses for its own generators.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/rng.hpp"
#include "models/model.hpp"
#include "plugins/registry.hpp"

namespace gs {

namespace {

std::vector<double> numbers_of(const json& params, const char* key, std::vector<double> absent) {
  return params.contains(key) ? params[key].get<std::vector<double>>() : absent;
}

// Independent Poisson trains per target are one train of n times the rate whose events go to
// uniformly drawn targets; a rate change restarts the draw at the change (the process is
// memoryless). The rate is piecewise constant: rates[k] from times[k] on.
class poisson_generator final : public stimulus_generator {
 public:
  poisson_generator(const json& p, const stimulus_context& c)
      : times_(numbers_of(p, "rate_times", {0.0})),
        rates_(p.contains("rate") ? std::vector<double>{p["rate"].get<double>()} : p["rate_values"].get<std::vector<double>>()),
        n_(c.n_targets), end_(c.stop), t_(c.start), rng_(c.seed, rng_purpose::stimulus, c.index) {}

  stimulus_event next() override {
    while (t_ < end_) {
      const size_t k = std::upper_bound(times_.begin(), times_.end(), t_) - times_.begin();
      const double seg_end = std::min(k < times_.size() ? times_[k] : no_spike, end_);
      const double rate = k == 0 ? 0.0 : rates_[k - 1] * 1e-3 * static_cast<double>(n_);  // per ms
      if (rate > 0) {
        const double cand = t_ + rng_.exponential(rate);
        if (cand < seg_end) {
          t_ = cand;
          return {cand, static_cast<int64_t>(rng_.below(n_)), 1};
        }
      }
      t_ = seg_end;
    }
    return {no_spike};
  }

 private:
  std::vector<double> times_, rates_;
  uint64_t n_;
  double end_, t_;
  rng_stream rng_;
};

// A current step: on at start, off (the same amplitude negated) at stop.
class dc_generator final : public stimulus_generator {
 public:
  explicit dc_generator(const stimulus_context& c) : start_(c.start), stop_(c.stop) {}
  stimulus_event next() override {
    if (step_ == 0 && start_ < stop_) return ++step_, stimulus_event{start_, stimulus_event::all, 1};
    if (step_ == 1 && stop_ < no_spike) return ++step_, stimulus_event{stop_, stimulus_event::all, -1};
    return {no_spike};
  }

 private:
  double start_, stop_;
  int step_ = 0;
};

// Plays back given times to every target.
class spike_generator final : public stimulus_generator {
 public:
  spike_generator(const json& p, const stimulus_context& c) : times_(p["spike_times"].get<std::vector<double>>()) {
    next_ = std::lower_bound(times_.begin(), times_.end(), c.start) - times_.begin();
    end_ = c.stop;
  }
  stimulus_event next() override {
    if (next_ >= times_.size() || times_[next_] >= end_) return {no_spike};
    return {times_[next_++]};
  }

 private:
  std::vector<double> times_;
  size_t next_ = 0;
  double end_;
};

std::pair<std::string, std::string> check_poisson(const json& p) {
  const bool piecewise = p.contains("rate_times") || p.contains("rate_values");
  if (p.contains("rate") == piecewise) return {"", "give either \"rate\" or both \"rate_times\" and \"rate_values\""};
  if (p.contains("rate")) {
    const double r = p["rate"].get<double>();
    if (!(r >= 0)) return {"rate", fmt::format("expected a non-negative number, found {}", r)};
    return {};
  }
  if (!p.contains("rate_times")) return {"", "\"rate_values\" needs \"rate_times\""};
  if (!p.contains("rate_values")) return {"", "\"rate_times\" needs \"rate_values\""};
  const auto times = p["rate_times"].get<std::vector<double>>(), rates = p["rate_values"].get<std::vector<double>>();
  if (times.size() != rates.size() || rates.empty())
    return {"rate_values", fmt::format("expected as many values as rate_times ({}), found {}", times.size(), rates.size())};
  for (size_t k = 0; k < rates.size(); ++k) {
    if (rates[k] < 0) return {fmt::format("rate_values.{}", k), fmt::format("negative rate {}", rates[k])};
    if (times[k] < 0 || (k > 0 && times[k] <= times[k - 1]))
      return {fmt::format("rate_times.{}", k), "times must be >= 0 and strictly increasing"};
  }
  return {};
}

std::pair<std::string, std::string> check_spike_times(const json& p) {
  const auto t = p["spike_times"].get<std::vector<double>>();
  for (size_t k = 0; k < t.size(); ++k)
    if (t[k] < 0 || (k > 0 && t[k] < t[k - 1]))
      return {fmt::format("spike_times.{}", k), "spike times must be >= 0 and non-decreasing"};
  return {};
}

}  // namespace

void register_builtin_stimuli(registry& reg) {
  const double none = std::nan("");
  stimulus_info poisson;
  poisson.name = "poisson";
  poisson.origin = "built-in";
  poisson.doc = "independent Poisson spike trains, one per target, constant or piecewise-constant rate";
  poisson.params = {{"rate", "Hz", "rate per target", none, param_info::number, true},
                    {"rate_times", "ms", "times from which rate_values hold (instead of rate)", none, param_info::numbers, true},
                    {"rate_values", "Hz", "rates per target from each of rate_times", none, param_info::numbers, true}};
  poisson.check = check_poisson;
  poisson.make = [](const json& p, const stimulus_context& c) { return std::make_unique<poisson_generator>(p, c); };
  poisson.independent_poisson = [](const json& p) {
    return poisson_rates{numbers_of(p, "rate_times", {0.0}), p.contains("rate") ? std::vector<double>{p["rate"].get<double>()}
                                                                                : p["rate_values"].get<std::vector<double>>()};
  };
  reg.add_stimulus(std::move(poisson));

  stimulus_info dc;
  dc.name = "dc";
  dc.origin = "built-in";
  dc.doc = "constant current (\"amplitude\", pA) from start to stop";
  dc.current = true;
  dc.check = [](const json&) { return std::pair<std::string, std::string>{}; };
  dc.make = [](const json&, const stimulus_context& c) { return std::make_unique<dc_generator>(c); };
  reg.add_stimulus(std::move(dc));

  stimulus_info sg;
  sg.name = "spike_generator";
  sg.origin = "built-in";
  sg.doc = "the same spike times to every target";
  sg.params = {{"spike_times", "ms", "spike times, non-decreasing", none, param_info::numbers}};
  sg.check = check_spike_times;
  sg.make = [](const json& p, const stimulus_context& c) { return std::make_unique<spike_generator>(p, c); };
  reg.add_stimulus(std::move(sg));
}

}  // namespace gs
