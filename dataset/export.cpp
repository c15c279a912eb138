#include "dataset/export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "io/config.hpp"
#include "io/hdf5_handle.hpp"
#include "io/hdf5_read.hpp"
#include "io/npz.hpp"
#include "io/staged_file.hpp"

namespace gs {

namespace fs = std::filesystem;
namespace h5 = io::h5;

namespace {

// One SONATA spike population read forward in chunks: its timestamps (ms) and global ids.
class spike_cursor {
 public:
  spike_cursor(const fs::path& file, const std::string& pop, uint64_t first_id, uint64_t chunk)
      : file_(file), first_(first_id), chunk_(chunk),
        h_(h5::make(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, file, "open file")),
        t_(open("/spikes/" + pop + "/timestamps")), id_(open("/spikes/" + pop + "/node_ids")) {
    const auto space = h5::make(H5Dget_space(t_.get()), H5Sclose, file, "get the size of " + pop);
    total_ = uint64_t(H5Sget_simple_extent_npoints(space.get()));
  }

  bool done() { return pos_ >= total_ || (k_ >= times_.size() && (fill(), times_.empty())); }
  double time() { return times_[k_]; }
  uint64_t gid() { return ids_[k_] + first_; }
  void next() {
    ++k_;
    ++pos_;
  }

 private:
  h5::handle open(const std::string& ds) {
    return h5::make(H5Dopen2(h_.get(), ds.c_str(), H5P_DEFAULT), H5Dclose, file_, "open " + ds);
  }
  void read(const h5::handle& d, hid_t type, void* out, hsize_t start, hsize_t n) {
    const auto fspace = h5::make(H5Dget_space(d.get()), H5Sclose, file_, "select spikes");
    h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &n, nullptr), file_, "select spikes");
    const auto mspace = h5::make(H5Screate_simple(1, &n, nullptr), H5Sclose, file_, "select spikes");
    h5::check(H5Dread(d.get(), type, mspace.get(), fspace.get(), H5P_DEFAULT, out), file_, "read spikes");
  }
  void fill() {
    const hsize_t n = std::min<uint64_t>(chunk_, total_ - pos_);
    times_.resize(n);
    ids_.resize(n);
    k_ = 0;
    if (n == 0) return;
    read(t_, H5T_NATIVE_DOUBLE, times_.data(), pos_, n);
    read(id_, H5T_NATIVE_UINT64, ids_.data(), pos_, n);
  }

  fs::path file_;
  uint64_t first_, chunk_, total_ = 0, pos_ = 0;
  h5::handle h_, t_, id_;
  std::vector<double> times_;
  std::vector<uint64_t> ids_;
  size_t k_ = 0;
};

const char* const split_names[] = {"train", "validation", "test"};

}  // namespace

export_summary export_binned(const export_options& opt) {
  const fs::path ann = opt.run_dir / "annotations.h5", spikes = opt.run_dir / "spikes.h5";
  for (const auto& f : {ann, spikes})
    if (!fs::exists(f))
      throw config_error(f.string(), "", "no such file; run a run file with a \"protocol\" and outputs.formats "
                                         "\"sonata\" and \"annotations\" first");
  if (!(opt.bin_ms > 0)) throw config_error("--bin", "", fmt::format("expected a positive bin width, found {}", opt.bin_ms));
  std::vector<double> start, end;
  std::vector<uint64_t> trial, stimulus, split;
  uint64_t neurons = 0;
  std::vector<std::pair<std::string, uint64_t>> pops;  // recorded populations and their first ids
  try {
    start = io::read_h5_doubles(ann, "/examples/start_ms");
    end = io::read_h5_doubles(ann, "/examples/end_ms");
    trial = io::read_h5_uint64(ann, "/examples/trial");
    stimulus = io::read_h5_uint64(ann, "/examples/stimulus_id");
    split = io::read_h5_uint64(ann, "/examples/split");
    neurons = io::read_h5_shape(ann, "/neurons/id").at(0);
    const json doc = json::parse(io::read_h5_string_attr(ann, "/", "run_document"));
    h5::quiet_errors();
    const auto f = h5::make(H5Fopen(spikes.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, spikes, "open file");
    for (const auto& [name, body] : doc["populations"].items()) {
      const std::string g = "/spikes/" + name;  // populations without a spike recorder have none
      if (H5Lexists(f.get(), "/spikes", H5P_DEFAULT) <= 0 || H5Lexists(f.get(), g.c_str(), H5P_DEFAULT) <= 0) continue;
      pops.emplace_back(name, io::read_h5_uint64_attr(ann, "/populations/" + name, "first_id").at(0));
    }
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const config_error*>(&e)) throw;
    throw config_error(ann.string(), "", e.what());
  }

  std::vector<spike_cursor> cursors;
  for (const auto& [name, first] : pops) cursors.emplace_back(spikes, name, first, opt.chunk);

  fs::create_directories(opt.out_dir);
  for (const char* s : split_names) fs::create_directories(opt.out_dir / "npz" / s);
  const fs::path h5_path = opt.out_dir / "binned.h5";
  io::staged_file staged(h5_path);
  h5::writer out(staged.temp(), h5_path);
  out.attribute("/", "bin_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &opt.bin_ms);
  out.attribute("/", "neurons", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &neurons);
  out.string_attribute("/", "layout", "per example: CSR of counts, rows = time bins, columns = global neuron ids");
  out.group("/examples");

  // Examples in time order; they do not overlap (each ends where the next can start at the latest).
  std::vector<size_t> order(start.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return start[a] < start[b]; });
  export_summary sum;
  std::vector<std::pair<uint64_t, uint32_t>> cells;  // (bin, neuron) of each spike in the example
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices, data;
  std::vector<std::vector<uint64_t>> by_split(3);
  for (const size_t e : order) {
    const uint64_t bins = static_cast<uint64_t>(std::ceil((end[e] - start[e]) / opt.bin_ms - 1e-9));
    cells.clear();
    for (auto& c : cursors) {
      while (!c.done() && c.time() < start[e]) c.next();
      for (; !c.done() && c.time() < end[e]; c.next()) {
        const auto b = std::min<uint64_t>(bins - 1, static_cast<uint64_t>((c.time() - start[e]) / opt.bin_ms));
        cells.emplace_back(b, uint32_t(c.gid()));
      }
    }
    sum.spikes += cells.size();
    std::sort(cells.begin(), cells.end());
    indptr.assign(bins + 1, 0);
    indices.clear();
    data.clear();
    for (size_t k = 0; k < cells.size(); ++k) {
      if (k > 0 && cells[k] == cells[k - 1]) {
        ++data.back();
        continue;
      }
      indices.push_back(int32_t(cells[k].second));
      data.push_back(1);
      ++indptr[cells[k].first + 1];
    }
    for (uint64_t b = 0; b < bins; ++b) indptr[b + 1] += indptr[b];
    sum.nonzeros += data.size();

    const std::string g = fmt::format("/examples/{}", e);
    out.group(g);
    out.dataset(g + "/indptr", {indptr.size()}, indptr.data());
    out.dataset(g + "/indices", {indices.size()}, indices.data());
    out.dataset(g + "/data", {data.size()}, data.data());
    const uint64_t shape[2] = {bins, neurons};
    out.attribute(g, "shape", H5T_STD_U64LE, H5T_NATIVE_UINT64, 2, shape);
    out.attribute(g, "start_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &start[e]);
    out.attribute(g, "end_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, &end[e]);
    out.attribute(g, "trial", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &trial[e]);
    out.attribute(g, "stimulus_id", H5T_STD_U64LE, H5T_NATIVE_UINT64, 0, &stimulus[e]);
    out.string_attribute(g, "split", split_names[split[e]]);
    by_split[split[e]].push_back(e);

    const fs::path npz = opt.out_dir / "npz" / split_names[split[e]] / fmt::format("example_{:06d}.npz", e);
    io::write_csr_npz(npz, bins, neurons, indptr, indices, data);
    sum.npz_bytes += fs::file_size(npz);
    ++sum.examples;
  }
  out.group("/splits");
  for (int s = 0; s < 3; ++s)
    out.dataset(fmt::format("/splits/{}", split_names[s]), {by_split[s].size()}, by_split[s].data());
  out.close();
  staged.commit();
  sum.h5_bytes = fs::file_size(h5_path);
  return sum;
}

}  // namespace gs
