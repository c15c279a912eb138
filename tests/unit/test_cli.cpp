// The gillespike command as a user runs it: `info` lists what is registered, `run` writes every
// output file under the names the docs promise, --set / -o / --quiet behave, and the phy and
// SONATA files describe the same spikes.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/hdf5_read.hpp"
#include "io/npy.hpp"
#include "plugins/registry.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

using gs::test::cli;
using gs::test::cli_result;
using gs::test::has;
using gs::test::slurp;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> words_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> w;
  for (std::string s; in >> s;) w.push_back(s);
  return w;
}

// The lines of `info` that describe one model or rule: from "  NAME [" to the next such header.
std::vector<std::string> section(const std::vector<std::string>& lines, const std::string& name) {
  std::vector<std::string> out;
  bool in = false;
  for (const auto& l : lines) {
    const bool header = l.size() > 2 && l[0] == ' ' && l[1] == ' ' && l[2] != ' ';
    if (header) in = l.rfind("  " + name + " [", 0) == 0;
    else if (l.empty() || l[0] != ' ') in = false;
    if (in) out.push_back(l);
  }
  return out;
}

// A line "name unit default meaning..." (no unit column for dimensionless rule parameters).
bool lists_param(const std::vector<std::string>& sec, const gs::param_info& p) {
  for (const auto& l : sec) {
    const auto w = words_of(l);
    if (w.empty() || w[0] != p.name) continue;
    size_t k = 1;
    if (!p.unit.empty()) {
      if (w.size() <= k || w[k] != p.unit) continue;
      ++k;
    }
    if (w.size() > k && w[k] == gs::default_text(p)) return true;
  }
  return false;
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(e.path());
  return out;
}

double sample_rate_of(const fs::path& params_py) {
  std::smatch m;
  const std::string text = slurp(params_py);
  REQUIRE(std::regex_search(text, m, std::regex(R"((^|\n)sample_rate\s*=\s*([0-9.eE+-]+))")));
  return std::stod(m[2].str());
}

// examples/cuba.json with its outputs.dir pointed into the scratch folder.
fs::path cuba_file(const gs::test::scratch_dir& dir) {
  ojson doc = ojson::parse(slurp(fs::path(GS_SOURCE_DIR) / "examples/cuba.json"));
  doc["outputs"]["dir"] = (dir.path / "from_file").string();
  return dir.write("cuba.json", doc.dump(2));
}

}  // namespace

TEST_CASE("info lists the version, every cell model and connection rule with parameters, units, defaults") {
  gs::test::scratch_dir dir;
  const cli_result r = cli({"info"}, dir.path);
  REQUIRE(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("gillespike ", 0) == 0);
  const auto lines = lines_of(r.out);
  const gs::registry& reg = gs::default_registry();

  for (const std::string name : {"lif_psc_exp", "lif_psc_delta", "parrot_neuron"}) {
    CAPTURE(name);
    const gs::model_info* m = reg.find_model(name);
    REQUIRE(m != nullptr);
    const auto sec = section(lines, name);
    REQUIRE_FALSE(sec.empty());
    for (const auto& p : m->params) {
      CAPTURE(p.name);
      CHECK(lists_param(sec, p));
    }
    for (const auto& s : m->state) {
      CAPTURE(s.name);
      CHECK(lists_param(sec, s));
    }
  }
  // The NEST names and units a user will look for.
  const auto exp_sec = section(lines, "lif_psc_exp");
  for (const auto& [name, unit] : std::vector<std::pair<std::string, std::string>>{
           {"tau_m", "ms"}, {"C_m", "pF"}, {"E_L", "mV"}, {"V_th", "mV"}, {"V_reset", "mV"}, {"t_ref", "ms"},
           {"tau_syn_ex", "ms"}, {"tau_syn_in", "ms"}, {"I_e", "pA"}, {"V_m", "mV"}}) {
    CAPTURE(name);
    bool found = false;
    for (const auto& l : exp_sec) {
      const auto w = words_of(l);
      found |= w.size() >= 2 && w[0] == name && w[1] == unit;
    }
    CHECK(found);
  }

  for (const std::string name : {"pairwise_bernoulli", "fixed_indegree", "fixed_outdegree", "fixed_total_number",
                                 "one_to_one", "all_to_all"}) {
    CAPTURE(name);
    const gs::rule_info* rule = reg.find_rule(name);
    REQUIRE(rule != nullptr);
    const auto sec = section(lines, name);
    REQUIRE_FALSE(sec.empty());
    for (const auto& p : rule->params) {
      CAPTURE(p.name);
      CHECK(lists_param(sec, p));
    }
  }
  for (const auto& st : reg.stimuli()) {
    CAPTURE(st.name);
    const auto sec = section(lines, st.name);
    REQUIRE_FALSE(sec.empty());
    CHECK(sec[0].rfind("  " + st.name + " [built-in]", 0) == 0);
    for (const auto& p : st.params) {
      CAPTURE(p.name);
      CHECK(lists_param(sec, p));
    }
  }
  // Nothing registered is left out.
  for (const auto& m : reg.models()) CHECK_FALSE(section(lines, m.name).empty());
  for (const auto& rule : reg.rules()) CHECK_FALSE(section(lines, rule.name).empty());
}

TEST_CASE("run -o writes SONATA, phy and summary files that agree with each other") {
  gs::test::scratch_dir dir;
  const fs::path file = cuba_file(dir), out = dir.path / "run";
  const cli_result r = cli({"run", file.string(), "-o", out.string(), "--set", "run.duration=200", "--quiet"}, dir.path);
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.empty());  // --quiet
  CHECK(r.err.empty());  // no progress bar, no warnings
  CHECK_FALSE(fs::exists(dir.path / "from_file"));  // -o wins over outputs.dir

  for (const char* f : {"spikes.h5", "summary.json", "phy/spike_times.npy", "phy/spike_clusters.npy",
                        "phy/spikes.times.npy", "phy/params.py"}) {
    CAPTURE(f);
    CHECK(fs::is_regular_file(out / f));
  }
  for (const auto& p : files_under(out)) {
    CAPTURE(p);
    CHECK_FALSE(has(p.filename().string(), ".part-"));  // staged files were all renamed
  }

  const ojson summary = ojson::parse(slurp(out / "summary.json"));
  for (const char* k : {"spikes", "mean_rate_hz", "populations", "events", "synaptic_events", "wall_time_s",
                        "peak_memory_mb", "duration_ms", "seed"}) {
    CAPTURE(k);
    CHECK(summary.contains(k));
  }
  CHECK(summary["duration_ms"].get<double>() == 200.0);  // --set wins over the file's 1000 ms
  CHECK(summary["seed"].get<uint64_t>() == 1234);
  CHECK(summary["wall_time_s"].get<double>() > 0);
  CHECK(summary["peak_memory_mb"].get<double>() > 0);
  CHECK(summary["events"].get<uint64_t>() > 0);
  CHECK(summary["synaptic_events"].get<uint64_t>() > 0);
  REQUIRE(summary["populations"].size() == 2);
  const auto& pops = summary["populations"];
  CHECK(pops.begin().key() == "exc");  // file order
  CHECK(pops["exc"]["first_id"].get<uint32_t>() == 0);
  CHECK(pops["exc"]["last_id"].get<uint32_t>() == 3199);
  CHECK(pops["inh"]["first_id"].get<uint32_t>() == 3200);
  CHECK(pops["inh"]["last_id"].get<uint32_t>() == 3999);
  uint64_t total = 0;
  for (const auto& [name, p] : pops.items()) {
    CAPTURE(name);
    for (const char* k : {"first_id", "last_id", "spikes", "rate_hz"}) CHECK(p.contains(k));
    const double n = p["last_id"].get<double>() - p["first_id"].get<double>() + 1;
    CHECK(p["rate_hz"].get<double>() == doctest::Approx(p["spikes"].get<double>() / n / 0.2));
    total += p["spikes"].get<uint64_t>();
  }
  CHECK(summary["spikes"].get<uint64_t>() == total);
  CHECK(summary["mean_rate_hz"].get<double>() == doctest::Approx(double(total) / 4000 / 0.2));
  REQUIRE(total > 100);  // a network that fires, so the comparisons below mean something

  // phy: samples are the rounded seconds, clusters are global ids, all in time order.
  const auto samples = gs::io::read_npy<int64_t>(out / "phy/spike_times.npy");
  const auto clusters = gs::io::read_npy<int32_t>(out / "phy/spike_clusters.npy");
  const auto seconds = gs::io::read_npy<double>(out / "phy/spikes.times.npy");
  const double rate = sample_rate_of(out / "phy/params.py");
  CHECK(rate == 30000.0);
  REQUIRE(samples.size() == total);
  REQUIRE(clusters.size() == total);
  REQUIRE(seconds.size() == total);
  size_t bad_samples = 0, bad_order = 0, bad_ids = 0;
  for (size_t k = 0; k < total; ++k) {
    bad_samples += samples[k] != std::llround(seconds[k] * rate);
    bad_order += k > 0 && seconds[k] < seconds[k - 1];
    bad_ids += clusters[k] < 0 || clusters[k] >= 4000;
  }
  CHECK(bad_samples == 0);
  CHECK(bad_order == 0);
  CHECK(bad_ids == 0);
  CHECK(seconds.back() < 0.2);

  // SONATA: per population, the phy spikes of its id range, in the same order.
  for (const auto& [name, p] : pops.items()) {
    CAPTURE(name);
    const auto first = p["first_id"].get<int32_t>(), last = p["last_id"].get<int32_t>();
    std::vector<double> ms;
    std::vector<uint64_t> ids;
    for (size_t k = 0; k < total; ++k)
      if (clusters[k] >= first && clusters[k] <= last) {
        ms.push_back(seconds[k] * 1000);
        ids.push_back(uint64_t(clusters[k] - first));
      }
    const std::string group = "/spikes/" + name;
    const auto ts = gs::io::read_h5_doubles(out / "spikes.h5", group + "/timestamps");
    const auto nodes = gs::io::read_h5_uint64(out / "spikes.h5", group + "/node_ids");
    CHECK(ts.size() == p["spikes"].get<size_t>());
    REQUIRE(ts.size() == ms.size());
    REQUIRE(nodes.size() == ids.size());
    size_t bad_t = 0;
    for (size_t k = 0; k < ts.size(); ++k) bad_t += std::fabs(ts[k] - ms[k]) > 1e-12 * std::max(1.0, ts[k]);
    CHECK(bad_t == 0);
    CHECK(nodes == ids);
    CHECK(gs::io::read_h5_string_attr(out / "spikes.h5", group + "/timestamps", "units") == "ms");
    CHECK(gs::io::read_h5_enum_attr(out / "spikes.h5", group, "sorting") == 2);  // by_time
  }
}

TEST_CASE("--set, formats and the phy sample rate") {
  gs::test::scratch_dir dir;
  const fs::path file = cuba_file(dir), out = dir.path / "run";
  const cli_result r = cli({"run", file.string(), "-o", out.string(), "--quiet", "--set", "run.duration=150",
                            "--set", "run.seed=99", "--set", "outputs.phy_sample_rate=1000", "--set",
                            "outputs.formats=phy"},
                           dir.path);
  INFO("stderr: " << r.err);
  REQUIRE(r.status == 0);
  const ojson summary = ojson::parse(slurp(out / "summary.json"));
  CHECK(summary["duration_ms"].get<double>() == 150.0);
  CHECK(summary["seed"].get<uint64_t>() == 99);
  CHECK_FALSE(fs::exists(out / "spikes.h5"));  // only phy asked for
  CHECK(sample_rate_of(out / "phy/params.py") == 1000.0);
  const auto samples = gs::io::read_npy<int64_t>(out / "phy/spike_times.npy");
  const auto seconds = gs::io::read_npy<double>(out / "phy/spikes.times.npy");
  REQUIRE(samples.size() == seconds.size());
  size_t bad = 0;
  for (size_t k = 0; k < samples.size(); ++k) bad += samples[k] != std::llround(seconds[k] * 1000);
  CHECK(bad == 0);
  CHECK(samples.size() > 0);
}

TEST_CASE("without --quiet: a summary on stdout, and nothing on stderr when it is not a terminal") {
  gs::test::scratch_dir dir;
  const fs::path file = cuba_file(dir);
  SUBCASE("a short run") {
    const cli_result r = cli({"run", file.string(), "-o", (dir.path / "run").string(), "--set", "run.duration=100"},
                             dir.path);
    REQUIRE(r.status == 0);
    CHECK(has(r.out, "spikes"));
    CHECK(has(r.out, "exc"));
    CHECK(r.err.empty());
  }
  SUBCASE("a run long enough for the progress bar (over 2 s) on a terminal") {
    const cli_result r = cli({"run", file.string(), "-o", (dir.path / "run").string(), "--set", "run.duration=30000",
                              "--set", "outputs.formats=[]"},
                             dir.path);
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());  // stderr is a file: no bar, no carriage returns
    const ojson summary = ojson::parse(slurp(dir.path / "run" / "summary.json"));
    if (summary["simulate_time_s"].get<double>() < 2.0)
      WARN_MESSAGE(false, "the run took under 2 s, so the bar would not have shown on a terminal either");
  }
}
