// The clock backend against the exact event backend on the COBA network (examples/coba.json,
// Auryn's variant: 4000 lif_cond_exp cells, p = 0.02, 0.1 ms delays) at dt = 0.1 ms: the same
// mean rate over three seeds (within 3 %) and the same irregularity (mean ISI CV within 0.05).
// The clock backend sums a step's inputs, puts spikes on the grid (the end of their step) and
// rounds delays to steps; none of that may change the network's statistics. The single-neuron
// and CUBA comparisons are in test_clock_backend.cpp.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/support/sim.hpp"

using namespace gs;

TEST_CASE("COBA network: clock rates and ISI CV as the event backend's over three seeds") {
  // All cells start at V_reset together: a synchronous volley and a lull fill the first 100 ms,
  // which are left out. The network's rate wanders slowly (ISI CV about 1.7, population bursts),
  // so one run's rate is noisy: over the 2.9 s counted here the backends differed by -1.9, +0.4
  // and -1.2 % for the three seeds (-4.1, +3.1, -2.0 % over 1.4 s; -5.2, +1.6, -6.8 % over
  // 0.5 s). Scaled to 2.9 s these put one seed's difference near 1.9 % and the three-seed mean's
  // near 1.1 %: the 3 % check stands at about 2.7 standard errors, where 0.5 s would have put it
  // at 1.1. 3 s per seed is what fits the test's time: about 70 s of CPU (the event backend takes
  // 5.9 s per simulated second of this network, the clock backend 0.9 s).
  const std::string text = test::read_example("coba.json");
  const double duration = 3000, skip = 100;
  double event_rate = 0, clock_rate = 0, event_cv = 0, clock_cv = 0;
  for (int seed : {1, 2, 3}) {
    const auto [e, c] = test::event_and_clock(text, seed, duration, skip);
    event_rate += e.rate / 3, clock_rate += c.rate / 3, event_cv += e.cv / 3, clock_cv += c.cv / 3;
  }
  MESSAGE(fmt::format("mean over 3 seeds: rate event {:.3f} Hz, clock {:.3f} Hz ({:+.2f} %); ISI CV event {:.3f}, "
                      "clock {:.3f}",
                      event_rate, clock_rate, 100 * (clock_rate / event_rate - 1), event_cv, clock_cv));
  CHECK(std::fabs(clock_rate / event_rate - 1) < 0.03);
  CHECK(std::fabs(clock_cv - event_cv) < 0.05);
}
