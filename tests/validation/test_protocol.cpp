// Stimulus protocols (dataset/protocol.hpp): the time line of trials and segments, shuffles,
// examples and splits against hand-computed values; the rates that gratings seen through
// centre-surround receptive fields and rate files give the input neurons, against spike counts of
// parrot neurons (each repeats its Poisson input), on both backends. The receptive field's gain
// is computed here by summing the difference of Gaussians against the grating on a fine grid,
// not from the closed form the library uses.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/hdf5_handle.hpp"
#include "io/staged_file.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

std::string protocol_file(const std::string& populations, const std::string& protocol, const std::string& run = "") {
  return fmt::format(R"({{"run": {{"seed": 11 {}}}, "populations": {{{}}}, "protocol": {{{}}}, "recorders": [{{"spikes": {{}}}}]}})",
                     run, populations, protocol);
}

const char* two_stimuli = R"("trials": 8, "segments": [{"blank": 100.0}, {"stimulus": "a", "duration": 200.0},
    {"blank": 50.0}, {"stimulus": "b", "duration": 300.0}], "shuffle": true, "seed": 3, "split": [0.5, 0.25, 0.25],
    "stimuli": {"a": {"grating": {}}, "b": {"grating": {"orientation": 90.0}}},
    "inputs": [{"target": "in", "baseline": 1.0}])";
const char* grid_input = R"("in": {"model": "parrot_neuron", "positions": {"grid": {"shape": [2, 2]}}})";

}  // namespace

TEST_CASE("protocol time line: trials of segments, shuffled stimulus slots, examples framed by half blanks, splits") {
  test::scratch_dir dir;
  const run_config cfg = load_config(dir.write("run.json", protocol_file(grid_input, two_stimuli)), {}, default_registry());
  REQUIRE(cfg.protocol);
  const protocol_spec& p = *cfg.protocol;
  CHECK(cfg.duration == 8 * 650.0);  // run.duration defaults to the protocol's length
  const auto tl = p.timeline();
  REQUIRE(tl.size() == 32);
  int b_first = 0;
  for (uint32_t t = 0; t < 8; ++t) {
    const protocol_segment* s = &tl[4 * t];
    CHECK(s[0].start == t * 650.0);
    for (int j = 0; j < 4; ++j) {
      CHECK(s[j].trial == t);
      CHECK(s[j].index == uint32_t(j));
      if (j > 0) CHECK(s[j].start == s[j - 1].end);
    }
    CHECK(s[0].stimulus == -1);
    CHECK(s[2].stimulus == -1);
    CHECK(s[0].end - s[0].start == 100.0);
    CHECK(s[2].end - s[2].start == 50.0);
    // Both stimuli once per trial, each with its own duration.
    CHECK(s[1].stimulus + s[3].stimulus == 1);
    for (int j : {1, 3}) CHECK(s[j].end - s[j].start == (s[j].stimulus == 0 ? 200.0 : 300.0));
    b_first += s[1].stimulus == 1;
  }
  CHECK(b_first > 0);
  CHECK(b_first < 8);

  const auto ex = p.examples(tl);
  REQUIRE(ex.size() == 16);
  const auto splits = p.trial_splits();
  int per_split[3] = {0, 0, 0};
  for (auto s : splits) ++per_split[s];
  CHECK(per_split[0] == 4);
  CHECK(per_split[1] == 2);
  CHECK(per_split[2] == 2);
  for (size_t k = 0; k < ex.size(); ++k) {
    const protocol_segment& s = tl[ex[k].segment];
    CHECK(s.stimulus == ex[k].stimulus);
    CHECK(ex[k].split == splits[s.trial]);
    const double before = s.index == 1 ? 50.0 : 25.0;  // half of the blank before
    CHECK(ex[k].start == doctest::Approx(s.start - before));
    const bool last = ex[k].segment == tl.size() - 1;  // nothing after the last trial's last segment
    CHECK(ex[k].end == doctest::Approx(s.end + (last ? 0.0 : s.index == 1 ? 25.0 : 50.0)));
  }

  // The same seed gives the same time line; another seed another one.
  const run_config again = load_config(dir.write("run2.json", protocol_file(grid_input, two_stimuli)), {}, default_registry());
  const run_config other = load_config(dir.write("run3.json", protocol_file(grid_input, two_stimuli)),
                                       {"protocol.seed=4"}, default_registry());
  bool same = true, differs = false;
  const auto tl2 = again.protocol->timeline(), tl3 = other.protocol->timeline();
  for (size_t k = 0; k < tl.size(); ++k) same &= tl[k].stimulus == tl2[k].stimulus, differs |= tl[k].stimulus != tl3[k].stimulus;
  CHECK(same);
  CHECK(differs);
}

namespace {

// The filter's response to a unit-contrast grating of wave number k along x, by summing the
// difference of Gaussians times cos(k u_x) on a grid of step h out to 8 surround widths.
double dog_gain_by_sum(double k, double sc, double ss, double w) {
  const double h = 0.002, L = 8 * ss;
  double sum = 0;
  for (double x = -L; x <= L; x += h)
    for (double y = -L; y <= L; y += h) {
      const double r2 = x * x + y * y;
      const double dog = std::exp(-r2 / (2 * sc * sc)) / (2 * M_PI * sc * sc) - w * std::exp(-r2 / (2 * ss * ss)) / (2 * M_PI * ss * ss);
      sum += dog * std::cos(k * x) * h * h;
    }
  return sum;
}

}  // namespace

TEST_CASE("drifting grating through ON and OFF receptive fields: parrot spike counts per neuron match the rates") {
  const double sc = 0.05, ss = 0.15, w = 0.7, sf = 1.5, tf = 4.0, contrast = 0.8, theta = 30.0, phase = 20.0;
  const double base = 5.0, gain = 50.0, blank = 500.0, stim = 2000.0;
  const std::string pops = R"("on": {"model": "parrot_neuron", "positions": {"grid": {"shape": [10, 10]}}},
      "off": {"model": "parrot_neuron", "positions": {"grid": {"shape": [10, 10]}}})";
  const std::string prot = fmt::format(
      R"("trials": 1, "segments": [{{"blank": {}}}, {{"stimulus": "g", "duration": {}}}],
      "stimuli": {{"g": {{"grating": {{"orientation": {}, "spatial_frequency": {}, "temporal_frequency": {},
                                       "contrast": {}, "phase": {}}}}}}},
      "inputs": [{{"target": "on", "baseline": {}, "gain": {},
                   "receptive_field": {{"polarity": "on", "center_sigma": {}, "surround_sigma": {}, "surround_weight": {}}}}},
                 {{"target": "off", "baseline": {}, "gain": {},
                   "receptive_field": {{"polarity": "off", "center_sigma": {}, "surround_sigma": {}, "surround_weight": {}}}}}])",
      blank, stim, theta, sf, tf, contrast, phase, base, gain, sc, ss, w, base, gain, sc, ss, w);
  const double k = 2 * M_PI * sf, G = dog_gain_by_sum(k, sc, ss, w);
  CHECK(G == doctest::Approx(std::exp(-0.5 * k * k * sc * sc) - w * std::exp(-0.5 * k * k * ss * ss)).epsilon(1e-4));

  // Expected stimulus-segment count of each neuron: the rectified rate integrated by the midpoint rule.
  std::vector<double> expected(200);
  for (int pop = 0; pop < 2; ++pop)
    for (int i = 0; i < 100; ++i) {
      const double x = -0.5 + (i % 10 + 0.5) * 0.1, y = 0.5 - (i / 10 + 0.5) * 0.1;
      const double spatial = k * (x * std::cos(theta * M_PI / 180) + y * std::sin(theta * M_PI / 180)) + phase * M_PI / 180;
      const int n = 20000;
      double integral = 0;
      for (int s = 0; s < n; ++s) {
        const double t = (s + 0.5) * stim / n * 1e-3;  // s
        integral += std::max(0.0, base + gain * (pop == 0 ? 1 : -1) * contrast * G * std::cos(spatial - 2 * M_PI * tf * t));
      }
      expected[size_t(pop * 100 + i)] = integral * stim * 1e-3 / n;
    }

  for (const std::string backend : {"event", "clock"}) {
    CAPTURE(backend);
    const auto run = test::simulate_json(protocol_file(pops, prot, R"(, "backend": ")" + backend + R"(", "dt": 0.1)"));
    CHECK(run.cfg.duration == blank + stim);
    std::vector<double> count(200, 0);
    double blank_count = 0;
    for (size_t s = 0; s < run.res.spike_times.size(); ++s) {
      if (run.res.spike_times[s] < blank) blank_count += 1;
      else count[run.res.spike_gids[s]] += 1;
    }
    // Blank: the baseline rate in every neuron; sum of Poisson counts.
    const double blank_mean = 200 * base * blank * 1e-3;
    CHECK(std::fabs(blank_count - blank_mean) < 5 * std::sqrt(blank_mean));
    // Stimulus: Pearson's statistic over the 200 neurons is chi-square with 200 degrees of
    // freedom (mean 200, sd 20) when every neuron has its expected rate.
    double chi2 = 0, total = 0, total_expected = 0;
    for (size_t i = 0; i < 200; ++i) {
      chi2 += (count[i] - expected[i]) * (count[i] - expected[i]) / expected[i];
      total += count[i];
      total_expected += expected[i];
    }
    MESSAGE(fmt::format("{}: stimulus spikes {} (expected {:.1f}), chi2 {:.1f} on 200 neurons", backend, total,
                        total_expected, chi2));
    CHECK(std::fabs(total - total_expected) < 5 * std::sqrt(total_expected));
    CHECK(chi2 < 200 + 5 * 20);
    CHECK(chi2 > 200 - 5 * 20);
    // The same seed gives the same spikes; on the clock backend whatever the thread count.
    const auto again = test::simulate_json(protocol_file(pops, prot, R"(, "backend": ")" + backend + R"(", "dt": 0.1, "threads": 1)"));
    CHECK(again.res.spike_times == run.res.spike_times);
    CHECK(again.res.spike_gids == run.res.spike_gids);
  }
}

TEST_CASE("rate files: npy and HDF5 frames give each neuron its rate per frame; both read the same") {
  test::scratch_dir dir;
  // 3 neurons x 4 frames of 50 ms (Hz).
  const std::vector<double> rates{20, 80, 0, 40, 0, 0, 120, 10, 60, 5, 30, 90};
  {
    std::ofstream f(dir.path / "rates.npy", std::ios::binary);
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
    header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
    f.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = uint16_t(header.size());
    f.write(reinterpret_cast<const char*>(&len), 2);
    f << header;
    f.write(reinterpret_cast<const char*>(rates.data()), std::streamsize(rates.size() * 8));
  }
  {
    io::h5::writer h(dir.path / "rates.h5", dir.path / "rates.h5");
    h.dataset("/movie", {3, 4}, rates.data());
    h.close();
  }
  auto file = [&](const std::string& rate_file) {
    return protocol_file(R"("in": {"model": "parrot_neuron", "size": 3})",
                         R"("trials": 200, "segments": [{"blank": 20.0}, {"stimulus": "m", "duration": 200.0}],
                            "stimuli": {"m": {"rate_file": )" + rate_file + R"(}},
                            "inputs": [{"target": "in"}])");
  };
  const std::string npy = file((R"({"path": ")" + (dir.path / "rates.npy").string() + R"(", "frame": 50.0})"));
  const std::string h5 = file((R"({"path": ")" + (dir.path / "rates.h5").string() + R"(", "frame": 50.0, "dataset": "movie"})"));
  const auto a = test::simulate_json(npy), b = test::simulate_json(h5);
  CHECK(a.res.spike_times == b.res.spike_times);
  CHECK(a.res.spike_gids == b.res.spike_gids);
  std::vector<double> count(12, 0);
  for (size_t s = 0; s < a.res.spike_times.size(); ++s) {
    const double in_trial = std::fmod(a.res.spike_times[s], 220.0);
    REQUIRE(in_trial >= 20.0);  // nothing in the blanks (baseline 0)
    count[a.res.spike_gids[s] * 4 + size_t((in_trial - 20.0) / 50.0)] += 1;
  }
  for (size_t c = 0; c < 12; ++c) {
    const double mean = rates[c] * 0.05 * 200;
    CAPTURE(c);
    if (mean == 0) CHECK(count[c] == 0);
    else CHECK(std::fabs(count[c] - mean) < 5 * std::sqrt(mean));
  }
}

TEST_CASE("protocol errors name the path and the closest name") {
  test::scratch_dir dir;
  auto error_of = [&](const std::string& text, const std::vector<std::string>& sets = {}) {
    try {
      load_config(dir.write("bad.json", text), sets, default_registry());
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string good = protocol_file(grid_input, two_stimuli);
  CHECK(test::has(error_of(good, {R"(protocol.segments.1.stimulus="aa")"}),
                  R"(protocol.segments.1.stimulus: unknown protocol stimulus "aa"; did you mean "a"?)"));
  CHECK(test::has(error_of(good, {"protocol.inputs.0.target=inn"}), R"(did you mean "in"?)"));
  CHECK(test::has(error_of(good, {"protocol.stimuli.a.grating.contrast=2"}), "protocol.stimuli.a.grating.contrast: expected a contrast in [0, 1]"));
  CHECK(test::has(error_of(protocol_file(R"("in": {"model": "parrot_neuron", "size": 4})", two_stimuli)),
                  R"(protocol.inputs.0.target: a grating needs positions, but population "in" has no "positions")"));
  CHECK(test::has(error_of(good, {"outputs.hidden.fraction=1.5"}), "outputs.hidden.fraction: expected a fraction in [0, 1]"));
}
