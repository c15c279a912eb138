// Dale's law: a population typed "excitatory" or "inhibitory" may only excite or only inhibit.
// Accepted and rejected projections (constant and distributed weights, named receptors, weights
// read from files, current- and conductance-based targets); rejections name the JSON path and
// the population, and `gillespike validate` exits with status 2.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/network.hpp"
#include "engine/population.hpp"
#include "io/config.hpp"
#include "models/lif_psc_exp.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

namespace fs = std::filesystem;

namespace {

using gs::json;

// A stand-in for the conductance-based models to come: lif_psc_exp's equations under another
// name, declaring conductance_based so that only the flag differs.
struct cond_test_model : gs::lif_psc_exp {
  static constexpr std::string_view name = "cond_test_model";
  static constexpr bool conductance_based = true;
};

gs::registry& test_registry() {
  static gs::registry reg = [] {
    gs::registry r;
    gs::register_builtin_models(r);
    gs::register_builtin_rules(r);
    r.add_model(gs::describe_model<cond_test_model>("test"));
    return r;
  }();
  return reg;
}

json neurons(const std::string& type, const std::string& model = "lif_psc_exp") {
  json p = {{"size", 20}, {"model", model}};
  if (!type.empty()) p["type"] = type;
  return p;
}

// Populations exc (excitatory), inh (inhibitory), free (untyped), cond (conductance-based);
// one projection from `source` to `target` with the given extra keys.
json doc_with(const std::string& source, const std::string& target, const json& extra) {
  json proj = {{"source", source}, {"target", target}, {"rule", {{"fixed_indegree", {{"indegree", 3}}}}}};
  for (const auto& [k, v] : extra.items()) proj[k] = v;
  return {{"run", {{"duration", 1.0}}},
          {"populations", {{"exc", neurons("excitatory")}, {"inh", neurons("inhibitory")}, {"free", neurons("")},
                           {"cond", neurons("", "cond_test_model")}}},
          {"projections", json::array({proj})}};
}

gs::run_config load(const gs::test::scratch_dir& dir, const json& doc) {
  return gs::load_config(dir.write("run.json", doc.dump()), {}, test_registry());
}

void accepted(const json& doc) {
  gs::test::scratch_dir dir;
  INFO("projection: ", doc["projections"][0].dump());
  CHECK_NOTHROW(gs::build_network(load(dir, doc), test_registry()));
}

void rejected(const json& doc, const std::string& path, const std::vector<std::string>& parts) {
  gs::test::scratch_dir dir;
  INFO("projection: ", doc["projections"][0].dump());
  try {
    load(dir, doc);
    FAIL("accepted, expected an error at ", path);
  } catch (const gs::config_error& e) {
    INFO("error: ", e.what());
    CHECK(e.path == path);
    for (const auto& part : parts) CHECK_MESSAGE(e.problem.find(part) != std::string::npos, "missing: ", part);
  }
}

json uniform(double a, double b) { return {{"uniform", {a, b}}}; }
json normal(double mean, double std, const json& bounds = json::object()) {
  json n = {{"mean", mean}, {"std", std}};
  for (const auto& [k, v] : bounds.items()) n[k] = v;
  return {{"normal", n}};
}

}  // namespace

TEST_CASE("the conductance_based flag reaches the registry through describe_model") {
  CHECK(test_registry().find_model("cond_test_model")->conductance_based);
  CHECK_FALSE(test_registry().find_model("lif_psc_exp")->conductance_based);
  for (const auto& m : gs::default_registry().models()) CHECK(m.conductance_based == (m.name == "lif_cond_exp"));
}

TEST_CASE("excitatory populations: weights that cannot be negative are accepted") {
  for (const json& w : {json(5.0), json(0.0), uniform(0.0, 3.0), normal(10.0, 2.0, {{"min", 0.0}}),
                        normal(10.0, 2.0, {{"min", 1.0}, {"max", 20.0}}), json{{"lognormal", {{"mu", 1.0}, {"sigma", 0.5}}}}})
    for (const std::string target : {"exc", "inh", "free"}) accepted(doc_with("exc", target, {{"weight", w}}));
  accepted(doc_with("exc", "free", {{"weight", 5.0}, {"receptor", "excitatory"}}));
  // Untyped populations are not checked, except that a conductance is never negative.
  accepted(doc_with("free", "exc", {{"weight", -5.0}, {"receptor", "excitatory"}}));
  rejected(doc_with("free", "cond", {{"weight", -5.0}}), "projections.0.weight",
           {"the model of \"cond\" is conductance-based", "the weight -5 is negative"});
}

TEST_CASE("the type names the receptor when the projection does not") {
  gs::test::scratch_dir dir;
  json doc = doc_with("exc", "free", {{"weight", uniform(1.0, 2.0)}});  // no receptor needed with a type
  doc["projections"].push_back({{"source", "inh"}, {"target", "free"}, {"rule", {{"one_to_one", nullptr}}},
                                {"weight", normal(-3.0, 1.0, {{"max", 0.0}})}});
  doc["projections"].push_back({{"source", "inh"}, {"target", "cond"}, {"rule", {{"one_to_one", nullptr}}},
                                {"weight", 4.0}});
  const gs::run_config cfg = load(dir, doc);
  CHECK(cfg.projections[0].receptor == "excitatory");
  CHECK(cfg.projections[1].receptor == "inhibitory");
  CHECK(cfg.projections[2].receptor == "inhibitory");
  const gs::network net = gs::build_network(cfg, test_registry());
  CHECK(net.projections[0].receptor == 0);  // lif_psc_exp: excitatory, inhibitory
  CHECK(net.projections[1].receptor == 1);
  CHECK(net.projections[2].receptor == 1);
}

TEST_CASE("excitatory populations: negative weights, or weights that can be, are rejected") {
  const std::string law = "population \"exc\" is excitatory (Dale's law)";
  rejected(doc_with("exc", "free", {{"weight", -1.0}}), "projections.0.weight",
           {law, "the weight -1 is negative; weights must be >= 0"});
  rejected(doc_with("exc", "inh", {{"weight", uniform(-1.0, 1.0)}}), "projections.0.weight",
           {law, "uniform weights from -1 can be negative"});
  rejected(doc_with("exc", "exc", {{"weight", normal(10.0, 1.0)}}), "projections.0.weight",
           {law, "give the distribution \"min\": 0"});
  rejected(doc_with("exc", "exc", {{"weight", normal(10.0, 1.0, {{"min", -0.5}})}}), "projections.0.weight",
           {"\"min\" = -0.5"});
  rejected(doc_with("exc", "free", {{"weight", 5.0}, {"receptor", "inhibitory"}}), "projections.0.receptor",
           {law, "must use the \"excitatory\" receptor, found \"inhibitory\""});
}

TEST_CASE("inhibitory populations onto current-based models: weights <= 0 and the inhibitory receptor") {
  const std::string law = "population \"inh\" is inhibitory (Dale's law)";
  for (const json& w : {json(-5.0), uniform(-3.0, 0.0), normal(-10.0, 2.0, {{"max", 0.0}})})
    accepted(doc_with("inh", "exc", {{"weight", w}}));
  accepted(doc_with("inh", "exc", {{"weight", -2.0}, {"receptor", "inhibitory"}}));
  rejected(doc_with("inh", "exc", {{"weight", 2.0}}), "projections.0.weight", {law, "the weight 2 is positive"});
  rejected(doc_with("inh", "exc", {}), "projections.0.weight", {law, "the weight 1 is positive"});  // the default 1.0
  rejected(doc_with("inh", "exc", {{"weight", uniform(-1.0, 0.5)}}), "projections.0.weight", {"up to 0.5 can be positive"});
  rejected(doc_with("inh", "exc", {{"weight", normal(-1.0, 1.0)}}), "projections.0.weight", {"\"max\": 0"});
  rejected(doc_with("inh", "exc", {{"weight", json{{"lognormal", {{"mu", 0.0}, {"sigma", 1.0}}}}}}),
           "projections.0.weight", {"lognormal weights are positive"});
  rejected(doc_with("inh", "exc", {{"weight", -2.0}, {"receptor", "excitatory"}}), "projections.0.receptor",
           {law, "must use the \"inhibitory\" receptor, found \"excitatory\""});
  // A list of targets: the path is the projection's, the message names the population.
  json both = doc_with("inh", "exc", {{"weight", 3.0}});
  both["projections"][0]["target"] = {"exc", "free"};
  rejected(both, "projections.0.weight", {law});
}

TEST_CASE("conductance-based targets: the receptor decides, weights are never negative") {
  accepted(doc_with("inh", "cond", {{"weight", 2.0}}));
  accepted(doc_with("inh", "cond", {{"weight", uniform(0.0, 2.0)}, {"receptor", "inhibitory"}}));
  accepted(doc_with("exc", "cond", {{"weight", 2.0}}));
  rejected(doc_with("inh", "cond", {{"weight", -2.0}}), "projections.0.weight",
           {"population \"inh\" is inhibitory (Dale's law) and the model of \"cond\" is conductance-based",
            "weights must be >= 0"});
  rejected(doc_with("inh", "cond", {{"weight", 2.0}, {"receptor", "excitatory"}}), "projections.0.receptor",
           {"must use the \"inhibitory\" receptor"});
  rejected(doc_with("exc", "cond", {{"weight", -1.0}}), "projections.0.weight", {"is excitatory", "negative"});
}

TEST_CASE("weights read from a file are checked too") {
  gs::test::scratch_dir dir;
  dir.write("exc.csv", "source,target,weight\n0,1,2.0\n3,4,-0.5\n");
  dir.write("inh.csv", "source,target,weight\n0,1,-2.0\n3,4,-0.5\n");
  auto file_doc = [&](const std::string& source, const std::string& target, const std::string& file) {
    json doc = doc_with(source, target, json::object());
    doc["projections"][0]["rule"] = {{"from_file", {{"path", (dir.path / file).string()}}}};
    return doc;
  };
  rejected(file_doc("exc", "free", "exc.csv"), "projections.0.rule.from_file",
           {"population \"exc\" is excitatory (Dale's law)", "synapse 3 -> 4", "weight -0.5", "weights must be >= 0"});
  // All weights from the file: the projection's default weight 1.0 is never used, so not checked.
  accepted(file_doc("inh", "free", "inh.csv"));
  rejected(file_doc("inh", "cond", "inh.csv"), "projections.0.rule.from_file",
           {"conductance-based", "synapse 0 -> 1", "weight -2"});
  // Rows without a weight take the projection's, which must then have the sign.
  dir.write("part.csv", "source,target,weight\n0,1,-2.0\n3,4,\n");
  rejected(file_doc("inh", "free", "part.csv"), "projections.0.weight", {"the weight 1 is positive"});
}

TEST_CASE("type errors, and gillespike validate exits 2 naming the path") {
  json doc = doc_with("exc", "free", {{"weight", 1.0}});
  doc["populations"]["exc"]["type"] = "excitatroy";
  rejected(doc, "populations.exc.type", {"unknown population type \"excitatroy\"", "did you mean \"excitatory\"?"});
  doc["populations"]["exc"]["type"] = 1;
  rejected(doc, "populations.exc.type", {"expected a string"});

  // Through the command (built-in models only): a typed population in an ordinary run file.
  gs::test::scratch_dir dir;
  json bad = doc_with("inh", "exc", {{"weight", 2.0}});
  bad["populations"].erase("cond");
  const fs::path file = dir.write("run.json", bad.dump());
  const auto r = gs::test::cli({"validate", file.string()}, dir.path);
  INFO("stderr: ", r.err);
  CHECK(r.status == 2);
  CHECK(r.err == "gillespike: error: " + file.string() +
                     ": projections.0.weight: population \"inh\" is inhibitory (Dale's law): the weight 2 is positive; "
                     "weights must be <= 0\n");
  bad["projections"][0]["weight"] = -2.0;
  dir.write("run.json", bad.dump());
  CHECK(gs::test::cli({"validate", file.string()}, dir.path).status == 0);
}
