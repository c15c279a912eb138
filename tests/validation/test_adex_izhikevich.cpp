// AdEx (aeif_psc_exp) and Izhikevich neurons under fixed input spike trains, run through the
// event engine, against integrations of the published equations written here: Cash-Karp 5(4)
// at relative and absolute tolerance 1e-12, crossings bisected to 1e-10 ms, no clamping and no
// change of variables (a step that overflows is rejected). Nothing of models/ode.hpp is reused.
// Also: a recurrent AdEx network with Poisson input (rates, every spike accounted for), and
// the defaults against NEST's.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/adex.hpp"
#include "models/izhikevich.hpp"
#include "tests/support/dormand_prince.hpp"
#include "tests/support/input_train.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

using test::engine_spikes;
using test::input;
using test::input_train;
using test::ahead_of;

// Spike times must match the reference to this (ms).
constexpr double tolerance = 1e-3;

double compare(const char* what, const std::vector<double>& expected, const std::vector<double>& got) {
  return test::compare_spikes(what, expected, got, tolerance);
}

// ---- reference integration ----

template <size_t N>
using arr = std::array<double, N>;

// One Cash-Karp step: the 5th-order solution and the difference to the 4th-order one in units
// of the tolerance (infinite when anything overflows, so such a step is rejected).
template <size_t N, class F>
std::pair<arr<N>, double> ck_step(const F& f, const arr<N>& y, double h) {
  static constexpr double c[6][5] = {{0, 0, 0, 0, 0},
                                     {1.0 / 5, 0, 0, 0, 0},
                                     {3.0 / 40, 9.0 / 40, 0, 0, 0},
                                     {3.0 / 10, -9.0 / 10, 6.0 / 5, 0, 0},
                                     {-11.0 / 54, 5.0 / 2, -70.0 / 27, 35.0 / 27, 0},
                                     {1631.0 / 55296, 175.0 / 512, 575.0 / 13824, 44275.0 / 110592, 253.0 / 4096}};
  static constexpr double b5[6] = {37.0 / 378, 0, 250.0 / 621, 125.0 / 594, 0, 512.0 / 1771};
  static constexpr double b4[6] = {2825.0 / 27648, 0, 18575.0 / 48384, 13525.0 / 55296, 277.0 / 14336, 1.0 / 4};
  arr<N> k[6];
  for (int s = 0; s < 6; ++s) {
    arr<N> z = y;
    for (int j = 0; j < s; ++j)
      for (size_t i = 0; i < N; ++i) z[i] += h * c[s][j] * k[j][i];
    k[s] = f(z);
  }
  arr<N> out = y;
  double err = 0;
  for (size_t i = 0; i < N; ++i) {
    double d5 = 0, d4 = 0;
    for (int s = 0; s < 6; ++s) d5 += b5[s] * k[s][i], d4 += b4[s] * k[s][i];
    out[i] += h * d5;
    const double e = std::fabs(h * (d5 - d4)) / (1e-12 + 1e-12 * std::max(std::fabs(y[i]), std::fabs(out[i])));
    if (!std::isfinite(e) || !std::isfinite(out[i])) return {out, std::numeric_limits<double>::infinity()};
    err = std::max(err, e);
  }
  return {out, err};
}

template <size_t N, class F, class C>
double integrate(const F& f, const C& fired, arr<N>& y, double t0, double t1) {
  return test::integrate_until([&](const arr<N>& x, double h) { return ck_step(f, x, h); }, fired, y, t0, t1);
}

// Spike times of a neuron model under inputs; V_before[t] is the membrane potential just before
// the input at t.
struct reference_run {
  std::vector<double> spikes;
  std::map<double, double> V_before;
};

// AdEx as published, with exponential current synapses and NEST's refractory clamp (V held at
// V_reset, w still relaxing toward a (V_reset - E_L)). Delta_T = 0: hard threshold at V_T.
struct adex_reference {
  double C_m = 281, g_L = 30, E_L = -70.6, V_T = -50.4, Delta_T = 2, a = 4, b = 80.5, tau_w = 144, V_reset = -60,
         V_peak = 0, t_ref = 0, tau_ex = 0.2, tau_in = 2, I_e = 0;

  reference_run run(std::vector<input> in, double T) const {
    std::sort(in.begin(), in.end());
    reference_run out;
    arr<4> y{E_L, 0, 0, 0};  // V, w, I_ex, I_in
    const double V_cross = Delta_T > 0 ? V_peak : V_T;
    auto free = [&](const arr<4>& s) {
      const double ex = Delta_T > 0 ? g_L * Delta_T * std::exp((s[0] - V_T) / Delta_T) : 0.0;
      return arr<4>{(-g_L * (s[0] - E_L) + ex - s[1] + s[2] + s[3] + I_e) / C_m, (a * (s[0] - E_L) - s[1]) / tau_w,
                    -s[2] / tau_ex, -s[3] / tau_in};
    };
    auto clamped = [&](const arr<4>& s) {
      return arr<4>{0.0, (a * (V_reset - E_L) - s[1]) / tau_w, -s[2] / tau_ex, -s[3] / tau_in};
    };
    auto never = [](const arr<4>&) { return false; };
    auto fired = [&](const arr<4>& s) { return s[0] >= V_cross; };
    double t = 0, refractory_until = -1;
    size_t k = 0;
    while (t < T) {
      const double stop = k < in.size() ? in[k].t : T;
      if (t < refractory_until) {
        const double e = std::min(stop, refractory_until);
        integrate(clamped, never, y, t, e);
        t = e;
        if (t < stop) continue;
      } else {
        const double tc = integrate(free, fired, y, t, stop);
        if (tc < stop) {
          out.spikes.push_back(tc);
          y[0] = V_reset;
          y[1] += b;
          refractory_until = tc + t_ref;
          t = tc;
          continue;
        }
        t = stop;
      }
      if (k < in.size()) {
        out.V_before[in[k].t] = y[0];
        (in[k].receptor == 0 ? y[2] : y[3]) += in[k].w;
        ++k;
      }
    }
    return out;
  }
};

// Izhikevich (2003): inputs are jumps of v; one that reaches V_th fires at its own time.
struct izhikevich_reference {
  double a = 0.02, b = 0.2, c = -65, d = 8, V_th = 30, I_e = 0;

  reference_run run(std::vector<input> in, double T) const {
    std::sort(in.begin(), in.end());
    reference_run out;
    arr<2> y{-65, -13};
    auto f = [&](const arr<2>& s) {
      return arr<2>{0.04 * s[0] * s[0] + 5 * s[0] + 140 - s[1] + I_e, a * (b * s[0] - s[1])};
    };
    auto fired = [&](const arr<2>& s) { return s[0] >= V_th; };
    auto fire = [&](double t) {
      out.spikes.push_back(t);
      y[0] = c;
      y[1] += d;
    };
    double t = 0;
    size_t k = 0;
    while (t < T) {
      const double stop = k < in.size() ? in[k].t : T;
      const double tc = integrate(f, fired, y, t, stop);
      if (tc < stop) {
        fire(tc);
        t = tc;
        continue;
      }
      t = stop;
      if (k < in.size()) {
        out.V_before[in[k].t] = y[0];
        y[0] += in[k++].w;
        if (y[0] >= V_th) fire(t);
      }
    }
    return out;
  }
};

// ---- the engine side ----

std::vector<double> isis(const std::vector<double>& t) {
  std::vector<double> d;
  for (size_t k = 1; k < t.size(); ++k) d.push_back(t[k] - t[k - 1]);
  return d;
}

}  // namespace

TEST_CASE("aeif_psc_exp with NEST's defaults under a fixed input train, inputs during upstrokes") {
  const double T = 400;
  adex_reference ref;
  ref.I_e = 900;
  auto in = input_train(777, T, 1.0, 0.7, 800.0, -300.0);
  const auto base = ref.run(in, T);
  // An excitatory input 0.03 ms before one spike, a strong inhibitory one 0.2 ms before another.
  const double t_ex = ahead_of(base.spikes, 1, 0.03), t_in = ahead_of(base.spikes, 4, 0.2);
  in.push_back({t_ex, 800.0, 0});
  in.push_back({t_in, -6000.0, 1});
  const auto expected = ref.run(in, T);
  REQUIRE(expected.spikes.size() >= 8);
  // Both arrive in an upstroke: past the inflection of the exponential term at V_T.
  CHECK(expected.V_before.at(t_ex) > ref.V_T);
  CHECK(expected.V_before.at(t_in) > ref.V_T);
  // Adaptation: the intervals lengthen as w builds up.
  const auto d = isis(expected.spikes);
  CHECK(d.back() > 2 * d.front());
  const auto got = engine_spikes("aeif_psc_exp", R"("I_e": 900.0)", in, T);
  compare("AdEx defaults", expected.spikes, got);
}

TEST_CASE("aeif_psc_exp with refractoriness, sharper spike and slower synapses") {
  const double T = 400;
  adex_reference ref;
  ref.t_ref = 2, ref.Delta_T = 1, ref.V_peak = 10, ref.a = 2, ref.b = 60, ref.tau_w = 100, ref.tau_ex = 1,
  ref.tau_in = 3, ref.I_e = 700;
  auto in = input_train(4321, T, 0.8, 0.75, 300.0, -250.0);
  const auto base = ref.run(in, T);
  const double t_up = ahead_of(base.spikes, 2, 0.05);
  in.push_back({t_up, 300.0, 0});
  // An input during the refractory period goes to the synaptic current.
  const double t_refr = ahead_of(base.spikes, 3, -1.0);
  in.push_back({t_refr, 2000.0, 0});
  const auto expected = ref.run(in, T);
  REQUIRE(expected.spikes.size() >= 8);
  CHECK(expected.V_before.at(t_up) > ref.V_T);
  CHECK(std::any_of(expected.spikes.begin(), expected.spikes.end(),
                    [&](double t) { return t < t_refr && t_refr < t + ref.t_ref; }));
  const auto got = engine_spikes("aeif_psc_exp",
                                 R"("t_ref": 2.0, "Delta_T": 1.0, "V_peak": 10.0, "a": 2.0, "b": 60.0, "tau_w": 100.0,
                                    "tau_syn_ex": 1.0, "tau_syn_in": 3.0, "I_e": 700.0)",
                                 in, T);
  compare("AdEx t_ref 2, Delta_T 1, V_peak 10", expected.spikes, got);
}

TEST_CASE("aeif_psc_exp with Delta_T = 0: adaptive LIF with a hard threshold at V_th") {
  const double T = 400;
  adex_reference ref;
  ref.Delta_T = 0, ref.I_e = 900, ref.t_ref = 1;
  const auto in = input_train(99, T, 1.0, 0.7, 800.0, -300.0);
  const auto expected = ref.run(in, T);
  REQUIRE(expected.spikes.size() >= 8);
  const auto got = engine_spikes("aeif_psc_exp", R"("Delta_T": 0.0, "I_e": 900.0, "t_ref": 1.0)", in, T);
  compare("AdEx Delta_T = 0", expected.spikes, got);
}

TEST_CASE("izhikevich (regular spiking, NEST's defaults) under voltage jumps, inputs during upstrokes") {
  const double T = 500;
  izhikevich_reference ref;
  ref.I_e = 10;
  auto in = input_train(4242, T, 2.0, 0.7, 1.5, -1.0);
  const auto base = ref.run(in, T);
  const double t_ex = ahead_of(base.spikes, 2, 0.3), t_in = ahead_of(base.spikes, 4, 0.3),
               jump = ahead_of(base.spikes, 6, 0.1);
  in.push_back({t_ex, 1.5, 0});
  in.push_back({t_in, -5.0, 1});
  in.push_back({jump, 40.0, 0});  // past V_th: fires at the input
  const auto expected = ref.run(in, T);
  REQUIRE(expected.spikes.size() >= 10);
  // In the upstroke (the quadratic's inflection is at -62.5 mV).
  for (double t : {t_ex, t_in, jump}) CHECK(expected.V_before.at(t) > -40);
  CHECK(std::find(expected.spikes.begin(), expected.spikes.end(), jump) != expected.spikes.end());
  const auto got = engine_spikes("izhikevich", R"("I_e": 10.0)", in, T);
  compare("Izhikevich regular spiking", expected.spikes, got);
  CHECK(std::find(got.begin(), got.end(), jump) != got.end());
}

TEST_CASE("izhikevich chattering (c = -50, d = 2): bursts of fast spikes") {
  const double T = 300;
  izhikevich_reference ref;
  ref.c = -50, ref.d = 2, ref.I_e = 10;
  const auto in = input_train(5150, T, 1.5, 0.6, 2.0, -2.0);
  const auto expected = ref.run(in, T);
  REQUIRE(expected.spikes.size() >= 15);
  const auto d = isis(expected.spikes);
  CHECK(*std::min_element(d.begin(), d.end()) < 10);  // within a burst
  CHECK(*std::max_element(d.begin(), d.end()) > 20);  // between bursts
  const auto got = engine_spikes("izhikevich", R"("c": -50.0, "d": 2.0, "I_e": 10.0)", in, T);
  compare("Izhikevich chattering", expected.spikes, got);
}

TEST_CASE("a recurrent network of 200 AdEx neurons with Poisson input: plausible rates, every spike delivered") {
  // Poisson trains reach the AdEx neurons through parrot neurons, so every input is a recorded
  // spike and the deliveries can be counted exactly.
  const double T = 500;
  const std::string cfg = fmt::format(R"({{
    "run": {{"duration": {}, "seed": 11}},
    "populations": {{
      "ext_e": {{"size": 160, "model": "parrot_neuron"}},
      "ext_i": {{"size": 40, "model": "parrot_neuron"}},
      "exc": {{"size": 160, "model": "aeif_psc_exp", "params": {{"I_e": 550.0, "t_ref": 1.0}},
               "initial": {{"V_m": {{"uniform": [-70.0, -52.0]}}}}}},
      "inh": {{"size": 40, "model": "aeif_psc_exp", "params": {{"I_e": 450.0, "a": 0.0, "b": 0.0, "t_ref": 1.0}},
               "initial": {{"V_m": {{"uniform": [-70.0, -52.0]}}}}}}
    }},
    "projections": [
      {{"source": "ext_e", "target": "exc", "rule": {{"one_to_one": {{}}}}, "weight": 400.0, "delay": 0.1}},
      {{"source": "ext_i", "target": "inh", "rule": {{"one_to_one": {{}}}}, "weight": 400.0, "delay": 0.1}},
      {{"source": "exc", "target": ["exc", "inh"], "rule": {{"pairwise_bernoulli": {{"p": 0.1}}}},
        "weight": 250.0, "delay": 1.5}},
      {{"source": "inh", "target": ["exc", "inh"], "rule": {{"pairwise_bernoulli": {{"p": 0.1}}}},
        "weight": -300.0, "delay": 0.8}}
    ],
    "stimuli": [{{"poisson": {{"target": ["ext_e", "ext_i"], "rate": 1500.0}}}}],
    "recorders": [{{"spikes": {{}}}},
                  {{"state": {{"population": "exc", "ids": [0, 1, 2, 3], "variables": ["V_m", "w"], "interval": 0.5}}}}]
  }})",
                                      T);
  const auto start = std::chrono::steady_clock::now();
  const auto r = test::simulate_json(cfg);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Rates and sanity of every spike.
  const uint32_t first_exc = 200, n_adex = 200;
  std::vector<std::vector<double>> per(r.net.neurons);
  uint64_t outside = 0;
  for (size_t k = 0; k < r.res.spike_times.size(); ++k) {
    const double t = r.res.spike_times[k];
    outside += !(t >= 0 && t < T);  // NaN too
    per[r.res.spike_gids[k]].push_back(t);
  }
  CHECK(outside == 0);
  uint64_t counted = 0;
  for (auto c : r.res.spikes_per_population) counted += c;
  CHECK(counted == r.res.spike_times.size());
  uint64_t silent = 0, too_close = 0;
  for (uint32_t g = first_exc; g < first_exc + n_adex; ++g) {
    silent += per[g].empty();
    for (size_t k = 1; k < per[g].size(); ++k) too_close += per[g][k] - per[g][k - 1] < 1.0;  // t_ref
  }
  CHECK(too_close == 0);
  const double rate_exc = 1e3 * double(r.res.spikes_per_population[2]) / (160 * T);
  const double rate_inh = 1e3 * double(r.res.spikes_per_population[3]) / (40 * T);
  MESSAGE(fmt::format("200 AdEx neurons, {} ms: exc {:.1f} Hz, inh {:.1f} Hz, {} silent; {} queue events, {} "
                      "synaptic events, {:.2f} s wall",
                      T, rate_exc, rate_inh, silent, r.res.events, r.res.synaptic_events, wall));
  CHECK(rate_exc > 1);
  CHECK(rate_exc < 100);
  CHECK(rate_inh > 1);
  CHECK(rate_inh < 200);
  CHECK(silent < n_adex / 2);

  // Every Poisson event reaches one parrot, and every spike whose arrival falls inside the run is
  // delivered along each of its synapses.
  uint64_t expected_events = 0;
  for (uint32_t g = 0; g < first_exc; ++g) expected_events += per[g].size();  // Poisson -> parrot
  for (const auto& pr : r.net.projections) {
    const uint32_t first = r.net.populations[pr.source]->first_gid;
    for (uint32_t s = 0; s + 1 < pr.row.size(); ++s)
      for (double t : per[first + s])
        if (t + pr.delay < T) expected_events += pr.row[s + 1] - pr.row[s];
  }
  CHECK(r.res.synaptic_events == expected_events);

  // The sampled state stays finite and in range.
  REQUIRE(r.res.traces.size() == 1);
  const auto& tr = r.res.traces[0];
  REQUIRE(tr.values.size() == 2);
  CHECK(tr.values[0].size() == 4 * size_t(T / 0.5));
  uint64_t bad = 0;
  for (double v : tr.values[0]) bad += !(v >= -120 && v <= 0);  // NaN too
  for (double w : tr.values[1]) bad += !std::isfinite(w);
  CHECK(bad == 0);
}

TEST_CASE("defaults are NEST's (aeif_psc_exp.cpp, izhikevich.cpp)") {
  const model_info* adex = default_registry().find_model("aeif_psc_exp");
  REQUIRE(adex);
  const std::map<std::string, double> nest_adex{
      {"C_m", 281.0}, {"g_L", 30.0},  {"E_L", -70.6},  {"V_th", -50.4},    {"Delta_T", 2.0},
      {"a", 4.0},     {"b", 80.5},    {"tau_w", 144.0}, {"V_reset", -60.0}, {"V_peak", 0.0},
      {"t_ref", 0.0}, {"I_e", 0.0},   {"tau_syn_ex", 0.2}, {"tau_syn_in", 2.0}};
  REQUIRE(adex->params.size() == nest_adex.size());
  for (const auto& p : adex->params) CHECK_MESSAGE(p.default_value == nest_adex.at(p.name), p.name);
  std::map<std::string, double> state;
  for (const auto& s : adex->state) state[s.name] = s.default_value;
  CHECK(state.at("V_m") == -70.6);  // E_L
  CHECK(state.at("w") == 0.0);
  CHECK(state.at("I_ex") == 0.0);
  CHECK(state.at("I_in") == 0.0);

  const model_info* izh = default_registry().find_model("izhikevich");
  REQUIRE(izh);
  const std::map<std::string, double> nest_izh{{"a", 0.02}, {"b", 0.2},  {"c", -65.0},
                                               {"d", 8.0},  {"V_th", 30.0}, {"I_e", 0.0},
                                               {"V_min", -std::numeric_limits<double>::max()}};
  REQUIRE(izh->params.size() == nest_izh.size());
  for (const auto& p : izh->params) CHECK_MESSAGE(p.default_value == nest_izh.at(p.name), p.name);
  state.clear();
  for (const auto& s : izh->state) state[s.name] = s.default_value;
  CHECK(state.at("V_m") == -65.0);
  CHECK(state.at("U_m") == -13.0);  // NEST: 0.2 * -65, b V_m for the default b
}

TEST_CASE("parameter checks say what is wrong") {
  aeif_psc_exp::params p;
  CHECK(aeif_psc_exp::check(p).empty());
  p.Delta_T = -1;
  CHECK(aeif_psc_exp::check(p).find("Delta_T") != std::string::npos);
  p = {};
  p.V_reset = 5;
  CHECK(aeif_psc_exp::check(p).find("V_reset") != std::string::npos);
  p = {};
  p.Delta_T = 0.01, p.V_peak = 20;  // exp(7040) overflows
  CHECK(aeif_psc_exp::check(p).find("overflow") != std::string::npos);
  p = {};
  p.Delta_T = 0, p.V_reset = -50;  // at or above the hard threshold V_th
  CHECK_FALSE(aeif_psc_exp::check(p).empty());

  izhikevich::params q;
  CHECK(izhikevich::check(q).empty());
  q.c = 40;
  CHECK(izhikevich::check(q).find("c") != std::string::npos);
}

TEST_CASE("izhikevich V_min holds V_m up under inhibition") {
  izhikevich::params p;
  p.V_min = -80;
  p.I_e = -200;  // pulls V_m down hard
  izhikevich::prepare(p);
  izhikevich::state s = izhikevich::initial(p);
  izhikevich::receive(s, p, -30, 1);
  CHECK(s.V_m == -80);
  for (int k = 0; k < 50; ++k) {
    izhikevich::advance(s, p, 1.0);
    CHECK(s.V_m >= -80);
  }
  CHECK(s.V_m == doctest::Approx(-80).epsilon(1e-6));
}

TEST_CASE("the AdEx change of variable maps V and back") {
  // Near V_peak, x lies within ~Delta_T exp(-(V - V_th) / Delta_T) of V_th and carries V only to
  // the rounding of x, which is a time shift of ulp(x) / (dx/dt), some 1e-12 ms: there the round
  // trip is checked in x.
  for (double dT : {2.0, 0.5, 0.05}) {
    aeif_psc_exp::params p;
    p.Delta_T = dT;
    p.V_peak = -50.4 + 20 * dT;
    aeif_psc_exp::prepare(p);
    for (double V : {-200.0, -90.0, -70.6, -55.0, -50.4, -50.0, -48.0, -45.0, p.V_peak - 1e-3}) {
      if (V >= p.V_peak) continue;
      const double x = aeif_psc_exp::x_of_V(p, V), back = aeif_psc_exp::V_of_x(p, x);
      CHECK(x < p.V_th);
      CHECK(std::fabs(aeif_psc_exp::x_of_V(p, back) - x) <= 4e-16 * std::fabs(x));
      if (V <= p.V_th + 5 * dT) CHECK(back == doctest::Approx(V).epsilon(1e-12));
    }
    CHECK(aeif_psc_exp::x_of_V(p, p.V_peak) == p.x_peak);
  }
}
