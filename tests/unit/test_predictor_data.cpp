// The predictor's data readers (phy folders and SONATA spike files written by the simulator's own
// writers), their refusals of bad input, the chronological split, and the Poisson baseline's
// maximum-likelihood rates and the KS statistic against hand-computed values.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "io/sonata.hpp"
#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/spike_data.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;
using namespace gs::predictor;

namespace {

struct scratch_dir {
  fs::path path = fs::temp_directory_path() / fmt::format("gs-test-pred-{}-{}", ::getpid(), std::random_device{}());
  scratch_dir() { fs::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

template <class F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const data_error& e) {
    return e.what();
  }
  return "no data_error";
}

void write_params(const fs::path& dir, double rate) {
  std::ofstream(dir / "params.py") << "dat_path = []\nsample_rate = " << rate << "\nhp_filtered = False\n";
}

}  // namespace

TEST_CASE("phy folder: seconds file preferred, samples otherwise; times in ms") {
  scratch_dir d;
  const std::vector<std::int32_t> ids = {2, 0, 2, 1};
  const std::vector<double> seconds = {0.001, 0.0015, 0.002, 0.010};
  const std::vector<std::int64_t> samples = {30, 45, 60, 300};  // at 30 kHz
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int32_t>(ids));
  gs::io::write_npy(d.path / "spike_times.npy", std::span<const std::int64_t>(samples));
  write_params(d.path, 30000.0);
  spike_train a = read_phy(d.path);
  CHECK(a.t_ms == std::vector<double>{1.0, 1.5, 2.0, 10.0});
  CHECK(a.ids == std::vector<int>{2, 0, 2, 1});
  CHECK(a.vocabulary() == 3);
  gs::io::write_npy(d.path / "spikes.times.npy", std::span<const double>(seconds));
  fs::remove(d.path / "params.py");  // not needed with seconds
  const spike_train b = read_spikes(d.path);
  for (std::size_t k = 0; k < 4; ++k) CHECK(b.t_ms[k] == doctest::Approx(seconds[k] * 1e3).epsilon(1e-15));
}

TEST_CASE("phy folder: bad input is refused with the file and what was found") {
  scratch_dir d;
  const std::vector<std::int32_t> ids = {0, 1, 1};
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int32_t>(ids));
  CHECK(data_error_of([&] { read_phy(d.path); }).find("spikes.times.npy or spike_times.npy") != std::string::npos);

  const std::vector<double> two = {0.1, 0.2};
  gs::io::write_npy(d.path / "spikes.times.npy", std::span<const double>(two));
  const std::string mismatch = data_error_of([&] { read_phy(d.path); });
  CHECK(mismatch.find("2 spike times but spike_clusters.npy has 3 ids") != std::string::npos);

  const std::vector<double> unsorted = {0.1, 0.3, 0.2};
  gs::io::write_npy(d.path / "spikes.times.npy", std::span<const double>(unsorted));
  const std::string order = data_error_of([&] { read_phy(d.path); });
  CHECK(order.find("non-decreasing") != std::string::npos);
  CHECK(order.find("spikes.times.npy") != std::string::npos);

  const std::vector<double> none;
  const std::vector<std::int32_t> no_ids;
  gs::io::write_npy(d.path / "spikes.times.npy", std::span<const double>(none));
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int32_t>(no_ids));
  CHECK(data_error_of([&] { read_phy(d.path); }).find("empty") != std::string::npos);

  const std::vector<double> ok = {0.1, 0.2, 0.3};
  const std::vector<std::int32_t> negative = {0, -4, 1};
  gs::io::write_npy(d.path / "spikes.times.npy", std::span<const double>(ok));
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int32_t>(negative));
  CHECK(data_error_of([&] { read_phy(d.path); }).find("found -4 at index 1") != std::string::npos);

  // The wrong dtype comes from the npy reader, still as bad input naming the file.
  const std::vector<std::int64_t> wide = {0, 1, 1};
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int64_t>(wide));
  const std::string dtype = data_error_of([&] { read_phy(d.path); });
  CHECK(dtype.find("spike_clusters.npy") != std::string::npos);
  CHECK(dtype.find("<i4") != std::string::npos);

  fs::remove(d.path / "spikes.times.npy");
  const std::vector<std::int64_t> samples = {1, 2, 3};
  gs::io::write_npy(d.path / "spike_times.npy", std::span<const std::int64_t>(samples));
  gs::io::write_npy(d.path / "spike_clusters.npy", std::span<const std::int32_t>(std::vector<std::int32_t>{0, 0, 0}));
  CHECK(data_error_of([&] { read_phy(d.path); }).find("params.py") != std::string::npos);
  std::ofstream(d.path / "params.py") << "n_channels_dat = 0\n";
  CHECK(data_error_of([&] { read_phy(d.path); }).find("sample_rate = <Hz>") != std::string::npos);
}

TEST_CASE("NWB (the annotated export): the same events as the run's phy folder") {
  scratch_dir d;
  std::ofstream(d.path / "run.json") << R"({"run": {"duration": 300, "seed": 4},
    "populations": {"a": {"model": "lif_psc_exp", "size": 30, "params": {"I_e": {"uniform": [380, 600]}}},
                    "b": {"model": "lif_psc_exp", "size": 20, "params": {"I_e": 500}}},
    "recorders": [{"spikes": {}}], "outputs": {"formats": ["phy", "nwb"]}})";
  const auto r = gs::test::cli({"run", "-q", (d.path / "run.json").string(), "-o", (d.path / "out").string()}, d.path);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const spike_train phy = read_phy(d.path / "out/phy"), nwb = read_spikes(d.path / "out/spikes.nwb");
  CHECK(phy.size() > 100);
  CHECK(nwb.t_ms == phy.t_ms);
  CHECK(nwb.ids == phy.ids);
  CHECK(nwb.vocabulary() == 50);
  fs::remove_all(d.path / "out/phy");
  fs::remove(d.path / "out/spikes.h5");
  CHECK(read_spikes(d.path / "out").ids == phy.ids);  // a run folder holding only spikes.nwb
}

TEST_CASE("SONATA: populations merged in time order, tokens numbered population by population") {
  scratch_dir d;
  const std::vector<double> te = {0.5, 2.0, 3.0}, ti = {1.0, 2.0};
  const std::vector<std::uint64_t> ie = {3, 1, 3}, ii = {0, 1};
  const std::vector<gs::io::spike_population> pops = {{"exc", te, ie, gs::io::spike_sorting::by_time},
                                                      {"inh", ti, ii, gs::io::spike_sorting::by_time}};
  gs::io::write_sonata_spikes(d.path / "spikes.h5", pops);
  const spike_train s = read_spikes(d.path);  // a run folder with spikes.h5
  CHECK(s.t_ms == std::vector<double>{0.5, 1.0, 2.0, 2.0, 3.0});
  // exc holds tokens 0..3, inh 4..5; the tie at 2.0 keeps population order.
  CHECK(s.ids == std::vector<int>{3, 4, 1, 5, 3});
  REQUIRE(s.populations.size() == 2);
  CHECK(s.populations[1].name == "inh");
  CHECK(s.populations[1].offset == 4);
  CHECK(s.vocabulary() == 6);

  // Into a model's vocabulary where inh comes first and exc is larger.
  spike_train t = s;
  use_vocabulary(t, {{"inh", 0, 2}, {"exc", 2, 10}});
  CHECK(t.ids == std::vector<int>{5, 0, 3, 1, 5});
  spike_train u = s;
  const std::string outside = data_error_of([&] { use_vocabulary(u, {{"exc", 0, 2}, {"inh", 2, 2}}); });
  CHECK(outside.find("outside the model's vocabulary") != std::string::npos);
  CHECK(outside.find("'exc'") != std::string::npos);
  spike_train w = s;
  CHECK(data_error_of([&] { use_vocabulary(w, {{"exc", 0, 4}}); }).find("'inh' is not in the model's vocabulary") !=
        std::string::npos);

  CHECK(data_error_of([&] { read_spikes(d.path / "missing.h5"); }).find("no such file") != std::string::npos);
  const std::vector<gs::io::spike_population> empty = {
      {"exc", std::span<const double>(), std::span<const std::uint64_t>(), gs::io::spike_sorting::by_time}};
  gs::io::write_sonata_spikes(d.path / "empty.h5", empty);
  CHECK(data_error_of([&] { read_sonata(d.path / "empty.h5"); }).find("no spikes") != std::string::npos);
}

TEST_CASE("chronological split by event count") {
  const split s = chronological_split(1000, 0.8, 0.1);
  CHECK(s.train_end == 800);
  CHECK(s.val_end == 900);
  CHECK(data_error_of([] { chronological_split(10, 0.9, 0.2); }).find("train + validation < 1") != std::string::npos);
}

TEST_CASE("Poisson baseline: rate = count / time; NLL and KS by hand") {
  spike_train s;
  s.t_ms = {0.0, 1.0, 2.0, 4.0, 10.0, 11.0};
  s.ids = {0, 1, 0, 0, 0, 1};
  s.populations = {{"phy", 0, 3}};
  const poisson_baseline p = poisson_baseline::fit(s, 0, 5);  // 5 spikes over 10 ms
  CHECK(p.rate_per_ms[0] == doctest::Approx(4.0 / 10));
  CHECK(p.rate_per_ms[1] == doctest::Approx(1.0 / 10));
  CHECK(p.rate_per_ms[2] == doctest::Approx(0.5 / 10));  // silent in the fit: half a spike
  const event_sequence seq = to_events(s, 1e-4);
  const auto scores = p.score(seq, 5, 6);  // the event at 11 ms: neuron 1, interval 1 ms
  REQUIRE(scores.size() == 1);
  const double total = 0.55;
  CHECK(scores[0].nll_time == doctest::Approx(-std::log(total) + total * 1.0));
  CHECK(scores[0].nll_mark == doctest::Approx(-std::log(0.1 / total)));
  CHECK(scores[0].rank == 1);
  CHECK(scores[0].u == doctest::Approx(1 - std::exp(-total)));

  std::vector<event_score> uniform(4);
  for (int k = 0; k < 4; ++k) uniform[std::size_t(k)].u = (k + 0.5) / 4;
  CHECK(summarise(uniform).ks == doctest::Approx(0.125));

  // Ties are a fair draw: first among 4 equals is a top-1 hit 1/4 of the time; third, with 5 others
  // tied with it, lands in the top 5 when at most two of the six go first: 3/6.
  std::vector<event_score> tied(2);
  tied[0].ties = 3;
  tied[1].rank = 2;
  tied[1].ties = 5;
  CHECK(summarise(tied).top1 == doctest::Approx((0.25 + 0) / 2));
  CHECK(summarise(tied).top5 == doctest::Approx((1 + 0.5) / 2));
}
