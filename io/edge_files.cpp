#include "io/edge_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "io/config.hpp"
#include "io/hdf5_handle.hpp"

namespace gs::io {

namespace {

using std::filesystem::path;
constexpr double none = std::numeric_limits<double>::quiet_NaN();

[[noreturn]] void fail(const path& file, const std::string& msg) {
  throw std::runtime_error(fmt::format("{}: {}", file.string(), msg));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

void split(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  for (;;) {
    const size_t comma = line.find(',');
    out.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    line.remove_prefix(comma + 1);
  }
}

bool blank(std::string_view line) { return trim(line).empty(); }

// Column positions of the CSV header: source, target, weight, delay (-1 when absent).
struct csv_header {
  int col[4] = {-1, -1, -1, -1};
  size_t fields = 0;
};
const std::vector<std::string> column_names{"source", "target", "weight", "delay"};

csv_header parse_header(const path& file, std::ifstream& in) {
  std::string line;
  if (!std::getline(in, line)) fail(file, "line 1: the file is empty; expected a header such as source,target,weight,delay");
  std::vector<std::string_view> f;
  split(line, f);
  csv_header h;
  h.fields = f.size();
  for (size_t i = 0; i < f.size(); ++i) {
    const std::string name(f[i]);
    const auto it = std::find(column_names.begin(), column_names.end(), name);
    if (it == column_names.end()) {
      const std::string c = closest_name(name, column_names);
      fail(file, fmt::format("line 1 (header), column {}: unknown column \"{}\"{}", i + 1, name,
                             c.empty() ? " (known: source, target, weight, delay)"
                                       : fmt::format("; did you mean \"{}\"?", c)));
    }
    int& slot = h.col[it - column_names.begin()];
    if (slot >= 0) fail(file, fmt::format("line 1 (header): column \"{}\" is named twice", name));
    slot = int(i);
  }
  if (h.col[0] < 0 || h.col[1] < 0)
    fail(file, fmt::format("line 1 (header): the header must name the columns source and target (and optionally "
                           "weight, delay), found \"{}\"", std::string(trim(line))));
  return h;
}

std::ifstream open_csv(const path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) fail(file, "is a folder, not an edge file");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open the edge file (missing or unreadable)");
  return in;
}

uint64_t parse_id(const path& file, uint64_t line, const char* column, std::string_view s) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    fail(file, fmt::format("line {}, column {}: expected a non-negative integer id, found \"{}\"", line, column,
                           std::string(s)));
  return v;
}

double parse_number(const path& file, uint64_t line, const char* column, std::string_view s) {
  if (s.empty()) return none;  // the projection's value
  double v = 0;
  const char* b = s.data() + (s.front() == '+' ? 1 : 0);  // from_chars takes no '+'
  const auto [end, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    fail(file, fmt::format("line {}, column {}: expected a finite number, found \"{}\"", line, column, std::string(s)));
  return v;
}

}  // namespace

edge_columns csv_edge_columns(const path& file) {
  std::ifstream in = open_csv(file);
  const csv_header h = parse_header(file, in);
  return {h.col[2] >= 0, h.col[3] >= 0};
}

void read_csv_edges(const path& file, const edge_callback& each) {
  std::ifstream in = open_csv(file);
  const csv_header h = parse_header(file, in);
  std::string line;
  std::vector<std::string_view> f;
  for (uint64_t n = 2; std::getline(in, line); ++n) {
    if (blank(line)) continue;
    split(line, f);
    if (f.size() != h.fields)
      fail(file, fmt::format("line {}: expected {} fields as in the header, found {}", n, h.fields, f.size()));
    edge_row r{n, parse_id(file, n, "source", f[size_t(h.col[0])]), parse_id(file, n, "target", f[size_t(h.col[1])]),
               h.col[2] >= 0 ? parse_number(file, n, "weight", f[size_t(h.col[2])]) : none,
               h.col[3] >= 0 ? parse_number(file, n, "delay", f[size_t(h.col[3])]) : none};
    each(r);
  }
  if (in.bad()) fail(file, "read error");
}

// --- SONATA ---

namespace {

h5::handle open_h5(const path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail(file, "cannot open the edge file (missing)");
  h5::quiet_errors();
  return h5::make(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, file, "open the edge file (HDF5)");
}

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists needs each parent to exist, so walk the path.
  size_t pos = 0;
  for (;;) {
    pos = name.find('/', pos + 1);
    const std::string part = name.substr(0, pos);
    if (H5Lexists(loc, part.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

// A 1-D numeric dataset read in blocks.
struct column {
  h5::handle dset;
  hsize_t size = 0;
  std::string name;

  column(hid_t f, const path& file, const std::string& ds, bool integer_only)
      : dset(h5::make(H5Dopen2(f, ds.c_str(), H5P_DEFAULT), H5Dclose, file, "open dataset " + ds)), name(ds) {
    const auto type = h5::make(H5Dget_type(dset.get()), H5Tclose, file, "get the type of dataset " + ds);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && (integer_only || cls != H5T_FLOAT))
      fail(file, fmt::format("dataset {}: expected {} values", ds, integer_only ? "integer" : "numeric"));
    const auto space = h5::make(H5Dget_space(dset.get()), H5Sclose, file, "get the shape of dataset " + ds);
    if (H5Sget_simple_extent_ndims(space.get()) != 1) fail(file, fmt::format("dataset {}: expected one dimension", ds));
    H5Sget_simple_extent_dims(space.get(), &size, nullptr);
  }
  template <class T>
  void read(const path& file, hsize_t offset, hsize_t count, std::vector<T>& out) const {
    out.resize(count);
    if (count == 0) return;
    const hid_t mem_type = std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    const auto fs = h5::make(H5Dget_space(dset.get()), H5Sclose, file, "get the shape of dataset " + name);
    h5::check(H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, &offset, nullptr, &count, nullptr), file,
              "select rows of dataset " + name);
    const auto ms = h5::make(H5Screate_simple(1, &count, nullptr), H5Sclose, file, "create a memory space");
    h5::check(H5Dread(dset.get(), mem_type, ms.get(), fs.get(), H5P_DEFAULT, out.data()), file, "read dataset " + name);
  }
};

// The datasets of one edge population, opened (optional ones empty when absent).
struct sonata_edges {
  h5::handle file_handle;
  std::string population, group;
  std::optional<column> source, target, group_id, group_index, weight, delay;

  sonata_edges(const path& file, const std::string& wanted)
      : file_handle(open_h5(file)), population(sonata_edge_population(file, wanted)), group("/edges/" + population) {
    const hid_t f = file_handle.get();
    for (const char* name : {"source_node_id", "target_node_id"})
      if (!exists(f, group + "/" + name)) fail(file, fmt::format("dataset {}/{} is missing", group, name));
    source.emplace(f, file, group + "/source_node_id", true);
    target.emplace(f, file, group + "/target_node_id", true);
    if (source->size != target->size)
      fail(file, fmt::format("{}/source_node_id has {} edges but target_node_id has {}", group, source->size,
                             target->size));
    if (exists(f, group + "/edge_group_id")) group_id.emplace(f, file, group + "/edge_group_id", true);
    if (exists(f, group + "/edge_group_index")) group_index.emplace(f, file, group + "/edge_group_index", true);
    if (exists(f, group + "/0/syn_weight")) weight.emplace(f, file, group + "/0/syn_weight", false);
    if (exists(f, group + "/0/delay")) delay.emplace(f, file, group + "/0/delay", false);
    for (const auto* c : {&group_id, &group_index})
      if (*c && (*c)->size != source->size)
        fail(file, fmt::format("{} has {} entries for {} edges", (*c)->name, (*c)->size, source->size));
    for (const auto* c : {&weight, &delay})
      if (*c && !group_index && (*c)->size != source->size)
        fail(file, fmt::format("{} has {} entries for {} edges (and there is no edge_group_index)", (*c)->name,
                               (*c)->size, source->size));
  }
};

}  // namespace

std::vector<std::string> sonata_edge_populations(const path& file) {
  const h5::handle f = open_h5(file);
  if (!exists(f.get(), "/edges")) fail(file, "no /edges group: not a SONATA edge file");
  std::vector<std::string> names;
  const auto g = h5::make(H5Gopen2(f.get(), "/edges", H5P_DEFAULT), H5Gclose, file, "open group /edges");
  H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
             [](hid_t loc, const char* name, const H5L_info_t*, void* out) -> herr_t {
               const hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
               if (o >= 0) {
                 if (H5Iget_type(o) == H5I_GROUP) static_cast<std::vector<std::string>*>(out)->push_back(name);
                 H5Oclose(o);
               }
               return 0;
             },
             &names);
  return names;
}

std::string sonata_edge_population(const path& file, const std::string& wanted) {
  const std::vector<std::string> names = sonata_edge_populations(file);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  if (!wanted.empty()) {
    if (std::find(names.begin(), names.end(), wanted) != names.end()) return wanted;
    const std::string c = closest_name(wanted, names);
    fail(file, fmt::format("no edge population \"{}\" under /edges{}", wanted,
                           c.empty() ? fmt::format(" (found: {})", all.empty() ? "none" : all)
                                     : fmt::format("; did you mean \"{}\"?", c)));
  }
  if (names.empty()) fail(file, "no edge population under /edges");
  if (names.size() > 1)
    fail(file, fmt::format("holds several edge populations ({}); choose one with \"edge_population\"", all));
  return names[0];
}

edge_columns sonata_edge_columns(const path& file, const std::string& population) {
  const sonata_edges e(file, population);
  return {e.weight.has_value(), e.delay.has_value()};
}

void read_sonata_edges(const path& file, const std::string& population, const edge_callback& each) {
  const sonata_edges e(file, population);
  constexpr hsize_t block = 1 << 20;
  std::vector<int64_t> src, tgt, gid, gidx;
  std::vector<double> w, d;
  const uint64_t edges = e.source->size;
  for (hsize_t off = 0; off < edges; off += block) {
    const hsize_t n = std::min<hsize_t>(block, edges - off);
    e.source->read(file, off, n, src);
    e.target->read(file, off, n, tgt);
    if (e.group_id) e.group_id->read(file, off, n, gid);
    if (e.group_index) e.group_index->read(file, off, n, gidx);
    // Group 0's attributes: rows of the group when indexed, else the edges' own rows.
    hsize_t lo = off, hi = off + n;
    if (e.group_index && (e.weight || e.delay)) {
      lo = std::numeric_limits<hsize_t>::max(), hi = 0;
      for (hsize_t i = 0; i < n; ++i) {
        if (gidx[i] < 0) fail(file, fmt::format("{}: edge {}: negative index {}", e.group_index->name, off + i, gidx[i]));
        lo = std::min<hsize_t>(lo, hsize_t(gidx[i])), hi = std::max<hsize_t>(hi, hsize_t(gidx[i]) + 1);
      }
      if (lo > hi) lo = hi = 0;
    }
    for (const auto* c : {&e.weight, &e.delay})
      if (*c && hi > (*c)->size)
        fail(file, fmt::format("{} has {} entries, but edges refer to entry {}", (*c)->name, (*c)->size, hi - 1));
    if (e.weight) e.weight->read(file, lo, hi - lo, w);
    if (e.delay) e.delay->read(file, lo, hi - lo, d);
    for (hsize_t i = 0; i < n; ++i) {
      const uint64_t k = off + i;
      if (e.group_id && gid[i] != 0)
        fail(file, fmt::format("{}: edge {} is in edge group {}; only group 0 is read", e.group_id->name, k, gid[i]));
      if (src[i] < 0) fail(file, fmt::format("{}: edge {}: negative node id {}", e.source->name, k, src[i]));
      if (tgt[i] < 0) fail(file, fmt::format("{}: edge {}: negative node id {}", e.target->name, k, tgt[i]));
      const hsize_t a = (e.group_index ? hsize_t(gidx[i]) : k) - lo;
      const double wi = e.weight ? w[a] : none, di = e.delay ? d[a] : none;
      if (e.weight && !std::isfinite(wi))
        fail(file, fmt::format("{}: edge {}: weight {} is not a finite number", e.weight->name, k, wi));
      if (e.delay && !std::isfinite(di))
        fail(file, fmt::format("{}: edge {}: delay {} is not a finite number", e.delay->name, k, di));
      each({k, uint64_t(src[i]), uint64_t(tgt[i]), wi, di});
    }
  }
}

}  // namespace gs::io
