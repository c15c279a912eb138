// Bad input through the real command: every class of mistake exits with status 2, names the run
// file, the dotted JSON path and the problem (with the closest valid name where there is one),
// and leaves no output folder behind, neither the one given with -o nor the run file's own.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

using gs::test::cli;
using gs::test::cli_result;
using gs::test::has;
using gs::test::slurp;

// examples/cuba.json, shortened, writing into the scratch folder when it is (wrongly) run.
ojson good_doc(const gs::test::scratch_dir& dir) {
  ojson doc = ojson::parse(slurp(fs::path(GS_SOURCE_DIR) / "examples/cuba.json"));
  doc["run"]["duration"] = 20.0;
  doc["outputs"]["dir"] = (dir.path / "from_file").string();
  return doc;
}

// What a bad run file must produce: the message parts, checked on `run -o` and on `validate`.
struct expected_error {
  std::string path;                  // dotted JSON path, empty when there is none (missing file...)
  std::vector<std::string> problem;  // substrings of the problem
};

void check_message(const cli_result& r, const std::string& file, const expected_error& e) {
  INFO("stderr: " << r.err);
  CHECK(r.status == 2);
  const std::string head = "gillespike: error: " + file + ": " + (e.path.empty() ? "" : e.path + ": ");
  CHECK(r.err.rfind(head, 0) == 0);  // starts with file and path
  for (const auto& part : e.problem) CHECK(has(r.err, part));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line, no stack of messages
  CHECK_FALSE(has(r.err, "[json.exception"));             // no library internals
}

// Runs `run FILE -o OUT [--set ...]` and `validate FILE [--set ...]`; both must fail the same way,
// and neither the -o folder nor the run file's outputs.dir may appear.
void expect_bad(const gs::test::scratch_dir& dir, const fs::path& file, const std::vector<std::string>& sets,
                const expected_error& e) {
  const fs::path out = dir.path / "out";
  std::vector<std::string> run_args{"run", file.string(), "-o", out.string(), "--quiet"};
  std::vector<std::string> validate_args{"validate", file.string()};
  for (const auto& s : sets) {
    run_args.insert(run_args.end(), {"--set", s});
    validate_args.insert(validate_args.end(), {"--set", s});
  }
  const cli_result ran = cli(run_args, dir.path);
  check_message(ran, file.string(), e);
  CHECK(ran.out.empty());
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(dir.path / "from_file"));

  const cli_result validated = cli(validate_args, dir.path);
  check_message(validated, file.string(), e);
  CHECK(validated.err == ran.err);
  CHECK_FALSE(fs::exists(dir.path / "from_file"));
}

void expect_bad(const ojson& doc, const std::vector<std::string>& sets, const expected_error& e,
                const gs::test::scratch_dir& dir) {
  const fs::path file = dir.write("bad.json", doc.dump(2));
  expect_bad(dir, file, sets, e);
}

}  // namespace

TEST_CASE("a good run file validates (0) and runs; the same file made bad fails validation (2)") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  const fs::path file = dir.write("good.json", doc.dump(2));
  const cli_result v = cli({"validate", file.string()}, dir.path);
  CHECK(v.status == 0);
  CHECK(has(v.out, "valid"));
  CHECK(v.err.empty());
  CHECK_FALSE(fs::exists(dir.path / "from_file"));  // validate writes nothing

  const cli_result r = cli({"run", file.string(), "--quiet"}, dir.path);
  CHECK(r.status == 0);
  CHECK(fs::exists(dir.path / "from_file" / "summary.json"));  // the file's outputs.dir without -o
  fs::remove_all(dir.path / "from_file");

  const cli_result bad = cli({"validate", file.string(), "--set", "run.duration=-1"}, dir.path);
  CHECK(bad.status == 2);
  CHECK(has(bad.err, "run.duration: expected a positive number, found -1"));
}

TEST_CASE("unknown cell model: the closest known name is suggested") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  doc["populations"]["exc"]["model"] = "lif_psc_exq";
  expect_bad(doc, {}, {"populations.exc.model", {"unknown cell model \"lif_psc_exq\"", "did you mean \"lif_psc_exp\"?"}},
             dir);
  SUBCASE("nothing close: the known names are listed") {
    doc["populations"]["exc"]["model"] = "hodgkin_huxley_golgi";
    expect_bad(doc, {}, {"populations.exc.model", {"unknown cell model", "known: ", "lif_psc_exp", "lif_psc_delta",
                                                   "parrot_neuron"}},
               dir);
  }
  SUBCASE("without -o the run file's outputs.dir is not created either") {
    const fs::path file = dir.write("bad.json", doc.dump(2));
    const cli_result r = cli({"run", file.string()}, dir.path);
    CHECK(r.status == 2);
    CHECK_FALSE(fs::exists(dir.path / "from_file"));
  }
}

TEST_CASE("wrong type") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  SUBCASE("a string for an integer") {
    doc["populations"]["exc"]["size"] = "ten";
    expect_bad(doc, {}, {"populations.exc.size", {"expected a non-negative integer, found a string"}}, dir);
  }
  SUBCASE("a fraction for an integer") {
    doc["populations"]["inh"]["size"] = 800.5;
    expect_bad(doc, {}, {"populations.inh.size", {"expected a non-negative integer", "800.5"}}, dir);
  }
  SUBCASE("a string for a number") {
    doc["run"]["duration"] = "long";
    expect_bad(doc, {}, {"run.duration", {"expected a number, found a string"}}, dir);
  }
  SUBCASE("an object for a list of populations") {
    doc["projections"][0]["target"] = {{"exc", 1}};
    expect_bad(doc, {}, {"projections.0.target", {"expected an array, found an object"}}, dir);
  }
  SUBCASE("a string for a weight") {
    doc["projections"][1]["weight"] = "strong";
    expect_bad(doc, {}, {"projections.1.weight", {"expected a number or a distribution", "found a string"}}, dir);
  }
  SUBCASE("an array for the populations object") {
    doc["populations"] = ojson::array({1, 2});
    expect_bad(doc, {}, {"populations", {"expected an object, found an array"}}, dir);
  }
  SUBCASE("a number for a boolean switch") {
    doc["projections"][0]["rule"]["pairwise_bernoulli"]["allow_autapses"] = 0;
    expect_bad(doc, {}, {"projections.0.rule.pairwise_bernoulli.allow_autapses", {"expected true or false"}}, dir);
  }
}

TEST_CASE("negative or zero size") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  doc["populations"]["inh"]["size"] = -800;
  expect_bad(doc, {}, {"populations.inh.size", {"expected a non-negative integer, found -800"}}, dir);
  doc["populations"]["inh"]["size"] = 0;
  expect_bad(doc, {}, {"populations.inh.size", {"at least one neuron"}}, dir);
}

TEST_CASE("negative rate in a poisson stimulus") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  doc["stimuli"] = ojson::parse(R"([{"poisson": {"target": "exc", "rate": -5.0, "weight": 10.0}}])");
  expect_bad(doc, {}, {"stimuli.0.poisson.rate", {"expected a non-negative number, found -5"}}, dir);
  doc["stimuli"] = ojson::parse(
      R"([{"dc": {"target": "inh", "amplitude": 10.0}},
          {"poisson": {"target": "exc", "rate_times": [0, 10], "rate_values": [5.0, -2.5]}}])");
  expect_bad(doc, {}, {"stimuli.1.poisson.rate_values.1", {"negative rate -2.5"}}, dir);
}

TEST_CASE("delay below the minimum delay") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  SUBCASE("constant, default run.min_delay 0.1 ms") {
    doc["projections"][1]["delay"] = 0.05;
    expect_bad(doc, {}, {"projections.1.delay", {"0.05 ms", "below the minimum delay run.min_delay = 0.1 ms"}}, dir);
  }
  SUBCASE("a distribution that reaches below a raised run.min_delay") {
    doc["run"]["min_delay"] = 0.5;
    doc["projections"][0]["delay"] = ojson::parse(R"({"uniform": [0.3, 1.5]})");
    expect_bad(doc, {}, {"projections.0.delay", {"0.3 ms", "below the minimum delay run.min_delay = 0.5 ms"}}, dir);
  }
  SUBCASE("an unclipped normal distribution") {
    doc["projections"][0]["delay"] = ojson::parse(R"({"normal": {"mean": 1.5, "std": 0.2}})");
    expect_bad(doc, {}, {"projections.0.delay", {"below the minimum delay", "\"min\""}}, dir);
  }
  SUBCASE("a zero delay through --set") {
    const fs::path file = dir.write("good.json", doc.dump(2));
    expect_bad(dir, file, {"projections.0.delay=0"}, {"projections.0.delay", {"below the minimum delay"}});
  }
}

TEST_CASE("probability outside [0, 1] in pairwise_bernoulli") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  doc["projections"][1]["rule"]["pairwise_bernoulli"]["p"] = 1.5;
  expect_bad(doc, {}, {"projections.1.rule.pairwise_bernoulli.p", {"p = 1.5 is outside [0, 1]"}}, dir);
  doc["projections"][1]["rule"]["pairwise_bernoulli"]["p"] = -0.02;
  expect_bad(doc, {}, {"projections.1.rule.pairwise_bernoulli.p", {"p = -0.02 is outside [0, 1]"}}, dir);
}

TEST_CASE("unknown key at every level, with the closest name") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  SUBCASE("top level") {
    doc["projection"] = ojson::array();
    expect_bad(doc, {}, {"projection", {"unknown key", "did you mean \"projections\"?"}}, dir);
  }
  SUBCASE("run") {
    doc["run"]["seeed"] = 3;
    expect_bad(doc, {}, {"run.seeed", {"unknown key", "did you mean \"seed\"?"}}, dir);
  }
  SUBCASE("a population") {
    doc["populations"]["inh"]["parmas"] = ojson::object();
    expect_bad(doc, {}, {"populations.inh.parmas", {"unknown key", "did you mean \"params\"?"}}, dir);
  }
  SUBCASE("a model parameter") {
    doc["populations"]["exc"]["params"]["tau_syn_e"] = 5.0;
    expect_bad(doc, {}, {"populations.exc.params.tau_syn_e", {"unknown key", "did you mean \"tau_syn_ex\"?"}}, dir);
  }
  SUBCASE("a projection") {
    doc["projections"][0]["wieght"] = 1.0;
    expect_bad(doc, {}, {"projections.0.wieght", {"unknown key", "did you mean \"weight\"?"}}, dir);
  }
  SUBCASE("a projection rule's params") {
    doc["projections"][0]["rule"]["pairwise_bernoulli"]["allow_autapse"] = false;
    expect_bad(doc, {},
               {"projections.0.rule.pairwise_bernoulli.allow_autapse", {"unknown key", "did you mean \"allow_autapses\"?"}},
               dir);
  }
  SUBCASE("a stimulus") {
    doc["stimuli"] = ojson::parse(R"([{"poisson": {"target": "exc", "rate": 5.0, "stpo": 10.0}}])");
    expect_bad(doc, {}, {"stimuli.0.poisson.stpo", {"unknown key", "did you mean \"stop\"?"}}, dir);
  }
  SUBCASE("outputs") {
    doc["outputs"]["format"] = "phy";
    expect_bad(doc, {}, {"outputs.format", {"unknown key", "did you mean \"formats\"?"}}, dir);
  }
  SUBCASE("a key given twice is not silently dropped") {
    std::string text = doc.dump(2);
    const std::string dup = "\"size\": 800,";
    text.insert(text.find(dup), dup + " ");
    expect_bad(dir, dir.write("bad.json", text), {}, {"populations.inh.size", {"given twice"}});
  }
}

TEST_CASE("missing run file, or a folder given as one") {
  gs::test::scratch_dir dir;
  expect_bad(dir, dir.path / "no-such-run.json", {}, {"", {"cannot open the run file"}});
  fs::create_directories(dir.path / "a-folder.json");
  expect_bad(dir, dir.path / "a-folder.json", {}, {"", {"is a folder, not a run file"}});
}

TEST_CASE("malformed JSON: line and column") {
  gs::test::scratch_dir dir;
  SUBCASE("a trailing comma") {
    const std::string bad_line = R"(  "populations": {"exc": {"size": 10, "model": "lif_psc_exp",}})";
    const fs::path file = dir.write("bad.json", "{\n  \"run\": {\"duration\": 20.0},\n" + bad_line + "\n}\n");
    const size_t column = bad_line.find(",}") + 2;  // the '}' that may not follow a comma, 1-based
    expect_bad(dir, file, {}, {"", {"malformed JSON at line 3, column " + std::to_string(column) + ":", "'}'"}});
  }
  SUBCASE("a file cut short") {
    const fs::path file = dir.write("bad.json", "{\n  \"run\": {\"duration\": 20.0},\n  \"populations\": {\n");
    expect_bad(dir, file, {}, {"", {"malformed JSON at line 4, column 1:", "unexpected end of input"}});
  }
  SUBCASE("an empty file") {
    expect_bad(dir, dir.write("bad.json", ""), {}, {"", {"malformed JSON at line 1, column 1:"}});
  }
}

TEST_CASE("unknown population in a projection, with the closest name") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  SUBCASE("source") {
    doc["projections"][0]["source"] = "exx";
    expect_bad(doc, {}, {"projections.0.source", {"unknown population \"exx\"", "did you mean \"exc\"?"}}, dir);
  }
  SUBCASE("one of several targets") {
    doc["projections"][1]["target"] = {"exc", "ihn"};
    expect_bad(doc, {}, {"projections.1.target.1", {"unknown population \"ihn\"", "did you mean \"inh\"?"}}, dir);
  }
}

TEST_CASE("bad --set") {
  gs::test::scratch_dir dir;
  const fs::path file = dir.write("good.json", good_doc(dir).dump(2));
  SUBCASE("a path into a missing array element") {
    expect_bad(dir, file, {"projections.7.weight=1"},
               {"projections.7", {"no element 7 in an array of 2", "--set projections.7.weight=1"}});
  }
  SUBCASE("no '='") {
    expect_bad(dir, file, {"run.duration"}, {"", {"--set run.duration", "expected PATH=VALUE"}});
  }
  SUBCASE("descending into a number") {
    expect_bad(dir, file, {"run.duration.ms=5"}, {"run.duration.ms", {"cannot descend into a number"}});
  }
  SUBCASE("a value that is not JSON is a string, and strings are checked like any value") {
    expect_bad(dir, file, {"run.duration=ten"}, {"run.duration", {"expected a number, found a string"}});
  }
  SUBCASE("a new key is checked like one in the file") {
    expect_bad(dir, file, {"run.sede=4"}, {"run.sede", {"unknown key", "did you mean \"seed\"?"}});
  }
}

TEST_CASE("state recorder with an unknown variable") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  doc["recorders"].push_back(
      ojson::parse(R"({"state": {"population": "exc", "ids": [0, 5], "variables": ["V_m", "I_exc"]}})"));
  expect_bad(doc, {},
             {"recorders.1.state.variables.1",
              {"model \"lif_psc_exp\" has no state variable \"I_exc\"", "did you mean \"I_ex\"?"}},
             dir);
  SUBCASE("an id outside the population") {
    doc["recorders"][1]["state"]["variables"] = {"V_m"};
    doc["recorders"][1]["state"]["ids"] = {0, 800};
    doc["recorders"][1]["state"]["population"] = "inh";
    expect_bad(doc, {}, {"recorders.1.state.ids.1", {"id 800 is outside the population (size 800)"}}, dir);
  }
}

TEST_CASE("a population or trace name that cannot become an HDF5 group is refused before running") {
  gs::test::scratch_dir dir;
  ojson doc = good_doc(dir);
  SUBCASE("population name with '/'") {
    const std::string text = std::regex_replace(doc.dump(2), std::regex("\"inh\""), "\"in/h\"");
    expect_bad(dir, dir.write("bad.json", text), {}, {"populations.in/h", {"contains '/'"}});
  }
  SUBCASE("state recorder name with '/'") {
    doc["recorders"].push_back(
        ojson::parse(R"({"state": {"population": "exc", "ids": [0], "variables": "V_m", "name": "exc/V"}})"));
    expect_bad(doc, {}, {"recorders.1.state.name", {"\"exc/V\" contains '/'"}}, dir);
  }
}
