// annotations.h5 lists the parameters drawn per neuron with the values the neurons ran with: each
// neuron's first spike (event backend, exact) is at the closed-form LIF time for its exported I_e.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "io/hdf5_read.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

TEST_CASE("drawn parameters in annotations.h5 are the ones each neuron ran with") {
  test::scratch_dir dir;
  const auto file = dir.write("run.json", R"({"run": {"duration": 100, "seed": 9},
    "populations": {"a": {"model": "lif_psc_exp", "size": 40, "params": {"I_e": {"uniform": [400, 800]}, "t_ref": 2.0}}},
    "recorders": [{"spikes": {}}],
    "outputs": {"formats": ["sonata", "annotations"]}})");
  const auto out = dir.path / "out";
  const auto r = test::cli({"run", "-q", file.string(), "-o", out.string()}, dir.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);

  const std::vector<double> I = io::read_h5_doubles(out / "annotations.h5", "/populations/a/drawn/I_e");
  REQUIRE(I.size() == 40);
  const auto ts = io::read_h5_doubles(out / "spikes.h5", "/spikes/a/timestamps");
  const auto ids = io::read_h5_uint64(out / "spikes.h5", "/spikes/a/node_ids");
  std::map<uint64_t, double> first;
  for (size_t k = 0; k < ts.size(); ++k) first.emplace(ids[k], ts[k]);  // sorted by time: the first stays
  REQUIRE(first.size() == 40);
  // From rest (V = E_L = -70 mV) with tau_m 10 ms, C_m 250 pF, V_th -55 mV, the defaults.
  double worst = 0, lo = 1e9, hi = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    CHECK(I[i] >= 400);
    CHECK(I[i] <= 800);
    lo = std::min(lo, I[i]), hi = std::max(hi, I[i]);
    const double v_inf = -70 + I[i] * 10 / 250, t1 = 10 * std::log((v_inf + 70) / (v_inf + 55));
    worst = std::max(worst, std::abs(first[i] - t1));
  }
  MESSAGE("first spikes against the closed form for the exported I_e: worst " << worst << " ms");
  CHECK(worst < 1e-6);
  CHECK(hi - lo > 100);  // drawn, not one value
}
