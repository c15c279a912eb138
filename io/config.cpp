#include "io/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/network.hpp"
#include "io/hdf5_read.hpp"
#include "io/npy.hpp"
#include "learning/rls/spec.hpp"
#include "plugins/spatial.hpp"

#include "plugins/loader.hpp"
#if defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/device_info.hpp"
#endif

namespace gs {

config_error::config_error(const std::string& f, const std::string& p, const std::string& m)
    : std::runtime_error(p.empty() ? fmt::format("{}: {}", f, m) : fmt::format("{}: {}: {}", f, p, m)),
      file(f), path(p), problem(m) {}

int run_config::population_index(const std::string& name) const {
  for (size_t i = 0; i < populations.size(); ++i)
    if (populations[i].name == name) return static_cast<int>(i);
  return -1;
}

rule_context projection_context(const run_config& cfg, uint32_t source, uint32_t target, uint32_t projection) {
  const population_spec &s = cfg.populations[source], &t = cfg.populations[target];
  rule_context c;
  c.n_source = s.size;
  c.n_target = t.size;
  c.same_population = source == target;
  c.seed = cfg.seed;
  c.projection = projection;
  c.source_spatial = s.positions.kind != layout_spec::none;
  c.target_spatial = t.positions.kind != layout_spec::none;
  // load_config refuses a distance-dependent rule between a periodic and a non-periodic
  // population, or periodic ones of different extents.
  c.periodic = s.positions.periodic && t.positions.periodic;
  c.extent = t.positions.extent;
  c.source_name = s.name;
  c.target_name = t.name;
  return c;
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest_name(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = std::max<size_t>(3, word.size() / 2) + 1;
  for (const auto& n : names) {
    const size_t d = edit_distance(word, n);
    if (d < best_d) best_d = d, best = n;
  }
  return best;
}

namespace {

std::string type_name(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  return fmt::format("{} {}", v.is_object() || v.is_array() ? "an" : "a", v.type_name());
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& names) {
  const std::string c = closest_name(word, names);
  return c.empty() ? fmt::format(" (known: {})", join(names)) : fmt::format("; did you mean \"{}\"?", c);
}

// Walks the document with the file name at hand, so every error can say where it is.
struct checker {
  std::string file;

  [[noreturn]] void fail(const std::string& path, const std::string& msg) const {
    throw config_error(file, path, msg);
  }
  static std::string at(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static std::string at(const std::string& path, size_t i) { return fmt::format("{}.{}", path, i); }

  const json& object(const json& v, const std::string& path) const {
    if (!v.is_object()) fail(path, fmt::format("expected an object, found {}", type_name(v)));
    return v;
  }
  const json& array(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, fmt::format("expected an array, found {}", type_name(v)));
    return v;
  }
  void keys(const json& obj, const std::string& path, const std::vector<std::string>& allowed) const {
    for (const auto& [k, v] : obj.items())
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        fail(at(path, k), "unknown key" + did_you_mean(k, allowed));
  }
  const json& required(const json& obj, const std::string& path, const std::string& key) const {
    if (!obj.contains(key)) fail(at(path, key), "is required but missing");
    return obj.at(key);
  }
  double number(const json& v, const std::string& path) const {
    if (!v.is_number()) fail(path, fmt::format("expected a number, found {}", type_name(v)));
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(path, "expected a finite number");
    return x;
  }
  double number(const json& obj, const std::string& path, const std::string& key, double dflt) const {
    return obj.contains(key) ? number(obj.at(key), at(path, key)) : dflt;
  }
  double positive(const json& v, const std::string& path, bool allow_zero = false) const {
    const double x = number(v, path);
    if (allow_zero ? x < 0 : x <= 0)
      fail(path, fmt::format("expected a {} number, found {}", allow_zero ? "non-negative" : "positive", x));
    return x;
  }
  uint64_t count(const json& v, const std::string& path, uint64_t max) const {
    if (v.is_number_float())
      fail(path, fmt::format("expected a non-negative integer, found the number {} (write integers without a "
                             "decimal point or exponent)", v.dump()));
    if (!v.is_number_integer() && !v.is_number_unsigned())
      fail(path, fmt::format("expected a non-negative integer, found {}", type_name(v)));
    if (v.is_number_integer() && v.get<int64_t>() < 0)
      fail(path, fmt::format("expected a non-negative integer, found {}", v.get<int64_t>()));
    const uint64_t x = v.get<uint64_t>();
    if (x > max) fail(path, fmt::format("{} is larger than the maximum {}", x, max));
    return x;
  }
  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, fmt::format("expected a string, found {}", type_name(v)));
    return v.get<std::string>();
  }
  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) fail(path, fmt::format("expected true or false, found {}", type_name(v)));
    return v.get<bool>();
  }
  std::vector<std::string> strings(const json& v, const std::string& path) const {
    if (v.is_string()) return {v.get<std::string>()};
    std::vector<std::string> out;
    for (size_t i = 0; i < array(v, path).size(); ++i) out.push_back(string(v[i], at(path, i)));
    return out;
  }
  std::vector<double> numbers(const json& v, const std::string& path) const {
    std::vector<double> out;
    for (size_t i = 0; i < array(v, path).size(); ++i) out.push_back(number(v[i], at(path, i)));
    return out;
  }

  // A constant, or one of {"uniform": [lo, hi]}, {"normal": {"mean", "std", "min", "max"}},
  // {"lognormal": {"mu", "sigma"}}.
  value_spec value(const json& v, const std::string& path) const {
    if (v.is_number()) return value_spec::of(number(v, path));
    const std::vector<std::string> kinds{"uniform", "normal", "lognormal"};
    if (!v.is_object() || v.size() != 1)
      fail(path, fmt::format("expected a number or a distribution object with one key ({}), found {}",
                             join(kinds), type_name(v)));
    // Not a structured binding of *v.items().begin(): that binds to a temporary that dies at once.
    const std::string kind = v.begin().key();
    const json& body = v.begin().value();
    const std::string p = at(path, kind);
    value_spec s;
    if (kind == "uniform") {
      if (!body.is_array() || body.size() != 2) fail(p, "expected [low, high]");
      s.kind = value_spec::uniform;
      s.a = number(body[0], at(p, 0));
      s.b = number(body[1], at(p, 1));
      if (s.b < s.a) fail(p, fmt::format("low {} is above high {}", s.a, s.b));
    } else if (kind == "normal") {
      object(body, p);
      keys(body, p, {"mean", "std", "min", "max"});
      s.kind = value_spec::normal;
      s.a = number(required(body, p, "mean"), at(p, "mean"));
      s.b = positive(required(body, p, "std"), at(p, "std"), true);
      s.lo = number(body, p, "min", s.lo);
      s.hi = number(body, p, "max", s.hi);
      if (s.lo > s.hi) fail(p, fmt::format("min {} is above max {}", s.lo, s.hi));
      // Clipping redraws: refuse windows too far in the tail to be hit in reasonable time.
      const double z_lo = (s.lo - s.a) / std::max(s.b, 1e-300), z_hi = (s.hi - s.a) / std::max(s.b, 1e-300);
      const double mass = 0.5 * (std::erfc(-z_hi / std::sqrt(2.0)) - std::erfc(-z_lo / std::sqrt(2.0)));
      if (s.b > 0 && mass < 1e-3)
        fail(p, fmt::format("[min, max] holds only {:.2g} of the distribution's mass", mass));
      if (s.b == 0 && (s.a < s.lo || s.a > s.hi)) fail(p, "mean lies outside [min, max] and std is 0");
    } else if (kind == "lognormal") {
      object(body, p);
      keys(body, p, {"mu", "sigma"});
      s.kind = value_spec::lognormal;
      s.a = number(required(body, p, "mu"), at(p, "mu"));
      s.b = positive(required(body, p, "sigma"), at(p, "sigma"), true);
    } else {
      fail(at(path, kind), "unknown distribution" + did_you_mean(kind, kinds));
    }
    return s;
  }

  std::vector<uint32_t> ids(const json& v, const std::string& path, uint32_t size) const {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < array(v, path).size(); ++i) {
      const uint64_t id = count(v[i], at(path, i), UINT32_MAX);
      if (id >= size) fail(at(path, i), fmt::format("id {} is outside the population (size {})", id, size));
      out.push_back(static_cast<uint32_t>(id));
    }
    return out;
  }
};

std::vector<std::string> names_of(const std::vector<param_info>& ps) {
  std::vector<std::string> n;
  for (const auto& p : ps) n.push_back(p.name);
  return n;
}

// A key given twice in one object would silently keep only the last value (a duplicated
// population would vanish), so it is an error like an unknown key.
struct duplicate_keys {
  struct frame {
    bool array = false;
    size_t index = 0;
    std::string key;
    std::set<std::string> keys;
  };
  std::vector<frame> stack;
  std::string file;

  void element_done() {
    if (!stack.empty() && stack.back().array) ++stack.back().index;
  }
  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: stack.emplace_back(); break;
      case json::parse_event_t::array_start:
        stack.emplace_back();
        stack.back().array = true;
        break;
      case json::parse_event_t::key: {
        frame& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) {
          std::string path;
          for (const auto& fr : stack)
            path += (path.empty() ? "" : ".") + (fr.array ? std::to_string(fr.index) : fr.key);
          throw config_error(file, path, "key given twice in the same object (JSON keeps only one of them)");
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        element_done();
        break;
      case json::parse_event_t::value: element_done(); break;
    }
    return true;
  }
};

// Why a weight distribution may draw a value of the wrong sign (`sign` +1: >= 0 wanted, -1: <= 0),
// or empty when every draw has the sign.
std::string sign_problem(const value_spec& w, int sign) {
  const char* want = sign > 0 ? ">= 0" : "<= 0";
  switch (w.kind) {
    case value_spec::constant:
      if (sign * w.a < 0) return fmt::format("the weight {} is {}; weights must be {}", w.a, sign > 0 ? "negative" : "positive", want);
      return "";
    case value_spec::uniform:
      if (sign > 0 && w.a < 0) return fmt::format("uniform weights from {} can be negative; weights must be >= 0", w.a);
      if (sign < 0 && w.b > 0) return fmt::format("uniform weights up to {} can be positive; weights must be <= 0", w.b);
      return "";
    case value_spec::normal:
      if (sign > 0 && w.lo < 0)
        return std::isinf(w.lo) ? "normal weights can be negative; give the distribution \"min\": 0 (or more)"
                                : fmt::format("normal weights can be as low as \"min\" = {}; weights must be >= 0", w.lo);
      if (sign < 0 && w.hi > 0)
        return std::isinf(w.hi) ? "normal weights can be positive; give the distribution \"max\": 0 (or less)"
                                : fmt::format("normal weights can be as high as \"max\" = {}; weights must be <= 0", w.hi);
      return "";
    case value_spec::lognormal:
      if (sign < 0) return "lognormal weights are positive; weights must be <= 0";
      return "";
  }
  return "";
}

// Reads a file-based rule's synapses once at validation, so that weights and delays from the
// file are checked (sign under Dale's law, min_delay) before anything runs.
struct scan_sink final : synapse_sink {
  int sign = 0;  // 0: any weight
  double min_delay = 0;
  bool own_weights = false, uses_projection_weight = false;
  bool bad_weight = false, bad_delay = false;
  uint32_t ws = 0, wt = 0, ds = 0, dt = 0;
  double w_bad = 0, d_bad = 0;
  void add(uint32_t, uint32_t) override { uses_projection_weight = true; }
  void add(uint32_t s, uint32_t t, double w, double d) override {
    if (std::isnan(w)) {
      uses_projection_weight = true;
    } else {
      own_weights = true;
      if (!bad_weight && sign * w < 0) bad_weight = true, ws = s, wt = t, w_bad = w;
    }
    if (!std::isnan(d) && !bad_delay && d < min_delay) bad_delay = true, ds = s, dt = t, d_bad = d;
  }
};

json parse_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw config_error(file.string(), "", "is a folder, not a run file");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error(file.string(), "", "cannot open the run file (missing or unreadable)");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  try {
    return json::parse(text, duplicate_keys{{}, file.string()});
  } catch (const json::parse_error& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, col = 1;
      else ++col;
    }
    // nlohmann's text repeats the position: keep only what went wrong.
    std::string what = e.what();
    if (auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    if (auto p = what.find(": "); what.rfind("parse error at line", 0) == 0 && p != std::string::npos)
      what = what.substr(p + 2);
    throw config_error(file.string(), "", fmt::format("malformed JSON at line {}, column {}: {}", line, col, what));
  }
}

// --set PATH=VALUE: VALUE is JSON; text that is not JSON is taken as a string.
void apply_override(json& doc, const std::string& item, const std::string& file) {
  const auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0)
    throw config_error(file, "", fmt::format("--set {}: expected PATH=VALUE, e.g. run.duration=500", item));
  const std::string path = item.substr(0, eq), text = item.substr(eq + 1);
  auto bad = [&](const std::string& where, const std::string& problem) {
    return config_error(file, where, fmt::format("{}, in --set {}", problem, item));
  };
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;
  json* node = &doc;
  std::string walked;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw bad(path, "empty component in the path");
    walked = walked.empty() ? key : walked + "." + key;
    if (node->is_array()) {
      size_t idx = 0;
      auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), idx);
      if (ec != std::errc() || ptr != key.data() + key.size() || idx >= node->size())
        throw bad(walked, fmt::format("no element {} in an array of {} (elements count from 0; --set cannot "
                                      "add one, set the whole array instead)",
                                      key, node->size()));
      node = &(*node)[idx];
    } else {
      if (!node->is_object() && !node->is_null())
        throw bad(walked, fmt::format("cannot descend into {}", type_name(*node)));
      node = &(*node)[key];
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *node = value;
}

// A procedural projection (synapses regenerated when the source spikes): the clock backend runs
// it, or the cuda backend when the rule has a GPU form; its rule must be able to regenerate these
// parameters, and its delays need an upper bound (it sizes the ring of input sums before any
// synapse is drawn).
void check_procedural(const checker& c, const run_config& cfg, const registry& reg, const rule_info& ri,
                      const projection_spec& ps) {
  const std::string p = c.at(ps.path, "procedural");
  if (cfg.backend != "clock" && cfg.backend != "cuda")
    c.fail(p, fmt::format("procedural projections run on the clock and cuda backends only; run.backend is \"{}\"",
                          cfg.backend));
  if (!ri.procedural) {
    std::vector<std::string> able;
    for (const auto& name : reg.rule_names())
      if (reg.find_rule(name)->procedural) able.push_back('"' + name + '"');
    c.fail(p, fmt::format("rule \"{}\" cannot regenerate its synapses; procedural projections take {}", ri.name,
                          able.empty() ? std::string("none of the loaded rules") : fmt::format("{}", fmt::join(able, ", "))));
  }
  const auto si = static_cast<uint32_t>(cfg.population_index(ps.source));
  for (const auto& t : ps.targets)
    if (!ri.procedural(ps.rule_params, projection_context(cfg, si, static_cast<uint32_t>(cfg.population_index(t)), 0)))
      c.fail(p, fmt::format("cannot regenerate these synapses: {}", ri.procedural_limits));
  if (cfg.backend == "cuda" && !ri.make_cuda)
    c.fail(p, fmt::format("rule \"{}\" ({}) cannot regenerate its synapses on the GPU: it has no GPU form (one is added "
                          "from code compiled by nvcc: docs/plugins.md, \"On the GPU\"); use \"backend\": \"clock\", or "
                          "stored synapses (remove \"procedural\")",
                          ri.name, ri.origin));
  if (!std::isfinite(ps.delay.max_value()))
    c.fail(c.at(ps.path, "delay"), "a procedural projection's delays need an upper bound (give the normal distribution "
                                   "a \"max\", or use a uniform one)");
}

}  // namespace

// "protocol": trials of blank and stimulus segments driving input populations (dataset/protocol.hpp).
// Each input becomes a stimulus entry of its own whose generator plays the protocol's rates.
void read_protocol(const checker& c, run_config& cfg, const json& body, const registry& reg) {
  const std::string P = "protocol";
  c.object(body, P);
  c.keys(body, P, {"trials", "segments", "shuffle", "seed", "split", "stimuli", "inputs"});
  auto pr = std::make_shared<protocol_spec>();
  pr->trials = static_cast<uint32_t>(c.count(c.required(body, P, "trials"), c.at(P, "trials"), UINT32_MAX));
  if (pr->trials == 0) c.fail(c.at(P, "trials"), "expected at least one trial");
  if (body.contains("shuffle")) pr->shuffle = c.boolean(body["shuffle"], c.at(P, "shuffle"));
  pr->seed = body.contains("seed") ? c.count(body["seed"], c.at(P, "seed"), UINT64_MAX) : cfg.seed;
  if (body.contains("split")) {
    pr->split = c.numbers(body["split"], c.at(P, "split"));
    if (pr->split.size() != 3 || pr->split[0] < 0 || pr->split[1] < 0 || pr->split[2] < 0 ||
        pr->split[0] + pr->split[1] + pr->split[2] <= 0)
      c.fail(c.at(P, "split"), "expected [train, validation, test]: three fractions >= 0, not all 0");
  }

  // stimuli by name, in file order (a stimulus id is the position)
  std::vector<std::string> names;
  const std::string SP = c.at(P, "stimuli");
  const json& stims = c.object(c.required(body, P, "stimuli"), SP);
  for (const auto& [name, outer] : stims.items()) {
    const std::string p0 = c.at(SP, name);
    const std::vector<std::string> kinds{"grating", "rate_file"};
    if (!outer.is_object() || outer.size() != 1) c.fail(p0, "expected an object with one key (grating, rate_file)");
    const std::string kind = outer.begin().key();
    const std::string p = c.at(p0, kind);
    const json& b = c.object(outer.begin().value(), p);
    protocol_stimulus st;
    st.name = name;
    if (kind == "grating") {
      c.keys(b, p, {"orientation", "spatial_frequency", "temporal_frequency", "contrast", "phase"});
      st.g.orientation_deg = c.number(b, p, "orientation", 0);
      st.g.spatial_frequency = b.contains("spatial_frequency") ? c.positive(b["spatial_frequency"], c.at(p, "spatial_frequency"), true) : 1.0;
      st.g.temporal_frequency_hz = c.number(b, p, "temporal_frequency", 2);
      st.g.contrast = c.number(b, p, "contrast", 1);
      if (st.g.contrast < 0 || st.g.contrast > 1)
        c.fail(c.at(p, "contrast"), fmt::format("expected a contrast in [0, 1], found {}", st.g.contrast));
      st.g.phase_deg = c.number(b, p, "phase", 0);
    } else if (kind == "rate_file") {
      c.keys(b, p, {"path", "frame", "dataset"});
      st.kind = protocol_stimulus::rate_file;
      auto t = std::make_shared<rate_table>();
      const std::filesystem::path f(c.string(c.required(b, p, "path"), c.at(p, "path")));
      t->path = f.is_absolute() ? f.string() : (std::filesystem::path(cfg.file).parent_path() / f).string();
      t->frame_ms = c.positive(c.required(b, p, "frame"), c.at(p, "frame"));
      const std::string ext = f.extension().string();
      try {
        if (ext == ".npy") {
          if (b.contains("dataset")) c.fail(c.at(p, "dataset"), "only HDF5 rate files have datasets");
          t->rates = io::read_npy_matrix(t->path, t->rows, t->columns);
        } else if (ext == ".h5" || ext == ".hdf5") {
          const std::string ds = b.contains("dataset") ? c.string(b["dataset"], c.at(p, "dataset")) : "rates";
          const auto shape = io::read_h5_shape(t->path, ds);
          if (shape.size() != 2)
            c.fail(c.at(p, "path"), fmt::format("{}: dataset {} has {} dimensions; expected 2 (neurons x frames)",
                                                t->path, ds, shape.size()));
          t->rows = shape[0];
          t->columns = shape[1];
          t->rates = io::read_h5_doubles(t->path, ds);
        } else {
          c.fail(c.at(p, "path"), fmt::format("expected a .npy, .h5 or .hdf5 file, found \"{}\"", f.string()));
        }
      } catch (const std::runtime_error& e) {
        if (dynamic_cast<const config_error*>(&e)) throw;
        c.fail(c.at(p, "path"), e.what());
      }
      if (t->columns == 0) c.fail(c.at(p, "path"), fmt::format("{}: no frames", t->path));
      for (size_t k = 0; k < t->rates.size(); ++k)
        if (!(t->rates[k] >= 0) || !std::isfinite(t->rates[k]))
          c.fail(c.at(p, "path"), fmt::format("{}: rate [{}, {}] is {}; rates must be finite and >= 0 Hz", t->path,
                                              k / t->columns, k % t->columns, t->rates[k]));
      st.table = std::move(t);
    } else {
      c.fail(c.at(p0, kind), "unknown protocol stimulus" + did_you_mean(kind, kinds));
    }
    names.push_back(name);
    pr->stimuli.push_back(std::move(st));
  }

  // one trial's segments
  const std::string GP = c.at(P, "segments");
  const json& segs = c.array(c.required(body, P, "segments"), GP);
  if (segs.empty()) c.fail(GP, "expected at least one segment");
  for (size_t j = 0; j < segs.size(); ++j) {
    const std::string p = c.at(GP, j);
    const json& s = c.object(segs[j], p);
    protocol_spec::slot slot;
    if (s.contains("blank")) {
      c.keys(s, p, {"blank"});
      slot.duration = c.positive(s["blank"], c.at(p, "blank"));
    } else {
      c.keys(s, p, {"blank", "stimulus", "duration"});
      const std::string name = c.string(c.required(s, p, "stimulus"), c.at(p, "stimulus"));
      const auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end())
        c.fail(c.at(p, "stimulus"), fmt::format("unknown protocol stimulus \"{}\"{}", name, did_you_mean(name, names)));
      slot.stimulus = int32_t(it - names.begin());
      slot.duration = c.positive(c.required(s, p, "duration"), c.at(p, "duration"));
      const protocol_stimulus& st = pr->stimuli[size_t(slot.stimulus)];
      if (st.kind == protocol_stimulus::rate_file && st.table->columns * st.table->frame_ms < slot.duration)
        c.fail(c.at(p, "duration"), fmt::format("{} ms is longer than the {} frames of {} ms in {}", slot.duration,
                                                st.table->columns, st.table->frame_ms, st.table->path));
    }
    pr->segments.push_back(slot);
  }

  // inputs: the populations the stimuli drive
  const std::string IP = c.at(P, "inputs");
  const json& ins = c.array(c.required(body, P, "inputs"), IP);
  if (ins.empty()) c.fail(IP, "expected at least one input population");
  uint64_t rows = 0;
  bool any_grating = false;
  for (const auto& st : pr->stimuli) any_grating |= st.kind == protocol_stimulus::grating;
  for (size_t i = 0; i < ins.size(); ++i) {
    const std::string p = c.at(IP, i);
    const json& b = c.object(ins[i], p);
    c.keys(b, p, {"target", "weight", "receptor", "baseline", "gain", "receptive_field"});
    protocol_input in;
    in.path = p;
    in.target = c.string(c.required(b, p, "target"), c.at(p, "target"));
    const int pi = cfg.population_index(in.target);
    if (pi < 0) {
      std::vector<std::string> pops;
      for (const auto& ps : cfg.populations) pops.push_back(ps.name);
      c.fail(c.at(p, "target"), fmt::format("unknown population \"{}\"{}", in.target, did_you_mean(in.target, pops)));
    }
    const population_spec& tp = cfg.populations[size_t(pi)];
    if (any_grating && tp.positions.kind == layout_spec::none)
      c.fail(c.at(p, "target"), fmt::format("a grating needs positions, but population \"{}\" has no \"positions\"",
                                            in.target));
    in.first_row = rows;
    rows += tp.size;
    in.baseline_hz = b.contains("baseline") ? c.positive(b["baseline"], c.at(p, "baseline"), true) : 0.0;
    in.gain_hz = b.contains("gain") ? c.positive(b["gain"], c.at(p, "gain"), true) : 0.0;
    if (b.contains("receptive_field")) {
      const std::string rp = c.at(p, "receptive_field");
      const json& rf = c.object(b["receptive_field"], rp);
      c.keys(rf, rp, {"polarity", "center_sigma", "surround_sigma", "surround_weight"});
      const std::string pol = rf.contains("polarity") ? c.string(rf["polarity"], c.at(rp, "polarity")) : "on";
      if (pol != "on" && pol != "off")
        c.fail(c.at(rp, "polarity"), fmt::format("expected \"on\" or \"off\", found \"{}\"{}", pol,
                                                 did_you_mean(pol, {"on", "off"})));
      in.rf.polarity = pol == "on" ? 1 : -1;
      in.rf.center_sigma = rf.contains("center_sigma") ? c.positive(rf["center_sigma"], c.at(rp, "center_sigma"), true) : 0.0;
      in.rf.surround_sigma =
          rf.contains("surround_sigma") ? c.positive(rf["surround_sigma"], c.at(rp, "surround_sigma"), true) : 0.0;
      in.rf.surround_weight =
          rf.contains("surround_weight") ? c.positive(rf["surround_weight"], c.at(rp, "surround_weight"), true) : 0.0;
    }

    stimulus_spec s;
    s.generator = "protocol";
    s.path = p;
    s.targets = {in.target};
    if (b.contains("weight")) s.weight = c.value(b["weight"], c.at(p, "weight"));
    if (b.contains("receptor")) {
      s.receptor = c.string(b["receptor"], c.at(p, "receptor"));
      const auto& recs = reg.find_model(tp.model)->receptors;
      if (std::find(recs.begin(), recs.end(), s.receptor) == recs.end())
        c.fail(c.at(p, "receptor"), fmt::format("population \"{}\" has no receptor \"{}\"{}", in.target, s.receptor,
                                                did_you_mean(s.receptor, recs)));
    } else if (!s.weight.is_constant()) {
      c.fail(c.at(p, "receptor"), "is required when the weight is a distribution");
    }
    s.stop = pr->length();
    const uint32_t input = uint32_t(i);
    const population_spec target = tp;
    const uint64_t seed = cfg.seed;
    s.make = [pr, input, target, seed, pi](const json&, const stimulus_context& ctx) {
      return make_protocol_generator(pr, input, neuron_positions(target, seed, uint32_t(pi)), ctx);
    };
    pr->inputs.push_back(in);
    cfg.stimuli.push_back(std::move(s));
  }
  for (const auto& st : pr->stimuli)
    if (st.kind == protocol_stimulus::rate_file && st.table->rows != rows)
      c.fail(c.at(SP, st.name), fmt::format("{} has {} rows; expected one per input neuron, {} in all", st.table->path,
                                            st.table->rows, rows));
  if (cfg.duration == 0) cfg.duration = pr->length();
  cfg.protocol = std::move(pr);
}

// "outputs.hidden": which neurons the annotations mark hidden (dataset/hidden.hpp).
void read_hidden(const checker& c, run_config& cfg, const json& body) {
  const std::string P = "outputs.hidden";
  c.object(body, P);
  c.keys(body, P, {"fraction", "selection", "seed", "populations"});
  hidden_spec& h = cfg.hidden;
  h.fraction = c.positive(c.required(body, P, "fraction"), c.at(P, "fraction"), true);
  if (h.fraction > 1) c.fail(c.at(P, "fraction"), fmt::format("expected a fraction in [0, 1], found {}", h.fraction));
  if (body.contains("selection")) {
    h.selection = c.string(body["selection"], c.at(P, "selection"));
    if (h.selection != "uniform" && h.selection != "clustered")
      c.fail(c.at(P, "selection"), fmt::format("expected \"uniform\" or \"clustered\", found \"{}\"{}", h.selection,
                                               did_you_mean(h.selection, {"uniform", "clustered"})));
  }
  h.seed = body.contains("seed") ? c.count(body["seed"], c.at(P, "seed"), UINT64_MAX) : cfg.seed;
  std::vector<std::string> all;
  for (const auto& ps : cfg.populations) all.push_back(ps.name);
  if (body.contains("populations")) {
    h.populations = c.strings(body["populations"], c.at(P, "populations"));
    for (size_t k = 0; k < h.populations.size(); ++k)
      if (cfg.population_index(h.populations[k]) < 0)
        c.fail(c.at(c.at(P, "populations"), k), fmt::format("unknown population \"{}\"{}", h.populations[k],
                                                            did_you_mean(h.populations[k], all)));
  }
  for (const auto& ps : cfg.populations) {
    const bool listed = h.populations.empty() ||
                        std::find(h.populations.begin(), h.populations.end(), ps.name) != h.populations.end();
    if (listed && h.selection == "clustered" && ps.positions.kind == layout_spec::none)
      c.fail(c.at(P, "selection"), fmt::format("a clustered selection needs positions, but population \"{}\" has no "
                                               "\"positions\" (list the others in outputs.hidden.populations)", ps.name));
  }
}

// "learning.rls": recursive least squares training of plastic projections (learning/rls).
void read_rls(const checker& c, run_config& cfg, const json& body, const registry& reg,
              const std::function<json(const json&, const std::vector<param_info>&, const std::string&)>& read_params) {
  const std::string P = "learning.rls";
  c.object(body, P);
  c.keys(body, P, {"plastic", "trained", "plastic_current", "fixed_current", "tau", "lambda", "mu", "learn_every",
                   "window", "loops", "targets", "smoothing", "test", "checkpoint_every", "P_precision",
                   "device"});
  if (cfg.backend != "clock")
    c.fail(P, fmt::format("RLS training runs on the clock backend only; run.backend is \"{}\" (use \"backend\": "
                          "\"clock\")", cfg.backend));
  auto r = std::make_shared<rls_spec>();
  auto population_names = [&] {
    std::vector<std::string> all;
    for (const auto& ps : cfg.populations) all.push_back(ps.name);
    return all;
  };
  // trained populations: their models must have the current variables
  r->trained = c.strings(c.required(body, P, "trained"), c.at(P, "trained"));
  if (r->trained.empty()) c.fail(c.at(P, "trained"), "expected at least one population");
  for (size_t k = 0; k < r->trained.size(); ++k) {
    const int pi = cfg.population_index(r->trained[k]);
    if (pi < 0)
      c.fail(c.at(c.at(P, "trained"), k), fmt::format("unknown population \"{}\"{}", r->trained[k],
                                                      did_you_mean(r->trained[k], population_names())));
    for (size_t j = 0; j < k; ++j)
      if (r->trained[j] == r->trained[k]) c.fail(c.at(c.at(P, "trained"), k), "population listed twice");
  }
  // Every loop draws the initial state again (learning/rls/training.hpp); drawn parameters
  // would be drawn again with it, so the populations' parameters must be constants.
  for (const auto& ps : cfg.populations)
    for (const auto& nv : ps.params)
      if (!nv.value.is_constant())
        c.fail(nv.path, "RLS training draws each loop's initial state afresh, which would draw this parameter again: "
                        "give a constant");
  auto state_variable = [&](const json& v, const std::string& path) {
    const std::string name = c.string(v, path);
    for (const auto& t : r->trained) {
      const model_info* m = reg.find_model(cfg.populations[size_t(cfg.population_index(t))].model);
      std::vector<std::string> names = names_of(m->state);
      if (std::find(names.begin(), names.end(), name) == names.end())
        c.fail(path, fmt::format("model \"{}\" of population \"{}\" has no state variable \"{}\"{}", m->name, t, name,
                                 did_you_mean(name, names)));
    }
    return name;
  };
  r->plastic_current = state_variable(c.required(body, P, "plastic_current"), c.at(P, "plastic_current"));
  if (body.contains("fixed_current")) {
    const json& list = c.array(body["fixed_current"], c.at(P, "fixed_current"));
    for (size_t k = 0; k < list.size(); ++k) {
      r->fixed_current.push_back(state_variable(list[k], c.at(c.at(P, "fixed_current"), k)));
      if (r->fixed_current.back() == r->plastic_current)
        c.fail(c.at(c.at(P, "fixed_current"), k), "is the plastic_current itself");
    }
  }
  // plastic projections: stored, with one delay, onto trained populations only
  const std::string PP = c.at(P, "plastic");
  r->plastic = c.strings(c.required(body, P, "plastic"), PP);
  if (r->plastic.empty()) c.fail(PP, "expected at least one projection name");
  std::vector<std::string> names;
  for (const auto& ps : cfg.projections)
    if (!ps.name.empty()) names.push_back(ps.name);
  const projection_spec* first = nullptr;
  for (size_t k = 0; k < r->plastic.size(); ++k) {
    const std::string pk = c.at(PP, k);
    const auto it = std::find_if(cfg.projections.begin(), cfg.projections.end(),
                                 [&](const projection_spec& ps) { return ps.name == r->plastic[k]; });
    if (it == cfg.projections.end())
      c.fail(pk, fmt::format("no projection is named \"{}\"{} (give projections a \"name\")", r->plastic[k],
                             did_you_mean(r->plastic[k], names)));
    if (it->procedural) c.fail(pk, fmt::format("{} is procedural: RLS edits stored synapses only", it->path));
    if (!it->delay.is_constant()) c.fail(pk, fmt::format("{}: plastic projections need a constant delay", it->path));
    if (first && first->delay.a != it->delay.a)
      c.fail(pk, fmt::format("{} has delay {} ms but {} has {} ms: plastic projections share one delay", it->path,
                             it->delay.a, first->path, first->delay.a));
    if (!first) first = &*it;
    for (const auto& t : it->targets)
      if (std::find(r->trained.begin(), r->trained.end(), t) == r->trained.end())
        c.fail(pk, fmt::format("{} targets population \"{}\", which is not in {}.trained", it->path, t, P));
  }
  r->tau = c.positive(c.required(body, P, "tau"), c.at(P, "tau"));
  r->lambda = c.positive(c.required(body, P, "lambda"), c.at(P, "lambda"));
  if (body.contains("mu")) r->mu = c.positive(body["mu"], c.at(P, "mu"), true);
  if (body.contains("P_precision")) {
    const std::string v = c.string(body["P_precision"], c.at(P, "P_precision"));
    if (v != "double" && v != "single")
      c.fail(c.at(P, "P_precision"), fmt::format("expected \"double\" or \"single\", found \"{}\"{}", v,
                                                  did_you_mean(v, {"double", "single"})));
    r->single_precision_P = v == "single";
  }
  if (body.contains("device")) {
    const std::string v = c.string(body["device"], c.at(P, "device"));
    if (v != "cpu" && v != "cuda")
      c.fail(c.at(P, "device"),
             fmt::format("expected \"cpu\" or \"cuda\", found \"{}\"{}", v, did_you_mean(v, {"cpu", "cuda"})));
#if !defined(GILLESPIKE_HAVE_CUDA)
    if (v == "cuda")
      c.fail(c.at(P, "device"), "\"cuda\" is not available in this build: it was built without CUDA "
                                "(GILLESPIKE_CUDA=OFF, or no nvcc); use \"cpu\"");
#else
    if (v == "cuda")
      if (const std::string why = cuda_unusable_reason(); !why.empty())
        c.fail(c.at(P, "device"), fmt::format("\"cuda\": no usable GPU here ({}); use \"cpu\"", why));
#endif
    r->on_gpu = v == "cuda";
  }
  auto on_grid = [&](double t, const std::string& path) {
    if (std::fabs(t / cfg.dt - std::round(t / cfg.dt)) > 1e-9 * std::max(1.0, t / cfg.dt))
      c.fail(path, fmt::format("{} ms is not a whole number of steps of run.dt = {} ms", t, cfg.dt));
  };
  if (body.contains("learn_every")) r->learn_every = c.positive(body["learn_every"], c.at(P, "learn_every"));
  on_grid(r->learn_every, c.at(P, "learn_every"));
  const std::string WP = c.at(P, "window");
  const std::vector<double> window = c.numbers(c.required(body, P, "window"), WP);
  if (window.size() != 2) c.fail(WP, fmt::format("expected [start, end] in ms, found {} numbers", window.size()));
  r->window_start = window[0], r->window_end = window[1];
  if (!(r->window_start >= 0 && r->window_start < r->window_end && r->window_end <= cfg.duration))
    c.fail(WP, fmt::format("expected 0 <= start < end <= run.duration ({} ms), found [{}, {}]", cfg.duration,
                           r->window_start, r->window_end));
  on_grid(r->window_start, c.at(WP, size_t(0)));
  if (r->window_end - r->window_start < r->learn_every)
    c.fail(WP, fmt::format("the window [{}, {}] holds no learning time (learn_every {} ms)", r->window_start,
                           r->window_end, r->learn_every));
  if (body.contains("loops")) r->loops = uint32_t(c.count(body["loops"], c.at(P, "loops"), 1000000));
  if (r->loops == 0) c.fail(c.at(P, "loops"), "expected at least 1 loop");
  if (body.contains("smoothing")) r->smoothing = c.positive(body["smoothing"], c.at(P, "smoothing"), true);
  if (body.contains("checkpoint_every")) {
    r->checkpoint_every = uint32_t(c.count(body["checkpoint_every"], c.at(P, "checkpoint_every"), 1000000));
    if (r->checkpoint_every == 0) c.fail(c.at(P, "checkpoint_every"), "expected at least 1");
  }
  if (body.contains("test")) {
    const std::string TP = c.at(P, "test");
    const json& t = c.object(body["test"], TP);
    c.keys(t, TP, {"trials", "psth_bin"});
    if (t.contains("trials")) r->test_trials = uint32_t(c.count(t["trials"], c.at(TP, "trials"), 1000000));
    if (r->test_trials == 0) c.fail(c.at(TP, "trials"), "expected at least 1 trial");
    if (t.contains("psth_bin")) r->psth_bin = c.positive(t["psth_bin"], c.at(TP, "psth_bin"));
  }
  // targets: {"generator": {"NAME": {params}}} or {"file": PATH, "dataset": NAME}
  const std::string TP = c.at(P, "targets");
  const json& targets = c.object(c.required(body, P, "targets"), TP);
  c.keys(targets, TP, {"generator", "file", "dataset"});
  if (targets.contains("generator") == targets.contains("file"))
    c.fail(TP, "expected exactly one of \"generator\" and \"file\"");
  if (targets.contains("generator")) {
    const std::string GP = c.at(TP, "generator");
    const json& g = c.object(targets["generator"], GP);
    if (g.size() != 1) c.fail(GP, fmt::format("expected one generator, e.g. {{\"sinusoids\": {{}}}}; found {} keys", g.size()));
    r->generator = g.begin().key();
    const target_info* ti = reg.find_target(r->generator);
    const std::string gp = c.at(GP, r->generator);
    if (!ti)
      c.fail(gp, fmt::format("unknown target generator \"{}\"{}", r->generator, did_you_mean(r->generator, reg.target_names())));
    const json& given = g.begin().value().is_null() ? json::object() : c.object(g.begin().value(), gp);
    c.keys(given, gp, names_of(ti->params));
    r->generator_params = read_params(given, ti->params, gp);
    if (auto [key, problem] = ti->check(r->generator_params); !problem.empty()) c.fail(c.at(gp, key), problem);
    r->make_targets = ti->make;
  } else {
    if (targets.contains("dataset")) r->target_dataset = c.string(targets["dataset"], c.at(TP, "dataset"));
    const std::filesystem::path f(c.string(targets["file"], c.at(TP, "file")));
    if (f.empty()) c.fail(c.at(TP, "file"), "expected a file name, found an empty string");
    r->target_file = f.is_absolute() ? f.string() : (std::filesystem::path(cfg.file).parent_path() / f).string();
    if (!std::filesystem::exists(r->target_file)) c.fail(c.at(TP, "file"), fmt::format("no file {}", r->target_file));
    const bool h5 = f.extension() == ".h5" || f.extension() == ".hdf5";
    if (!h5 && f.extension() != ".npy")
      c.fail(c.at(TP, "file"), fmt::format("expected a .npy or .h5 file, found \"{}\"", f.string()));
    if (h5 && r->target_dataset.empty()) c.fail(TP, "an HDF5 targets file needs \"dataset\"");
    if (!h5 && !r->target_dataset.empty()) c.fail(c.at(TP, "dataset"), "only for an HDF5 file");
  }
  cfg.rls = std::move(r);
}

run_config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       registry& reg) {
  run_config cfg;
  cfg.file = file.string();
  checker c{cfg.file};
  json doc = parse_file(file);
  for (const auto& o : overrides) apply_override(doc, o, cfg.file);
  cfg.document = doc;

  c.object(doc, "");
  c.keys(doc, "", {"plugins", "run", "populations", "projections", "stimuli", "protocol", "recorders", "outputs",
                  "learning"});

  // plugins first: they add the models, rules and stimuli the rest may name
  if (doc.contains("plugins")) {
    const json& list = c.array(doc["plugins"], "plugins");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string p = c.at("plugins", i);
      const std::string entry = c.string(list[i], p);
      try {
        load_plugin(reg, find_plugin(entry, file.parent_path()));
      } catch (const plugin_error& e) {
        c.fail(p, e.what());
      }
    }
  }

  // run
  const json& run = c.object(c.required(doc, "", "run"), "run");
  c.keys(run, "run", {"duration", "seed", "backend", "method", "min_delay", "dt", "threads"});
  // A protocol's length is the default duration (set where the protocol is read).
  if (!doc.contains("protocol") || run.contains("duration"))
    cfg.duration = c.positive(c.required(run, "run", "duration"), "run.duration");
  if (run.contains("seed")) cfg.seed = c.count(run["seed"], "run.seed", UINT64_MAX);
  if (run.contains("backend")) {
    cfg.backend = c.string(run["backend"], "run.backend");
    const std::vector<std::string> backends{"event", "clock", "cuda"};
    if (std::find(backends.begin(), backends.end(), cfg.backend) == backends.end())
      c.fail("run.backend", fmt::format("backend \"{}\" is not available in this build{}", cfg.backend,
                                        did_you_mean(cfg.backend, backends)));
#if !defined(GILLESPIKE_HAVE_CUDA)
    if (cfg.backend == "cuda")
      c.fail("run.backend", "backend \"cuda\" is not available in this build: it was built without CUDA "
                            "(GILLESPIKE_CUDA=OFF, or no nvcc); use \"clock\" for the same step on the CPU");
#endif
  }
  if (run.contains("min_delay")) cfg.min_delay = c.positive(run["min_delay"], "run.min_delay");
  // dt and threads are read whatever the backend, so that --set run.backend=... alone switches.
  if (run.contains("dt")) cfg.dt = c.positive(run["dt"], "run.dt");
  if (run.contains("threads")) cfg.threads = static_cast<unsigned>(c.count(run["threads"], "run.threads", 4096));
  if (run.contains("method")) {
    // Whether every population is stochastic, as "direct" needs, is known once the models are
    // built: check_method() (engine/backends/event/direct.hpp) says so, naming the population.
    cfg.method = c.string(run["method"], "run.method");
    const std::vector<std::string> methods{"next_reaction", "direct"};
    if (std::find(methods.begin(), methods.end(), cfg.method) == methods.end())
      c.fail("run.method", fmt::format("unknown method \"{}\"{}", cfg.method, did_you_mean(cfg.method, methods)));
    if (cfg.method == "direct" && cfg.clock_driven())
      c.fail("run.method", fmt::format("the direct method belongs to the event backend; the {} backend draws each "
                                       "stochastic neuron's spikes per step (remove run.method or use \"backend\": "
                                       "\"event\")", cfg.backend));
  }

  // "positions": {"grid": {"shape", "extent", "center"}} or {"random": {"extent", "center"}}, "periodic"
  auto layout = [&](const json& v, const std::string& path) {
    layout_spec l;
    c.object(v, path);
    c.keys(v, path, {"grid", "random", "periodic"});
    if (v.contains("grid") == v.contains("random"))
      c.fail(path, "give exactly one of \"grid\" and \"random\"");
    const bool grid = v.contains("grid");
    const std::string kp = c.at(path, grid ? "grid" : "random");
    const json& k = c.object(v[grid ? "grid" : "random"], kp);
    c.keys(k, kp, grid ? std::vector<std::string>{"shape", "extent", "center"} : std::vector<std::string>{"extent", "center"});
    auto pair = [&](const std::string& key, bool positive) -> position {
      const std::string pp = c.at(kp, key);
      const json& a = c.array(k[key], pp);
      if (a.size() != 2) c.fail(pp, fmt::format("expected two numbers [{}], found {}", key == "extent" ? "width, height" : "x, y", a.size()));
      return {positive ? c.positive(a[0], c.at(pp, 0)) : c.number(a[0], c.at(pp, 0)),
              positive ? c.positive(a[1], c.at(pp, 1)) : c.number(a[1], c.at(pp, 1))};
    };
    l.kind = grid ? layout_spec::grid : layout_spec::random;
    if (grid) {
      const std::string sp = c.at(kp, "shape");
      const json& shape = c.array(c.required(k, kp, "shape"), sp);
      if (shape.size() != 2) c.fail(sp, fmt::format("expected [rows, columns], found {} numbers", shape.size()));
      l.rows = static_cast<uint32_t>(c.count(shape[0], c.at(sp, 0), UINT32_MAX));
      l.columns = static_cast<uint32_t>(c.count(shape[1], c.at(sp, 1), UINT32_MAX));
      if (l.rows == 0 || l.columns == 0) c.fail(sp, "a grid needs at least one row and one column");
      if (uint64_t(l.rows) * l.columns > UINT32_MAX) c.fail(sp, "more than 2^32 - 1 neurons");
    }
    if (k.contains("extent")) l.extent = pair("extent", true);
    if (k.contains("center")) l.center = pair("center", false);
    if (v.contains("periodic")) l.periodic = c.boolean(v["periodic"], c.at(path, "periodic"));
    return l;
  };

  // populations, in file order
  const json& pops = c.object(c.required(doc, "", "populations"), "populations");
  if (pops.empty()) c.fail("populations", "at least one population is needed");
  uint64_t total = 0;
  for (const auto& [name, body] : pops.items()) {
    const std::string p = c.at("populations", name);
    if (name.empty() || name.find('/') != std::string::npos)
      c.fail(p, fmt::format("{}; a population name becomes an HDF5 group in spikes.h5 and traces.h5",
                            name.empty() ? "empty population name" : "population name \"" + name + "\" contains '/'"));
    c.object(body, p);
    c.keys(body, p, {"size", "model", "params", "initial", "positions", "type", "layer"});
    population_spec ps;
    ps.name = name;
    ps.path = p;
    if (body.contains("positions")) ps.positions = layout(body["positions"], c.at(p, "positions"));
    const bool grid = ps.positions.kind == layout_spec::grid;
    const uint64_t grid_size = uint64_t(ps.positions.rows) * ps.positions.columns;
    if (body.contains("size") || !grid) {
      ps.size = static_cast<uint32_t>(c.count(c.required(body, p, "size"), c.at(p, "size"), UINT32_MAX));
      if (grid && ps.size != grid_size)
        c.fail(c.at(p, "size"), fmt::format("size {} does not match the grid of {} x {} = {} neurons (size may be "
                                            "left out with a grid)", ps.size, ps.positions.rows, ps.positions.columns,
                                            grid_size));
    } else {
      ps.size = static_cast<uint32_t>(grid_size);
    }
    if (ps.size == 0) c.fail(c.at(p, "size"), "a population needs at least one neuron");
    if (body.contains("type")) {
      ps.type = c.string(body["type"], c.at(p, "type"));
      const std::vector<std::string> types{"excitatory", "inhibitory"};
      if (std::find(types.begin(), types.end(), ps.type) == types.end())
        c.fail(c.at(p, "type"), fmt::format("unknown population type \"{}\"{}", ps.type, did_you_mean(ps.type, types)));
    }
    if (body.contains("layer")) ps.layer = c.string(body["layer"], c.at(p, "layer"));
    total += ps.size;
    if (total > UINT32_MAX) c.fail(c.at(p, "size"), "more than 2^32 - 1 neurons in all");
    ps.model = c.string(c.required(body, p, "model"), c.at(p, "model"));
    const model_info* m = reg.find_model(ps.model);
    if (!m) c.fail(c.at(p, "model"), fmt::format("unknown cell model \"{}\"{}", ps.model,
                                                 did_you_mean(ps.model, reg.model_names())));
    if (cfg.backend == "cuda" && !m->make_cuda)
      c.fail(c.at(p, "model"), fmt::format("cell model \"{}\" ({}) cannot run on the GPU: it has no GPU form (one is "
                                           "added from code compiled by nvcc: docs/plugins.md, \"On the GPU\"); use "
                                           "\"backend\": \"clock\" to run the same step on the CPU", ps.model, m->origin));
    for (const auto& [section, table, out] :
         {std::tuple{"params", &m->params, &ps.params}, std::tuple{"initial", &m->state, &ps.initial}}) {
      if (!body.contains(section)) continue;
      const std::string sp = c.at(p, section);
      c.object(body[section], sp);
      c.keys(body[section], sp, names_of(*table));
      for (const auto& [k, v] : body[section].items()) out->push_back({k, c.value(v, c.at(sp, k)), c.at(sp, k)});
    }
    cfg.populations.push_back(std::move(ps));
  }
  auto population = [&](const json& v, const std::string& path) {
    const std::string name = c.string(v, path);
    const int i = cfg.population_index(name);
    if (i < 0) {
      std::vector<std::string> names;
      for (const auto& ps : cfg.populations) names.push_back(ps.name);
      c.fail(path, fmt::format("unknown population \"{}\"{}", name, did_you_mean(name, names)));
    }
    return name;
  };
  auto populations = [&](const json& v, const std::string& path) {
    std::vector<std::string> out;
    if (v.is_string()) return std::vector<std::string>{population(v, path)};
    for (size_t i = 0; i < c.array(v, path).size(); ++i) out.push_back(population(v[i], c.at(path, i)));
    if (out.empty()) c.fail(path, "expected at least one population");
    return out;
  };
  // The receptor, or empty for "by the sign of the weight"; checked against every target's model.
  auto receptor = [&](const json& obj, const std::string& path, const std::vector<std::string>& targets,
                      const value_spec* weight) {
    std::string r;
    if (obj.contains("receptor")) {
      r = c.string(obj["receptor"], c.at(path, "receptor"));
      for (const auto& t : targets) {
        const auto& recs = reg.find_model(cfg.populations[cfg.population_index(t)].model)->receptors;
        if (std::find(recs.begin(), recs.end(), r) == recs.end())
          c.fail(c.at(path, "receptor"), fmt::format("population \"{}\" has no receptor \"{}\"{}", t, r,
                                                     did_you_mean(r, recs)));
      }
    } else if (weight && !weight->is_constant()) {
      c.fail(c.at(path, "receptor"), "is required when the weight is a distribution (it cannot be "
                                     "chosen by the sign of each weight)");
    }
    return r;
  };

  // Parameters of a rule or stimulus generator, checked against its table, defaults filled in.
  auto read_params = [&](const json& given, const std::vector<param_info>& table, const std::string& path) {
    json out = json::object();
    for (const auto& pi : table) {
      const std::string pp = c.at(path, pi.name);
      if (!given.contains(pi.name)) {
        if (pi.optional) continue;  // absent: the owner's own default
        if (std::isnan(pi.default_value)) c.fail(pp, "is required but missing");
        if (pi.kind == param_info::boolean) out[pi.name] = pi.default_value != 0;
        else out[pi.name] = pi.default_value;
        continue;
      }
      const json& v = given[pi.name];
      switch (pi.kind) {
        case param_info::boolean: out[pi.name] = c.boolean(v, pp); break;
        case param_info::integer: out[pi.name] = c.count(v, pp, UINT32_MAX); break;
        case param_info::numbers: out[pi.name] = c.numbers(v, pp); break;
        case param_info::number: out[pi.name] = c.number(v, pp); break;
        case param_info::profile:
        case param_info::mask:
          try {
            if (pi.kind == param_info::profile) spatial::read_profile(v);
            else spatial::read_mask(v);
          } catch (const spatial::spec_error& e) {
            c.fail(e.path.empty() ? pp : c.at(pp, e.path), e.what());
          }
          out[pi.name] = v;
          break;
        case param_info::text:
        case param_info::file: {
          std::string text = c.string(v, pp);
          if (pi.kind == param_info::file) {
            if (text.empty()) c.fail(pp, "expected a file name, found an empty string");
            // Relative to the run file, so a run file and its data move together.
            const std::filesystem::path f(text);
            text = f.is_absolute() ? f.string() : (std::filesystem::path(cfg.file).parent_path() / f).string();
          }
          out[pi.name] = text;
          break;
        }
      }
    }
    return out;
  };

  // projections
  if (doc.contains("projections")) {
    const json& projs = c.array(doc["projections"], "projections");
    for (size_t i = 0; i < projs.size(); ++i) {
      const std::string p = c.at("projections", i);
      const json& body = c.object(projs[i], p);
      c.keys(body, p, {"name", "source", "target", "rule", "weight", "delay", "receptor", "procedural"});
      projection_spec ps;
      ps.path = p;
      if (body.contains("name")) {
        ps.name = c.string(body["name"], c.at(p, "name"));
        for (const auto& other : cfg.projections)
          if (other.name == ps.name) c.fail(c.at(p, "name"), fmt::format("\"{}\" already names {}", ps.name, other.path));
      }
      ps.source = population(c.required(body, p, "source"), c.at(p, "source"));
      ps.targets = populations(c.required(body, p, "target"), c.at(p, "target"));
      const json& rule = c.object(c.required(body, p, "rule"), c.at(p, "rule"));
      if (rule.size() != 1)
        c.fail(c.at(p, "rule"), fmt::format("expected exactly one rule, e.g. {{\"pairwise_bernoulli\": "
                                            "{{\"p\": 0.1}}}}; found {} keys", rule.size()));
      ps.rule = rule.begin().key();
      const std::string rp = c.at(c.at(p, "rule"), ps.rule);
      const rule_info* ri = reg.find_rule(ps.rule);
      if (!ri) c.fail(rp, fmt::format("unknown connection rule \"{}\"{}", ps.rule, did_you_mean(ps.rule, reg.rule_names())));
      const json& given = rule.begin().value().is_null() ? json::object() : c.object(rule.begin().value(), rp);
      c.keys(given, rp, names_of(ri->params));
      ps.rule_params = read_params(given, ri->params, rp);
      std::string spatial_param, file_param;  // a parameter that needs positions; one naming a file
      for (const auto& pi : ri->params) {
        if (!given.contains(pi.name)) continue;
        if (spatial_param.empty() && (pi.kind == param_info::mask || (pi.kind == param_info::profile && given[pi.name].is_object())))
          spatial_param = pi.name;
        if (pi.kind == param_info::file) file_param = pi.name;
      }
      const auto si = static_cast<uint32_t>(cfg.population_index(ps.source));
      const auto& src = cfg.populations[si];
      for (const auto& t : ps.targets) {
        const auto ti = static_cast<uint32_t>(cfg.population_index(t));
        const auto& tgt = cfg.populations[ti];
        if (!spatial_param.empty()) {
          const std::string sp = c.at(rp, spatial_param);
          for (const population_spec* pop : {&src, &tgt})
            if (pop->positions.kind == layout_spec::none)
              c.fail(sp, fmt::format("{} depends on distance, but population \"{}\" has no \"positions\"",
                                     spatial_param, pop->name));
          if (src.positions.periodic != tgt.positions.periodic)
            c.fail(rp, fmt::format("population \"{}\" is periodic and \"{}\" is not; distances wrap around only "
                                   "between periodic populations", src.positions.periodic ? src.name : tgt.name,
                                   src.positions.periodic ? tgt.name : src.name));
          if (src.positions.periodic && src.positions.extent != tgt.positions.extent)
            c.fail(rp, fmt::format("periodic populations \"{}\" and \"{}\" have different extents [{}, {}] and [{}, {}]; "
                                   "distances can wrap around one torus only", src.name, tgt.name,
                                   src.positions.extent[0], src.positions.extent[1], tgt.positions.extent[0],
                                   tgt.positions.extent[1]));
        }
        const rule_context ctx = projection_context(cfg, si, ti, 0);
        if (std::string err = ri->check(ps.rule_params, ctx); !err.empty()) {
          // Rules word their problems "p = 1.5 is ..."; when the first word is a parameter, point at it.
          const std::string first = err.substr(0, err.find(' '));
          const bool names_param = given.contains(first) && ri->params.end() !=
              std::find_if(ri->params.begin(), ri->params.end(), [&](const param_info& pi) { return pi.name == first; });
          c.fail(names_param ? c.at(rp, first) : rp,
                 fmt::format("{} (source \"{}\", target \"{}\")", err, src.name, tgt.name));
        }
      }
      ps.weight = body.contains("weight") ? c.value(body["weight"], c.at(p, "weight")) : value_spec::of(1.0);
      if (body.contains("delay")) ps.delay = c.value(body["delay"], c.at(p, "delay"));
      if (ps.delay.min_value() < cfg.min_delay) {
        const std::string floor = fmt::format("the minimum delay run.min_delay = {} ms", cfg.min_delay);
        switch (ps.delay.kind) {
          case value_spec::constant:
            c.fail(c.at(p, "delay"), fmt::format("delay {} ms is below {}", ps.delay.a, floor));
          case value_spec::uniform:
            c.fail(c.at(p, "delay"), fmt::format("delays can be as small as {} ms, below {}", ps.delay.a, floor));
          case value_spec::normal:
            c.fail(c.at(p, "delay"), fmt::format("delays can be as small as {} ms, below {}; give the normal "
                                                 "distribution a \"min\" of at least {}",
                                                 ps.delay.lo, floor, cfg.min_delay));
          case value_spec::lognormal:
            c.fail(c.at(p, "delay"), fmt::format("lognormal delays come arbitrarily close to 0 ms, below {}; use a "
                                                 "uniform or a normal distribution with \"min\"", floor));
        }
      }
      // The clock backend rounds delays to whole steps; one that rounds to no step would deliver
      // within the step that sent it, which the step order cannot do. (Delays from files are
      // checked when the network is built, engine/backends/clock/simulator.cpp.)
      if (cfg.clock_driven() && std::llround(ps.delay.min_value() / cfg.dt) < 1)
        c.fail(c.at(p, "delay"), fmt::format("delays as small as {} ms round to 0 steps of run.dt = {} ms ({} "
                                             "backend); use delays of at least {} ms or a smaller dt",
                                             ps.delay.min_value(), cfg.dt, cfg.backend, 0.5 * cfg.dt));
      // Dale's law: a typed population's projections all excite or all inhibit. Its type also
      // names the receptor when the projection does not.
      const std::string law = fmt::format("population \"{}\" is {} (Dale's law)", src.name, src.type);
      if (!src.type.empty() && !body.contains("receptor")) {
        ps.receptor = src.type;
        for (const auto& t : ps.targets) {
          const auto& recs = reg.find_model(cfg.populations[cfg.population_index(t)].model)->receptors;
          if (std::find(recs.begin(), recs.end(), ps.receptor) == recs.end())
            c.fail(p, fmt::format("{}, but the model of target \"{}\" has no \"{}\" receptor", law, t, ps.receptor));
        }
      } else {
        ps.receptor = receptor(body, p, ps.targets, &ps.weight);
      }
      if (!src.type.empty() && ps.receptor != src.type)
        c.fail(c.at(p, "receptor"), fmt::format("{}: its projections must use the \"{}\" receptor, found \"{}\"", law,
                                                src.type, ps.receptor));
      // Weights >= 0 from excitatory populations and onto conductance-based models, <= 0 from
      // inhibitory ones onto current-based models (where the sign alone makes an input inhibit).
      // A conductance is never negative, so onto such models untyped sources are checked too.
      auto wanted_sign = [&](const population_spec& tgt) {
        if (reg.find_model(tgt.model)->conductance_based) return 1;
        if (src.type.empty()) return 0;
        return src.type == "excitatory" ? 1 : -1;
      };
      auto sign_reason = [&](const population_spec& tgt) {
        if (!reg.find_model(tgt.model)->conductance_based) return law;
        return src.type.empty() ? fmt::format("the model of \"{}\" is conductance-based", tgt.name)
                                : fmt::format("{} and the model of \"{}\" is conductance-based", law, tgt.name);
      };
      bool weight_used = !file_param.empty() ? body.contains("weight") : true;
      for (const auto& t : ps.targets) {
        const auto ti = static_cast<uint32_t>(cfg.population_index(t));
        const auto& tgt = cfg.populations[ti];
        const int sign = wanted_sign(tgt);
        if (!file_param.empty()) {
          // A rule that reads its synapses from a file: read them now, so that the ids, the
          // weights' signs and the delays are checked by validate, not found halfway into a run.
          scan_sink scan;
          scan.sign = sign;
          scan.min_delay = cfg.min_delay;
          try {
            ri->generate(ps.rule_params, projection_context(cfg, si, ti, 0), scan);
          } catch (const std::runtime_error& e) {
            c.fail(rp, fmt::format("{} (source \"{}\", target \"{}\")", e.what(), src.name, tgt.name));
          }
          const std::string file_name = ps.rule_params[file_param].get<std::string>();
          if (scan.bad_weight)
            c.fail(rp, fmt::format("{}: {} gives the synapse {} -> {} (source \"{}\", target \"{}\") the weight {}; "
                                   "weights must be {}", sign_reason(tgt), file_name, scan.ws, scan.wt, src.name,
                                   tgt.name, scan.w_bad, sign > 0 ? ">= 0" : "<= 0"));
          if (scan.bad_delay)
            c.fail(rp, fmt::format("{} gives the synapse {} -> {} (source \"{}\", target \"{}\") the delay {} ms, "
                                   "below the minimum delay run.min_delay = {} ms", file_name, scan.ds, scan.dt,
                                   src.name, tgt.name, scan.d_bad, cfg.min_delay));
          if (scan.own_weights && ps.receptor.empty())
            c.fail(c.at(p, "receptor"), fmt::format("is required when the weights come from the file {} (it cannot be "
                                                    "chosen by the sign of each weight)", file_name));
          weight_used |= scan.uses_projection_weight;
        }
        if (sign != 0 && weight_used)
          if (std::string why = sign_problem(ps.weight, sign); !why.empty())
            c.fail(c.at(p, "weight"), fmt::format("{}: {}", sign_reason(tgt), why));
      }
      if (body.contains("procedural")) ps.procedural = c.boolean(body["procedural"], c.at(p, "procedural"));
      if (ps.procedural) check_procedural(c, cfg, reg, *ri, ps);
      cfg.projections.push_back(std::move(ps));
    }
  }

  // stimuli: each entry names a registered generator (plugins/stimulus_generators.cpp)
  if (doc.contains("stimuli")) {
    const json& stims = c.array(doc["stimuli"], "stimuli");
    for (size_t i = 0; i < stims.size(); ++i) {
      const std::string p0 = c.at("stimuli", i);
      const json& outer = c.object(stims[i], p0);
      if (outer.size() != 1)
        c.fail(p0, fmt::format("expected one stimulus generator ({}) as the only key", join(reg.stimulus_names())));
      stimulus_spec s;
      s.generator = outer.begin().key();
      const std::string p = c.at(p0, s.generator);
      s.path = p;
      const stimulus_info* si = reg.find_stimulus(s.generator);
      if (!si) c.fail(p, "unknown stimulus" + did_you_mean(s.generator, reg.stimulus_names()));
      s.current = si->current;
      s.make = si->make;
      s.independent_poisson = si->independent_poisson;
      const json& body = c.object(outer.begin().value(), p);
      std::vector<std::string> keys{"target", "ids", "start", "stop"};
      if (si->current) keys.push_back("amplitude");
      else keys.insert(keys.end(), {"weight", "receptor"});
      for (const auto& pi : si->params) keys.push_back(pi.name);
      c.keys(body, p, keys);
      s.params = read_params(body, si->params, p);
      if (si->check)
        if (auto [at, problem] = si->check(s.params); !problem.empty()) c.fail(at.empty() ? p : c.at(p, at), problem);
      s.targets = populations(c.required(body, p, "target"), c.at(p, "target"));
      if (body.contains("ids")) {
        if (s.targets.size() != 1) c.fail(c.at(p, "ids"), "ids need a single target population");
        s.ids = c.ids(body["ids"], c.at(p, "ids"), cfg.populations[cfg.population_index(s.targets[0])].size);
      }
      if (s.current) {
        s.weight = c.value(c.required(body, p, "amplitude"), c.at(p, "amplitude"));
      } else {
        if (body.contains("weight")) s.weight = c.value(body["weight"], c.at(p, "weight"));
        s.receptor = receptor(body, p, s.targets, &s.weight);
        // Weights onto conductance-based models are conductances: never negative.
        for (const auto& t : s.targets)
          if (reg.find_model(cfg.populations[cfg.population_index(t)].model)->conductance_based)
            if (std::string why = sign_problem(s.weight, 1); !why.empty())
              c.fail(c.at(p, "weight"), fmt::format("the model of \"{}\" is conductance-based: {}", t, why));
      }
      s.start = body.contains("start") ? c.positive(body["start"], c.at(p, "start"), true) : 0.0;
      if (body.contains("stop")) s.stop = c.positive(body["stop"], c.at(p, "stop"), true);
      if (s.stop < s.start) c.fail(c.at(p, "stop"), fmt::format("stop {} is before start {}", s.stop, s.start));
      cfg.stimuli.push_back(std::move(s));
    }
  }

  if (doc.contains("protocol")) read_protocol(c, cfg, doc["protocol"], reg);

  // recorders
  if (doc.contains("recorders")) {
    const json& recs = c.array(doc["recorders"], "recorders");
    std::set<std::string> trace_names;
    for (size_t i = 0; i < recs.size(); ++i) {
      const std::string p0 = c.at("recorders", i);
      const json& outer = c.object(recs[i], p0);
      const std::vector<std::string> kinds{"spikes", "state"};
      if (outer.size() != 1) c.fail(p0, "expected one recorder kind (spikes, state) as the only key");
      const std::string kind = outer.begin().key();
      const std::string p = c.at(p0, kind);
      const json& body = c.object(outer.begin().value(), p);
      if (kind == "spikes") {
        c.keys(body, p, {"populations"});
        cfg.record_spikes = true;
        std::vector<std::string> names;
        if (body.contains("populations")) names = populations(body["populations"], c.at(p, "populations"));
        else for (const auto& ps : cfg.populations) names.push_back(ps.name);
        for (const auto& n : names)
          if (std::find(cfg.spike_populations.begin(), cfg.spike_populations.end(), n) == cfg.spike_populations.end())
            cfg.spike_populations.push_back(n);
      } else if (kind == "state") {
        c.keys(body, p, {"population", "ids", "variables", "interval", "start", "name"});
        state_recorder_spec r;
        r.path = p;
        r.population = population(c.required(body, p, "population"), c.at(p, "population"));
        const auto& pop = cfg.populations[cfg.population_index(r.population)];
        r.ids = c.ids(c.required(body, p, "ids"), c.at(p, "ids"), pop.size);
        r.variables = c.strings(c.required(body, p, "variables"), c.at(p, "variables"));
        const auto state_names = names_of(reg.find_model(pop.model)->state);
        for (size_t k = 0; k < r.variables.size(); ++k)
          if (std::find(state_names.begin(), state_names.end(), r.variables[k]) == state_names.end())
            c.fail(c.at(c.at(p, "variables"), k), fmt::format("model \"{}\" has no state variable \"{}\"{}", pop.model,
                                                            r.variables[k], did_you_mean(r.variables[k], state_names)));
        r.interval = body.contains("interval") ? c.positive(body["interval"], c.at(p, "interval")) : 1.0;
        r.start = body.contains("start") ? c.positive(body["start"], c.at(p, "start"), true) : 0.0;
        r.name = body.contains("name") ? c.string(body["name"], c.at(p, "name")) : r.population;
        if (r.name.empty() || r.name.find('/') != std::string::npos)
          c.fail(c.at(p, "name"), fmt::format("{}; it becomes an HDF5 group in traces.h5",
                                              r.name.empty() ? "empty name" : "\"" + r.name + "\" contains '/'"));
        if (!trace_names.insert(r.name).second)
          c.fail(c.at(p, "name"), fmt::format("a state recorder named \"{}\" exists already; give this one a "
                                              "different \"name\"", r.name));
        cfg.state_recorders.push_back(std::move(r));
      } else {
        c.fail(p, "unknown recorder" + did_you_mean(kind, kinds));
      }
    }
  }

  // outputs
  if (doc.contains("outputs")) {
    const json& out = c.object(doc["outputs"], "outputs");
    c.keys(out, "outputs", {"dir", "formats", "phy_sample_rate", "hidden"});
    if (out.contains("dir")) {
      cfg.output_dir = c.string(out["dir"], "outputs.dir");
      if (cfg.output_dir.empty()) c.fail("outputs.dir", "expected a folder name, found an empty string");
    }
    if (out.contains("formats")) {
      cfg.formats = c.strings(out["formats"], "outputs.formats");
      const std::vector<std::string> known{"sonata", "phy", "annotations", "nwb"};
      for (size_t k = 0; k < cfg.formats.size(); ++k)
        if (std::find(known.begin(), known.end(), cfg.formats[k]) == known.end())
          c.fail(c.at("outputs.formats", k), fmt::format("unknown output format \"{}\"{}", cfg.formats[k],
                                                         did_you_mean(cfg.formats[k], known)));
    }
    if (out.contains("phy_sample_rate")) cfg.phy_sample_rate = c.positive(out["phy_sample_rate"], "outputs.phy_sample_rate");
    if (out.contains("hidden")) read_hidden(c, cfg, out["hidden"]);
  }
  if (doc.contains("learning")) {
    const json& learning = c.object(doc["learning"], "learning");
    c.keys(learning, "learning", {"rls"});
    if (learning.contains("rls")) read_rls(c, cfg, learning["rls"], reg, read_params);
  }
  return cfg;
}

}  // namespace gs
