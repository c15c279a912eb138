// A population: the neurons of one cell model, their parameters and state, and the engine's view
// of them. population_of<Model> is where the model's static functions meet the next-event queue;
// the engine calls it once per event or per delivered row, never once per synapse.
#pragma once
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/clock_step.hpp"
#include "engine/indexed_heap.hpp"
#include "engine/rate_tree.hpp"
#include "engine/rng.hpp"
#include "io/config.hpp"
#include "models/model.hpp"

namespace gs {

class population_base {
 public:
  virtual ~population_base() = default;

  std::string name, model;
  uint32_t size = 0, first_gid = 0;

  // Puts every neuron's first event into the queue (the queue is indexed by global id).
  virtual void schedule_all(indexed_heap& queue) = 0;
  // Delivers one row of synapses at time t: weights[i] if given, else the shared weight.
  virtual void deliver(double t, std::span<const uint32_t> targets, const float* weights, double weight,
                       int receptor, indexed_heap& queue) = 0;
  // The neuron's queue entry came due at t: returns true when it spiked (and has been reset).
  virtual bool on_due(double t, uint32_t local, indexed_heap& queue) = 0;
  // A state variable at time t >= the neuron's last update, without touching the neuron.
  virtual double sample(double t, uint32_t local, int variable) const = 0;
  virtual int receptor_index(const std::string& name) const = 0;
  virtual int state_index(const std::string& name) const = 0;
  // Parameter `index` of the model's parameter table (the order `info` lists) as the neuron has
  // it: drawn per neuron when the run file gives a distribution (exported in annotations.h5).
  virtual double parameter(uint32_t local, int index) const = 0;

  // The clock backend (engine/backends/clock): one step of dt for neurons [begin, end). Each
  // neuron's summed inputs of the step are in[i * stride + 1 + receptor] (DC at in[i * stride]);
  // they are read and set back to zero. The order is NEST's (iaf_psc_exp): the state is advanced
  // by dt, the inputs are received, the threshold is checked (a stochastic model spikes with
  // probability 1 - exp(-hazard dt), drawn from a stream keyed by (seed, gid, step k)), and a
  // neuron that spikes is reset. Writes the local ids of those that spiked, in order, to
  // `spiked` and returns how many.
  virtual uint32_t step(uint32_t begin, uint32_t end, uint64_t k, double dt, double* in, uint32_t stride,
                        uint32_t* spiked) = 0;
  // Called once before the first step() with the run's dt: models with a fixed-step form
  // (Model::prepare_step) compute what depends only on their parameters and dt here, and models
  // that sum inputs in a decaying frame take that frame's decay over dt.
  virtual void prepare_steps(double dt) = 0;
  // Receives inputs as step() does, without advancing or checking: those due at time 0.
  virtual void receive_inputs(uint32_t begin, uint32_t end, double* in, uint32_t stride) = 0;
  // A state variable as it is now (the clock backend samples on its grid).
  virtual double value(uint32_t local, int variable) const = 0;
  // The receptors the model has, besides the DC input.
  virtual int receptor_count() const = 0;

  // Gillespie's direct method (engine/backends/event/direct.hpp) runs stochastic models only:
  // the engine keeps each neuron's thinning bound (1/ms) in a rate tree instead of a candidate
  // time in the queue, and draws the candidates itself.
  virtual bool is_stochastic() const { return false; }
  // Puts every neuron's bound into the tree.
  virtual void bound_all(rate_tree&) { not_stochastic(); }
  // As deliver() above; an input beyond the margin puts a fresh bound into the tree.
  virtual void deliver(double, std::span<const uint32_t>, const float*, double, int, rate_tree&) { not_stochastic(); }
  // A candidate of the bounding process at t: a spike with probability hazard / bound (the
  // neuron is then reset, and true returned); either way a fresh bound goes into the tree.
  virtual bool on_candidate(double, uint32_t, rate_tree&) { not_stochastic(); }

  // What thinning did, for tests and benchmarks: candidates tried, spikes, candidates whose
  // hazard exceeded the bound they were drawn with (a model's broken promise; must stay 0),
  // and the largest hazard / bound seen.
  struct thinning_counts {
    uint64_t candidates = 0, spikes = 0, violations = 0;
    double worst = 0;
  };
  virtual thinning_counts thinning_stats() const { return {}; }

 private:
  [[noreturn]] void not_stochastic() const {
    throw std::logic_error("population \"" + name + "\" (model " + model + ") is not stochastic");
  }
};

template <class Model>
class population_of final : public population_base {
 public:
  using params = typename Model::params;
  using state = typename Model::state;

  population_of(const population_spec& spec, uint64_t seed, uint32_t pop_index, uint32_t first) {
    name = spec.name;
    model = std::string(Model::name);
    size = spec.size;
    first_gid = first;
    seed_ = seed;
    bool per_neuron = false;
    for (const auto& nv : spec.params) per_neuron |= !nv.value.is_constant();
    params_.assign(per_neuron ? size : 1, params{});
    rng_stream prng(seed, rng_purpose::params, pop_index);
    for (auto& p : params_) {
      for (const auto& nv : spec.params) p.*member(Model::param_table, nv.name) = nv.value.draw(prng);
      if (std::string err = Model::check(p); !err.empty())
        throw config_error("", spec.path + ".params",
                           per_neuron ? fmt::format("{} (drawn for neuron {})", err, &p - params_.data()) : err);
      Model::prepare(p);
    }
    shared_params_ = !per_neuron;
    if constexpr (has_frame)
      if (shared_params_) rate_ = Model::frame_rate(params_[0]);
    if (rate_ > 0) move_at_ = frame_span / rate_, guard_at_ = frame_guard / rate_;
    slots_ = std::vector<slot>(size);  // not resize(): nvcc's front end rejects its move path for this type
    rng_stream irng(seed, rng_purpose::initial, pop_index);
    for (uint32_t i = 0; i < size; ++i) {
      slots_[i].s = Model::initial(p(i));
      for (const auto& nv : spec.initial) slots_[i].s.*member(Model::state_table, nv.name) = nv.value.draw(irng);
    }
  }

  void schedule_all(indexed_heap& queue) override {
    for (uint32_t i = 0; i < size; ++i) schedule(0.0, i, estimate<indexed_heap>(i), queue);
  }

  void deliver(double t, std::span<const uint32_t> targets, const float* weights, double weight, int receptor,
               indexed_heap& queue) override {
    deliver_to(t, targets, weights, weight, receptor, queue);
  }

  bool on_due(double t, uint32_t i, indexed_heap& queue) override {
    fresh_origin(t);
    const params& pi = p(i);
    slot& sl = slots_[i];
    touch(sl, pi, t);
    if (!sl.exact) {  // a lower bound came due
      const spike_estimate e = look_again(i);
      if (!e.exact || e.dt > 0) {
        schedule(t, i, e, queue);
        return false;
      }
    }
    Model::reset(sl.s, pi);
    schedule(t, i, estimate<indexed_heap>(i), queue);
    return true;
  }

  bool is_stochastic() const override { return stochastic; }
  void bound_all(rate_tree& tree) override {
    if constexpr (stochastic) {
      for (uint32_t i = 0; i < size; ++i) schedule(0.0, i, candidate<rate_tree>(i), tree);
    } else {
      population_base::bound_all(tree);
    }
  }
  void deliver(double t, std::span<const uint32_t> targets, const float* weights, double weight, int receptor,
               rate_tree& tree) override {
    if constexpr (stochastic) deliver_to(t, targets, weights, weight, receptor, tree);
    else population_base::deliver(t, targets, weights, weight, receptor, tree);
  }
  bool on_candidate(double t, uint32_t i, rate_tree& tree) override {
    if constexpr (stochastic) {
      fresh_origin(t);
      slot& sl = slots_[i];
      touch(sl, p(i), t);
      const bool spike = thin(i);
      if (spike) Model::reset(sl.s, p(i));
      schedule(t, i, candidate<rate_tree>(i), tree);
      return spike;
    } else {
      return population_base::on_candidate(t, i, tree);
    }
  }
  thinning_counts thinning_stats() const override { return counts_; }

  double sample(double t, uint32_t i, int variable) const override {
    slot copy = slots_[i];
    touch(copy, p(i), t);
    return copy.s.*(Model::state_table[variable].member);
  }

  uint32_t step(uint32_t begin, uint32_t end, uint64_t k, double dt, double* in, uint32_t stride,
                uint32_t* spiked) override {
    uint32_t n = 0;
    for (uint32_t i = begin; i < end; ++i) {
      double* x = in + size_t(i) * stride;
      if (stepper::run(slots_[i].s, p(i), steps_[shared_params_ ? 0 : i], dt, x, seed_, first_gid + i, k))
        spiked[n++] = i;
      clear_row(x);
    }
    return n;
  }
  void prepare_steps(double dt) override {
    steps_.clear();
    for (const params& q : params_) steps_.push_back(stepper::prepare(q, dt));
  }
  void receive_inputs(uint32_t begin, uint32_t end, double* in, uint32_t stride) override {
    for (uint32_t i = begin; i < end; ++i) {
      double* x = in + size_t(i) * stride;
      stepper::receive(slots_[i].s, p(i), x);
      clear_row(x);
    }
  }
  double value(uint32_t i, int variable) const override { return slots_[i].s.*(Model::state_table[variable].member); }
  double parameter(uint32_t i, int index) const override { return p(i).*(Model::param_table[index].member); }
  int receptor_count() const override { return static_cast<int>(Model::receptors.size()); }

  // What a GPU copy of the population takes (engine/backends/cuda/kernels.cuh), after prepare_steps().
  const std::vector<params>& parameter_sets() const { return params_; }
  const std::vector<typename clock_step<Model>::constants>& step_sets() const { return steps_; }
  const state& state_of(uint32_t i) const { return slots_[i].s; }

  int receptor_index(const std::string& r) const override {
    for (size_t k = 0; k < Model::receptors.size(); ++k)
      if (Model::receptors[k] == r) return static_cast<int>(k);
    return -1;
  }
  int state_index(const std::string& v) const override {
    for (size_t k = 0; k < Model::state_table.size(); ++k)
      if (Model::state_table[k].name == v) return static_cast<int>(k);
    return -1;
  }

 private:
  // How the next spike is found. A closed form (estimate / next_spike); a stochastic model's
  // hazard, sampled by thinning; or, for a model that gives only a step (advance for at most
  // max_step ms), by integrating a copy ahead and bisecting on the step (docs/models.md).
  using stepper = clock_step<Model>;  // the clock backends' step, and the kinds of model
  static constexpr bool stochastic = stepper::stochastic, closed_form = stepper::closed_form, stepped = stepper::stepped;
  static constexpr double look_ahead_span = 1.0;  // ms
  static constexpr double crossing_tolerance = [] {
    if constexpr (requires { Model::crossing_tolerance; }) return Model::crossing_tolerance;
    else return 1e-9;  // ms
  }();

  // Models that declare a frame_rate sum their inputs instead of advancing per input (below).
  static constexpr bool has_frame = stepper::has_frame;
  static constexpr int n_sums = [] {
    if constexpr (has_frame) return Model::frame_sums;
    else return 0;
  }();

  struct thinning {
    double rate = 0;     // the bound the pending candidate was drawn with (1/ms)
    uint32_t draws = 0;  // counter of the neuron's random stream
  };
  struct no_thinning {};
  struct slot {
    state s;
    double t_last = 0;    // the time of `s`
    double margin = 0;    // input effect the queue key can still absorb
    double fallback = 0;  // the key once an input arrives, while the margin lasts
    bool exact = false;
    std::array<double, n_sums> sums{};  // inputs since t_last not yet folded into `s`
    double decay = 1;                   // exp(-rate (t_last - origin)), with the sums
    [[no_unique_address]] std::conditional_t<stochastic, thinning, no_thinning> th;
  };

  // The queue (Q = indexed_heap) holds each neuron's next candidate time; for the direct
  // method the rate tree (Q = rate_tree) holds its bound rate instead.
  template <class Q>
  static constexpr bool direct = std::is_same_v<Q, rate_tree>;

  // Delivery with the receiving neurons' state brought to time t one by one, or summed.
  template <class Q>
  void deliver_to(double t, std::span<const uint32_t> targets, const float* weights, double weight, int receptor,
                  Q& queue) {
    if constexpr (has_frame) {
      if (rate_ > 0 && receptor != dc_receptor) return deliver_summed(t, targets, weights, weight, receptor, queue);
      fresh_origin(t);
    }
    for (size_t k = 0; k < targets.size(); ++k) {
      const uint32_t i = targets[k];
      const params& pi = p(i);
      slot& sl = slots_[i];
      touch(sl, pi, t);
      const double w = weights ? double(weights[k]) : weight;
      Model::receive(sl.s, pi, w, receptor);
      after_input(t, i, effect(pi, w, receptor), queue);
    }
  }

  // After an input: most fit in the margin the last estimate left, so the queue key stays a
  // valid lower bound and neither a new estimate nor a queue update is needed.
  template <class Q>
  void after_input(double t, uint32_t i, double effect, Q& queue) {
    slot& sl = slots_[i];
    sl.exact = false;
    if (effect <= sl.margin) {
      sl.margin -= effect;
      if constexpr (!direct<Q>) {
        const uint32_t g = first_gid + i;
        // Past the fallback time the trajectory is already within the margin: look now.
        if (effect > 0 && sl.fallback < queue.key(g)) queue.set(g, std::max(sl.fallback, t));
      }
      return;
    }
    schedule(t, i, estimate<Q>(i), queue);
  }

  template <class Q>
  spike_estimate estimate(uint32_t i) {
    if constexpr (closed_form) return Model::estimate(slots_[i].s, p(i));
    else if constexpr (stochastic) return candidate<Q>(i);
    else return step_estimate(slots_[i].s, p(i));
  }
  // A lower bound (or a thinning candidate) came due and the state is at its time.
  spike_estimate look_again(uint32_t i) {
    if constexpr (closed_form) return Model::next_spike(slots_[i].s, p(i));
    else if constexpr (stochastic) {
      // Otherwise the bounding process starts afresh from here (it is memoryless), with a bound
      // for the present state.
      if (thin(i)) return spike_estimate::at(0);
      return candidate<indexed_heap>(i);
    } else return step_estimate(slots_[i].s, p(i));
  }
  // Thinning: the candidate (state at its time) is a spike with probability hazard / bound.
  // Strictly below, so a hazard of zero never fires whatever the draw.
  bool thin(uint32_t i) {
    const slot& sl = slots_[i];
    const double h = Model::hazard(sl.s, p(i));
    ++counts_.candidates;
    if (h > sl.th.rate) ++counts_.violations;
    if (h > counts_.worst * sl.th.rate) counts_.worst = h / sl.th.rate;
    const bool spike = draw(i).uniform() * sl.th.rate < h;
    counts_.spikes += spike;
    return spike;
  }
  // The next event of the Poisson process with the model's bound rate: the next spike can only
  // be one of these events. The direct method draws the events itself, from all neurons'
  // bounds at once, and can ignore `dead` (thinning rejects the candidates that fall in it).
  template <class Q>
  spike_estimate candidate(uint32_t i) {
    slot& sl = slots_[i];
    const rate_bound b = Model::hazard_bound(sl.s, p(i));
    sl.th.rate = b.rate;
    if constexpr (direct<Q>) return spike_estimate::bound(0, b.margin);
    else return spike_estimate::bound(b.rate > 0 ? b.dead + draw(i).exponential(b.rate) : no_spike, b.margin);
  }
  // Each draw its own counter of the neuron's stream: spikes do not depend on event order.
  rng_stream draw(uint32_t i) {
    return rng_stream(seed_, rng_purpose::hazard, first_gid + i, slots_[i].th.draws++);
  }
  // A step-only model: a copy is stepped ahead, max_step at a time, for up to look_ahead_span;
  // the first step that ends crossed is bisected on its length, with the model's own step. The
  // real state later takes the same steps (advance() below), so it crosses where the copy did.
  // A span of several steps saves queue events for models with short steps; an input before the
  // crossing makes the engine look again from the input.
  static constexpr int look_ahead_steps = [] {
    if constexpr (stepped) return std::max(1, static_cast<int>(look_ahead_span / Model::max_step + 1e-9));
    else return 1;
  }();
  // A step-only model may also give `step_bound`, a cheap lower bound on its crossing time with a
  // margin (lif_cond_exp): most inputs then cost no integration ahead. dt = 0 asks for the
  // look-ahead, whose key then keeps the bound's margin when that is negative (no input fits).
  static spike_estimate step_estimate(const state& s, const params& pi) {
    if constexpr (requires { Model::step_bound(s, pi); }) {
      const spike_estimate b = Model::step_bound(s, pi);
      if (b.dt > 0) return b;
      spike_estimate e = look_ahead(s, pi);
      e.margin = std::min(e.margin, b.margin);
      return e;
    } else {
      return look_ahead(s, pi);
    }
  }
  static spike_estimate look_ahead(const state& s, const params& pi) {
    if (Model::crossed(s, pi)) return spike_estimate::at(0);
    state from = s;
    double t = 0;
    for (int k = 0; k < look_ahead_steps; ++k, t += Model::max_step) {
      state end = from;
      // A model that reports where its advance stopped at a crossing (lif_cond_exp) spares the
      // bisection, a fresh integration per trial.
      if constexpr (requires(state& m) { Model::advance_until_crossed(m, pi, 1.0); }) {
        const double reached = Model::advance_until_crossed(end, pi, Model::max_step);
        if (Model::crossed(end, pi)) return spike_estimate::at(t + reached);
        from = end;
      } else {
        Model::advance(end, pi, Model::max_step);
        if (!Model::crossed(end, pi)) {
          from = end;
          continue;
        }
        double lo = 0, hi = Model::max_step;
        while (hi - lo > crossing_tolerance) {
          const double mid = 0.5 * (lo + hi);
          state m = from;
          Model::advance(m, pi, mid);
          (Model::crossed(m, pi) ? hi : lo) = mid;
        }
        return spike_estimate::at(t + hi);
      }
    }
    return spike_estimate::bound(t, 0);
  }
  // What an input can do to the crossing time, in the model's measure; a model that does not
  // say is looked at again after every input.
  static double effect(const params& pi, double w, int receptor) {
    if constexpr (requires { Model::input_effect(pi, w, receptor); }) return Model::input_effect(pi, w, receptor);
    else return no_spike;
  }
  static void clear_row(double* x) {
    for (size_t r = 0; r <= Model::receptors.size(); ++r) x[r] = 0;
  }
  static void advance(state& s, const params& pi, double h) { stepper::advance(s, pi, h); }

  // Brings the slot's state to time t, folding in the summed inputs.
  // The frame's decay also gives advance() its factor: exp(-rate (t - t_last)) is
  // decay(t) / decay(t_last), one exponential per read instead of two.
  void touch(slot& sl, const params& pi, double t) const {
    if constexpr (has_frame) {
      if (rate_ > 0) {
        const double decay = t == sl.t_last ? sl.decay : std::exp(-rate_ * (t - origin_));
        if (t != sl.t_last) Model::advance(sl.s, pi, t - sl.t_last, decay / sl.decay);
        Model::fold(sl.s, pi, sl.sums, decay);
        sl.sums.fill(0);
        sl.decay = decay;
        sl.t_last = t;
        return;
      }
    }
    if (t != sl.t_last) advance(sl.s, pi, t - sl.t_last);
    sl.t_last = t;
  }

  // Superposition. Outside the refractory period these models are linear, so an input's part
  // of the state at a later time t is its weight times fixed exponentials of (t - t_input), the
  // same for every neuron of the population. Written in a frame that decays at rate_ from
  // origin_, the input adds w * exp(rate (t_input - origin)) (or a power of it) to a per-neuron
  // sum: one exponential per delivered row, a multiply-add per synapse, and the sums are folded
  // into the state when it is next read. Inputs that reach a refractory neuron, or do not fit in
  // the margin, take the ordinary path.
  template <class Q>
  void deliver_summed(double t, std::span<const uint32_t> targets, const float* weights, double weight, int receptor,
                      Q& queue) {
    if (t > move_at_) move_origin(t);
    const params& pi = params_[0];
    std::array<double, Model::frame_terms> c{};
    Model::frame_weights(pi, receptor, std::exp(rate_ * (t - origin_)), c);
    const int first = Model::frame_first(receptor);
    const double row_effect = Model::input_effect(pi, weight, receptor);
    for (size_t k = 0; k < targets.size(); ++k) {
      const uint32_t i = targets[k];
      slot& sl = slots_[i];
      const double w = weights ? double(weights[k]) : weight;
      const double effect = weights ? Model::input_effect(pi, w, receptor) : row_effect;
      if (t - sl.t_last >= sl.s.refractory && effect <= sl.margin) {
        for (int j = 0; j < Model::frame_terms; ++j) sl.sums[first + j] += w * c[j];
        after_input(t, i, effect, queue);
        continue;
      }
      touch(sl, pi, t);
      Model::receive(sl.s, pi, w, receptor);
      after_input(t, i, effect, queue);
    }
  }

  // Keeps exp(rate (t - origin)) and its powers (up to 16) far from overflow.
  static constexpr double frame_span = 40;
  // Keeps every slot's decay far from underflow: each call that changes a slot comes here first,
  // so no slot is touched more than frame_guard from the origin. Inputs move the origin long
  // before (frame_span); this is for populations without input, which divided 0 by 0 after some
  // 700 time constants.
  static constexpr double frame_guard = 500;
  void fresh_origin(double t) {
    if constexpr (has_frame) {
      if (t > guard_at_) move_origin(t);
    }
  }
  // Out of line: rare, and kept out of the callers' inlining budget (inline, it cost on_due
  // 1.7 % more instructions on CUBA).
  [[gnu::noinline, gnu::cold]] void move_origin(double t) {
    for (auto& sl : slots_) {
      touch(sl, params_[0], t);
      sl.decay = 1;
    }
    origin_ = t;
    move_at_ = t + frame_span / rate_;
    guard_at_ = t + frame_guard / rate_;
  }
  template <class Q>
  void schedule(double t, uint32_t i, const spike_estimate& e, Q& queue) {
    slot& sl = slots_[i];
    sl.exact = e.exact;
    sl.margin = e.margin;
    sl.fallback = t + e.fallback;
    if constexpr (direct<Q>) queue.set(first_gid + i, sl.th.rate);
    else queue.set(first_gid + i, t + e.dt);
  }
  template <class Table>
  static auto member(const Table& table, const std::string& n) {
    for (const auto& f : table)
      if (f.name == n) return f.member;
    throw std::logic_error("unvalidated field " + n);  // the config check lists valid names
  }
  const params& p(uint32_t i) const { return params_[shared_params_ ? 0 : i]; }

  std::vector<typename stepper::constants> steps_;  // per params_ entry, for the clock backends

  std::vector<params> params_;
  bool shared_params_ = true;
  std::vector<slot> slots_;
  double rate_ = 0, origin_ = 0;  // frame decay rate (0: no summing), frame origin
  double move_at_ = no_spike, guard_at_ = no_spike;  // origin_ + frame_span or frame_guard / rate_
  uint64_t seed_ = 0;
  thinning_counts counts_;
};

}  // namespace gs

#if defined(__CUDACC__) && defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/kernels.cuh"
#endif

namespace gs {

// The registry entry of a model: its tables for `info` and validation, and its factory. Its GPU
// form is added apart (add_gpu_form in engine/backends/cuda/kernels.cuh), from a file compiled by
// nvcc, so the CPU code of the population can stay with the host compiler.
template <class Model>
model_info describe_model(std::string origin = "built-in") {
  model_info m;
  m.name = std::string(Model::name);
  m.doc = std::string(Model::doc);
  m.origin = std::move(origin);
  const typename Model::params dp{};
  for (const auto& f : Model::param_table)
    m.params.push_back({std::string(f.name), std::string(f.unit), std::string(f.doc), dp.*f.member});
  const typename Model::state ds = Model::initial(dp);
  for (const auto& f : Model::state_table)
    m.state.push_back({std::string(f.name), std::string(f.unit), std::string(f.doc), ds.*f.member});
  for (auto r : Model::receptors) m.receptors.emplace_back(r);
  if constexpr (requires { Model::conductance_based; }) m.conductance_based = Model::conductance_based;
  m.make = [](const population_spec& spec, uint64_t seed, uint32_t pop_index, uint32_t first) {
    return std::unique_ptr<population_base>(new population_of<Model>(spec, seed, pop_index, first));
  };
  return m;
}

}  // namespace gs
