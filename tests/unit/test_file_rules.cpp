// The from_file rule: synapses, weights and delays read from CSV tables and SONATA edge files
// (written here, the SONATA ones with the HDF5 C API) end up in the projection exactly; bad files
// are run-file errors (exit 2) that name the file and the line, column or edge.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;

namespace {

using gs::json;
using synapse = std::tuple<uint32_t, uint32_t, float, float>;  // source, target, weight, delay

json doc_with(const json& rule, const json& extra = json::object()) {
  json proj = {{"source", "a"}, {"target", "b"}, {"rule", {{"from_file", rule}}}, {"weight", 2.0}, {"delay", 1.5}};
  for (const auto& [k, v] : extra.items()) proj[k] = v;
  return {{"run", {{"duration", 1.0}, {"seed", 1}, {"min_delay", 0.1}}},
          {"populations", {{"a", {{"size", 4}, {"model", "parrot_neuron"}}}, {"b", {{"size", 5}, {"model", "parrot_neuron"}}}}},
          {"projections", json::array({proj})}};
}

struct built {
  gs::run_config cfg;
  gs::network net;
};

built build(const gs::test::scratch_dir& dir, const json& doc, const std::string& name = "run.json") {
  const fs::path file = dir.write(name, doc.dump());
  built b{gs::load_config(file, {}, gs::default_registry()), {}};
  b.net = gs::build_network(b.cfg, gs::default_registry());
  return b;
}

// Every synapse with its effective weight and delay, sorted.
std::vector<synapse> synapses_of(const gs::projection& p) {
  std::vector<synapse> out;
  for (uint32_t s = 0; s + 1 < p.row.size(); ++s)
    for (uint64_t k = p.row[s]; k < p.row[s + 1]; ++k)
      out.emplace_back(s, p.targets[k], p.weights.empty() ? float(p.weight) : p.weights[k],
                       p.delays.empty() ? float(p.delay) : p.delays[k]);
  std::sort(out.begin(), out.end());
  return out;
}

void expect_error(const gs::test::scratch_dir& dir, const json& doc, const std::string& path,
                  const std::vector<std::string>& parts) {
  const fs::path file = dir.write("bad.json", doc.dump());
  try {
    (void)gs::load_config(file, {}, gs::default_registry());
    FAIL("no error for ", path);
  } catch (const gs::config_error& e) {
    INFO("error: ", e.what());
    CHECK(e.file == file.string());
    CHECK(e.path == path);
    for (const auto& part : parts) CHECK_MESSAGE(e.problem.find(part) != std::string::npos, "missing: ", part);
  }
}

// --- SONATA edge files through the HDF5 C API ---

struct h5file {
  hid_t id;
  explicit h5file(const fs::path& p) : id(H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) {
    REQUIRE(id >= 0);
  }
  ~h5file() { H5Fclose(id); }
  void write(const std::string& path, hid_t file_type, hid_t mem_type, size_t n, const void* data) {
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hsize_t dims = n;
    const hid_t space = H5Screate_simple(1, &dims, nullptr);
    const hid_t ds = H5Dcreate2(id, path.c_str(), file_type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(ds >= 0);
    REQUIRE(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Sclose(space);
    H5Pclose(lcpl);
  }
  void u64(const std::string& path, const std::vector<uint64_t>& v) {
    write(path, H5T_STD_U64LE, H5T_NATIVE_UINT64, v.size(), v.data());
  }
  void i64(const std::string& path, const std::vector<int64_t>& v) {
    write(path, H5T_STD_I64LE, H5T_NATIVE_INT64, v.size(), v.data());
  }
  void f64(const std::string& path, const std::vector<double>& v) {
    write(path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.size(), v.data());
  }
  void f32(const std::string& path, const std::vector<float>& v) {
    write(path, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.size(), v.data());
  }
};

}  // namespace

TEST_CASE("CSV: synapses, weights and delays come from the file") {
  gs::test::scratch_dir dir;
  dir.write("edges.csv", "source,target,weight,delay\n0,1,5.5,0.5\n0,4,-3.25,2.0\n3,0,1e1,0.25\n\n2,2, 7 ,1.0\r\n0,1,0.5,3\n");
  const built b = build(dir, doc_with({{"path", "edges.csv"}}, {{"receptor", "excitatory"}}));
  const auto& p = b.net.projections.at(0);
  CHECK(p.weights.size() == 5);
  CHECK(p.delays.size() == 5);
  CHECK(synapses_of(p) == std::vector<synapse>{{0, 1, 0.5f, 3.0f}, {0, 1, 5.5f, 0.5f}, {0, 4, -3.25f, 2.0f},
                                               {2, 2, 7.0f, 1.0f}, {3, 0, 10.0f, 0.25f}});
  // Rows ordered by delay, as for drawn delays.
  for (uint32_t s = 0; s < 4; ++s) CHECK(std::is_sorted(p.delays.begin() + p.row[s], p.delays.begin() + p.row[s + 1]));
}

TEST_CASE("CSV: columns in any order; missing columns and empty fields take the projection's values") {
  gs::test::scratch_dir dir;
  SUBCASE("source and target only: the projection's constant weight and delay, stored once") {
    dir.write("edges.csv", "source,target\n1,2\n3,4\n");
    const built b = build(dir, doc_with({{"path", "edges.csv"}}));
    const auto& p = b.net.projections.at(0);
    CHECK(p.weights.empty());
    CHECK(p.delays.empty());
    CHECK(synapses_of(p) == std::vector<synapse>{{1, 2, 2.0f, 1.5f}, {3, 4, 2.0f, 1.5f}});
  }
  SUBCASE("reordered columns, an empty weight field") {
    dir.write("edges.csv", "delay, target ,source,weight\n0.75,2,1,\n2.5,0,3,-1\n");
    const built b = build(dir, doc_with({{"path", "edges.csv"}}, {{"receptor", "inhibitory"}}));
    CHECK(synapses_of(b.net.projections.at(0)) == std::vector<synapse>{{1, 2, 2.0f, 0.75f}, {3, 0, -1.0f, 2.5f}});
  }
  SUBCASE("a file in a subfolder, named relative to the run file, read from another working directory") {
    fs::create_directories(dir.path / "conf" / "data");
    dir.write("conf/data/e.csv", "source,target,delay\n0,0,0.2\n");
    const built b = build(dir, doc_with({{"path", "data/e.csv"}}), "conf/run.json");
    CHECK(synapses_of(b.net.projections.at(0)) == std::vector<synapse>{{0, 0, 2.0f, 0.2f}});
    CHECK(b.cfg.projections[0].rule_params["path"].get<std::string>() == (dir.path / "conf" / "data/e.csv").string());
  }
  SUBCASE("several targets read the same file") {
    dir.write("edges.csv", "source,target\n0,3\n");
    json doc = doc_with({{"path", "edges.csv"}});
    doc["projections"][0]["target"] = {"b", "a"};
    const built b = build(dir, doc);
    REQUIRE(b.net.projections.size() == 2);
    CHECK(b.net.projections[0].synapses() == 1);
    CHECK(b.net.projections[1].synapses() == 1);
  }
}

TEST_CASE("SONATA edges: ids, syn_weight and delay of group 0") {
  gs::test::scratch_dir dir;
  {
    h5file f(dir.path / "edges.h5");
    f.u64("/edges/a_to_b/source_node_id", {3, 0, 1, 0});
    f.u64("/edges/a_to_b/target_node_id", {4, 4, 0, 2});
    f.f64("/edges/a_to_b/0/syn_weight", {1.5, 2.5, 3.5, 4.5});
    f.f32("/edges/a_to_b/0/delay", {0.5f, 1.0f, 2.0f, 0.25f});
  }
  const built b = build(dir, doc_with({{"path", "edges.h5"}}, {{"receptor", "excitatory"}}));
  CHECK(synapses_of(b.net.projections.at(0)) ==
        std::vector<synapse>{{0, 2, 4.5f, 0.25f}, {0, 4, 2.5f, 1.0f}, {1, 0, 3.5f, 2.0f}, {3, 4, 1.5f, 0.5f}});

  SUBCASE("edge_group_index picks the rows of group 0; ids may be signed integers") {
    {
      h5file f(dir.path / "indexed.h5");
      f.i64("/edges/e/source_node_id", {0, 1, 2});
      f.i64("/edges/e/target_node_id", {1, 2, 3});
      f.u64("/edges/e/edge_group_id", {0, 0, 0});
      f.u64("/edges/e/edge_group_index", {2, 0, 1});
      f.f64("/edges/e/0/syn_weight", {10.0, 20.0, 30.0});
    }
    const built bi = build(dir, doc_with({{"path", "indexed.h5"}, {"format", "sonata"}}, {{"receptor", "excitatory"}}));
    const auto& p = bi.net.projections.at(0);
    CHECK(p.delays.empty());
    CHECK(synapses_of(p) == std::vector<synapse>{{0, 1, 30.0f, 1.5f}, {1, 2, 10.0f, 1.5f}, {2, 3, 20.0f, 1.5f}});
  }
  SUBCASE("several edge populations: edge_population chooses") {
    {
      h5file f(dir.path / "two.h5");
      f.u64("/edges/first/source_node_id", {0});
      f.u64("/edges/first/target_node_id", {1});
      f.u64("/edges/second/source_node_id", {2, 3});
      f.u64("/edges/second/target_node_id", {3, 4});
    }
    const std::string rp = "projections.0.rule.from_file";
    expect_error(dir, doc_with({{"path", "two.h5"}}), rp, {"two.h5", "several edge populations (first, second)",
                                                           "\"edge_population\""});
    expect_error(dir, doc_with({{"path", "two.h5"}, {"edge_population", "secnd"}}), rp,
                 {"no edge population \"secnd\"", "did you mean \"second\"?"});
    const built bs = build(dir, doc_with({{"path", "two.h5"}, {"edge_population", "second"}}));
    CHECK(synapses_of(bs.net.projections.at(0)) == std::vector<synapse>{{2, 3, 2.0f, 1.5f}, {3, 4, 2.0f, 1.5f}});
  }
}

TEST_CASE("bad edge files are run-file errors naming the file and where in it") {
  gs::test::scratch_dir dir;
  const std::string rp = "projections.0.rule.from_file";
  const std::string csv = (dir.path / "e.csv").string();
  SUBCASE("missing file") {
    expect_error(dir, doc_with({{"path", "nowhere.csv"}}), rp, {(dir.path / "nowhere.csv").string(), "missing"});
    expect_error(dir, doc_with({{"path", "nowhere.h5"}}), rp, {"nowhere.h5", "missing"});
  }
  SUBCASE("an id outside the population, with its line") {
    dir.write("e.csv", "source,target\n0,1\n1,2\n3,5\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp,
                 {csv + ": line 4: target id 5 is outside population \"b\" (ids 0 to 4)", "source \"a\", target \"b\""});
    dir.write("e.csv", "source,target\n4,1\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 2: source id 4 is outside population \"a\""});
  }
  SUBCASE("bad header") {
    dir.write("e.csv", "source,target,wieght\n0,1,2\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {csv, "line 1 (header), column 3", "unknown column \"wieght\"",
                                                          "did you mean \"weight\"?"});
    dir.write("e.csv", "source,weight\n0,1\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"must name the columns source and target"});
    dir.write("e.csv", "source,target,source\n0,1,2\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"column \"source\" is named twice"});
    dir.write("e.csv", "");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 1", "empty"});
  }
  SUBCASE("non-numeric fields, with line and column") {
    dir.write("e.csv", "source,target,weight\n0,1,2\n1,2,abc\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}, {{"receptor", "excitatory"}}), rp,
                 {csv + ": line 3, column weight: expected a finite number, found \"abc\""});
    dir.write("e.csv", "source,target\n0,1.0\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 2, column target: expected a non-negative integer id, found \"1.0\""});
    dir.write("e.csv", "source,target\n-1,1\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 2, column source", "\"-1\""});
    dir.write("e.csv", "source,target,delay\n0,1,nan\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 2, column delay: expected a finite number"});
    dir.write("e.csv", "source,target\n0,1,3\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"line 2: expected 2 fields as in the header, found 3"});
  }
  SUBCASE("a delay from the file below run.min_delay") {
    dir.write("e.csv", "source,target,delay\n0,1,0.5\n2,3,0.05\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), rp, {"synapse 2 -> 3", "delay 0.05 ms", "run.min_delay = 0.1"});
  }
  SUBCASE("weights from the file need a receptor (the sign of each cannot choose one)") {
    dir.write("e.csv", "source,target,weight\n0,1,0.5\n");
    expect_error(dir, doc_with({{"path", "e.csv"}}), "projections.0.receptor", {"is required when the weights come from the file"});
  }
  SUBCASE("unknown format, and edge_population for a CSV file") {
    dir.write("e.csv", "source,target\n0,1\n");
    expect_error(dir, doc_with({{"path", "e.csv"}, {"format", "tsv"}}), rp + ".format", {"format \"tsv\" is not known"});
    expect_error(dir, doc_with({{"path", "e.csv"}, {"edge_population", "x"}}), rp + ".edge_population",
                 {"only for SONATA files"});
    expect_error(dir, doc_with({{"path", 3}}), rp + ".path", {"expected a string"});
    expect_error(dir, doc_with(json::object()), rp + ".path", {"is required"});
  }
  SUBCASE("SONATA: an id outside the population names the edge; a CSV read as SONATA is not HDF5") {
    {
      h5file f(dir.path / "e.h5");
      f.u64("/edges/x/source_node_id", {0, 1, 7});
      f.u64("/edges/x/target_node_id", {0, 1, 2});
    }
    expect_error(dir, doc_with({{"path", "e.h5"}}), rp, {"e.h5: edge 2: source id 7 is outside population \"a\""});
    dir.write("e.csv", "source,target\n0,1\n");
    expect_error(dir, doc_with({{"path", "e.csv"}, {"format", "sonata"}}), rp, {"e.csv", "cannot open the edge file"});
    {
      h5file f(dir.path / "short.h5");
      f.u64("/edges/x/source_node_id", {0, 1});
      f.u64("/edges/x/target_node_id", {0});
    }
    expect_error(dir, doc_with({{"path", "short.h5"}}), rp, {"source_node_id has 2 edges but target_node_id has 1"});
    {
      h5file f(dir.path / "nodst.h5");
      f.u64("/edges/x/source_node_id", {0, 1});
    }
    expect_error(dir, doc_with({{"path", "nodst.h5"}}), rp, {"/edges/x/target_node_id is missing"});
  }
}

TEST_CASE("gillespike validate exits 2 on a bad edge file, 0 on a good one") {
  gs::test::scratch_dir dir;
  dir.write("e.csv", "source,target,weight\n0,1,1.0\n1,9,1.0\n");
  const fs::path file = dir.write("run.json", doc_with({{"path", "e.csv"}}, {{"receptor", "excitatory"}}).dump());
  auto r = gs::test::cli({"validate", file.string()}, dir.path);
  INFO("stderr: ", r.err);
  CHECK(r.status == 2);
  CHECK(r.err.rfind("gillespike: error: " + file.string() + ": projections.0.rule.from_file: ", 0) == 0);
  CHECK(gs::test::has(r.err, "line 3: target id 9 is outside population \"b\""));
  dir.write("e.csv", "source,target,weight\n0,1,1.0\n1,4,1.0\n");
  r = gs::test::cli({"validate", file.string()}, dir.path);
  CHECK(r.status == 0);
}
