// examples/microcircuit.json against the published Potjans & Diesmann (2014) model: `validate`
// accepts it, and its sizes, synapse totals, weights, delays and background follow from the
// paper's tables (restated here, not read from the file). Cheap: nothing is built or run.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace {

using nlohmann::json;

const char* const pops[8] = {"L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"};
const int sizes[8] = {20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948};
// Connection probabilities, [target][source] (Potjans & Diesmann 2014; NEST network_params.py).
const double conn_p[8][8] = {{0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0., 0.0076, 0.},
                             {0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0., 0.0042, 0.},
                             {0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.},
                             {0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0., 0.1057, 0.},
                             {0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.},
                             {0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.},
                             {0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252},
                             {0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443}};
const int k_ext[8] = {1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100};

int index_of(const std::string& name) {
  for (int i = 0; i < 8; ++i)
    if (name == pops[i]) return i;
  return -1;
}

// PSC amplitude (pA) of a PSP of `psp` mV for iaf_psc_exp (C_m 250 pF, tau_m 10 ms, tau_syn 0.5 ms):
// the peak of the voltage response to an exponential current.
double psc_of_psp(double psp) {
  const double C = 250, tm = 10, ts = 0.5;
  const double t_peak = std::log(tm / ts) * tm * ts / (tm - ts);
  const double v_per_pA = ts * tm / (C * (tm - ts)) * (std::exp(-t_peak / tm) - std::exp(-t_peak / ts));
  return psp / v_per_pA;
}

json load() {
  std::ifstream in(std::string(GS_SOURCE_DIR) + "/examples/microcircuit.json");
  REQUIRE(in.good());
  return json::parse(in);
}

}  // namespace

TEST_CASE("microcircuit run file: gillespike validate accepts it") {
  gs::test::scratch_dir dir;
  const auto r = gs::test::cli({"validate", std::string(GS_SOURCE_DIR) + "/examples/microcircuit.json"}, dir.path);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(gs::test::has(r.out, "77169 neurons"));
}

TEST_CASE("microcircuit run file: the published populations, neurons and background") {
  const json cfg = load();
  CHECK(cfg["run"]["backend"] == "clock");
  CHECK(cfg["run"]["dt"].get<double>() == 0.1);
  const auto& p = cfg["populations"];
  REQUIRE(p.size() == 8);
  int total = 0, i = 0;
  for (auto it = p.begin(); it != p.end(); ++it, ++i) {
    CAPTURE(it.key());
    CHECK(it.key() == pops[i]);  // file order = global id order
    CHECK((*it)["size"].get<int>() == sizes[i]);
    total += (*it)["size"].get<int>();
    CHECK((*it)["model"] == "lif_psc_exp");
    const auto& q = (*it)["params"];
    CHECK(q["C_m"].get<double>() == 250.0);
    CHECK(q["tau_m"].get<double>() == 10.0);
    CHECK(q["E_L"].get<double>() == -65.0);
    CHECK(q["V_th"].get<double>() == -50.0);
    CHECK(q["V_reset"].get<double>() == -65.0);
    CHECK(q["t_ref"].get<double>() == 2.0);
    CHECK(q["tau_syn_ex"].get<double>() == 0.5);
    CHECK(q["tau_syn_in"].get<double>() == 0.5);
  }
  CHECK(total == 77169);

  const auto& st = cfg["stimuli"];
  REQUIRE(st.size() == 8);
  for (const auto& s : st) {
    const auto& q = s["poisson"];
    const int t = index_of(q["target"]);
    REQUIRE(t >= 0);
    CHECK(q["rate"].get<double>() == doctest::Approx(8.0 * k_ext[t]));
    CHECK(q["weight"].get<double>() == doctest::Approx(psc_of_psp(0.15)).epsilon(1e-4));
  }
}

TEST_CASE("microcircuit run file: synapse totals, weights and delays from the published tables") {
  const json cfg = load();
  std::map<std::pair<int, int>, bool> seen;
  int64_t synapses = 0;
  const double w = psc_of_psp(0.15);  // 87.81 pA
  for (const auto& pr : cfg["projections"]) {
    const int s = index_of(pr["source"]), t = index_of(pr["target"]);
    REQUIRE(s >= 0);
    REQUIRE(t >= 0);
    CAPTURE(pr["source"].get<std::string>());
    CAPTURE(pr["target"].get<std::string>());
    CHECK_FALSE(seen[{s, t}]);
    seen[{s, t}] = true;
    // NEST's total for pairwise probability p with multapses: log(1 - p) / log(1 - 1 / (N_pre N_post)).
    const double pairs = double(sizes[s]) * sizes[t];
    const double k = std::log(1.0 - conn_p[t][s]) / std::log((pairs - 1.0) / pairs);
    const auto n = pr["rule"]["fixed_total_number"]["N"].get<int64_t>();
    CHECK(n == std::llround(k));
    synapses += n;

    const bool exc = s % 2 == 0;
    const double mean = exc ? (s == 2 && t == 0 ? 2 * w : w) : -4 * w;
    const auto& wn = pr["weight"]["normal"];
    CHECK(wn["mean"].get<double>() == doctest::Approx(mean).epsilon(1e-4));
    CHECK(wn["std"].get<double>() == doctest::Approx(0.1 * std::abs(mean)).epsilon(1e-3));
    CHECK(wn[exc ? "min" : "max"].get<double>() == 0.0);
    const auto& dn = pr["delay"]["normal"];
    CHECK(dn["mean"].get<double>() == (exc ? 1.5 : 0.75));
    CHECK(dn["std"].get<double>() == 0.5 * dn["mean"].get<double>());
    CHECK(dn["min"].get<double>() == 0.1);
  }
  int nonzero = 0;
  for (int t = 0; t < 8; ++t)
    for (int s = 0; s < 8; ++s) nonzero += conn_p[t][s] > 0;
  CHECK(seen.size() == size_t(nonzero));  // every non-zero entry, nothing else
  CHECK(synapses == 298880968);           // about 3 x 10^8
}

// What tools/run_microcircuit.py --procedural runs: every projection regenerated when its source
// spikes, the normal delays bounded at mean + 5 SD (procedural projections need a bound).
TEST_CASE("microcircuit run file: every projection procedural, delays bounded, is accepted") {
  json cfg = load();
  for (auto& pr : cfg["projections"]) {
    pr["procedural"] = true;
    auto& dn = pr["delay"]["normal"];
    dn["max"] = dn["mean"].get<double>() + 5 * dn["std"].get<double>();
  }
  gs::test::scratch_dir dir;
  const auto file = dir.write("microcircuit_procedural.json", cfg.dump());
  const auto r = gs::test::cli({"validate", file.string()}, dir.path);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(gs::test::has(r.out, "77169 neurons"));
}
