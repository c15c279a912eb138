// HDF5 plumbing shared by the HDF5 writers and readers: an owning handle for HDF5 ids, checks that
// turn HDF5 failures into exceptions naming the file and the operation, and a writer that creates
// groups, datasets and attributes by absolute path.
#pragma once

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace gs::io::h5 {

// Closes one HDF5 id on scope exit, so a throw halfway through a file leaks nothing.
class handle {
 public:
  using closer = herr_t (*)(hid_t);
  handle(hid_t id, closer closes) noexcept : id_(id), close_(closes) {}
  handle(handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  ~handle() { close(); }

  hid_t get() const noexcept { return id_; }
  // Called explicitly where the result matters: closing a file flushes it, and may fail.
  herr_t close() noexcept { return id_ < 0 ? 0 : close_(std::exchange(id_, H5I_INVALID_HID)); }

 private:
  hid_t id_;
  closer close_;
};

// The innermost error on HDF5's stack says why (e.g. the errno of a failed open); the outer ones
// only name API calls, which the caller's description already does.
inline std::string last_error() {
  std::string why;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
    return 0;
  }, &why);
  H5Eclear2(H5E_DEFAULT);
  return why;
}

[[noreturn]] inline void fail(const std::filesystem::path& file, std::string_view what) {
  const std::string why = last_error();
  throw std::runtime_error(fmt::format("{}: cannot {}{}{}", file.string(), what, why.empty() ? "" : ": ", why));
}

inline void check(herr_t rc, const std::filesystem::path& file, std::string_view what) {
  if (rc < 0) fail(file, what);
}

inline handle make(hid_t id, handle::closer close, const std::filesystem::path& file, std::string_view what) {
  if (id < 0) fail(file, what);
  return {id, close};
}

// Failures reach callers as exceptions; HDF5's own stack dump on stderr would be noise.
inline void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Caller-chosen names become one HDF5 path component; a '/' would silently nest groups.
inline void require_component(std::string_view name, std::string_view what) {
  if (name.empty() || name.find('/') != std::string_view::npos) {
    throw std::invalid_argument(fmt::format("{} '{}' is not a usable HDF5 name", what, name));
  }
}

// Little-endian file types (and the matching memory types) for the element types the writers store.
template <class T>
std::pair<hid_t, hid_t> types_of() {
  if constexpr (std::is_same_v<T, double>) return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE};
  else if constexpr (std::is_same_v<T, float>) return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT};
  else if constexpr (std::is_same_v<T, std::uint64_t>) return {H5T_STD_U64LE, H5T_NATIVE_UINT64};
  else if constexpr (std::is_same_v<T, std::int64_t>) return {H5T_STD_I64LE, H5T_NATIVE_INT64};
  else if constexpr (std::is_same_v<T, std::int32_t>) return {H5T_STD_I32LE, H5T_NATIVE_INT32};
  else if constexpr (std::is_same_v<T, std::uint32_t>) return {H5T_STD_U32LE, H5T_NATIVE_UINT32};
  else {
    static_assert(std::is_same_v<T, std::uint8_t>);
    return {H5T_STD_U8LE, H5T_NATIVE_UINT8};
  }
}

// A 1-D dataset written piece by piece, for data too long to hold (spikes while a run goes on):
// it starts empty and grows with each append. Made by writer::growing.
template <class T>
class growing_dataset {
 public:
  growing_dataset(handle dset, std::string path, std::filesystem::path shown)
      : dset_(std::move(dset)), path_(std::move(path)), shown_(std::move(shown)) {}

  void append(std::span<const T> data) {
    if (data.empty()) return;  // an empty span may carry a null pointer, which H5Dwrite rejects
    hsize_t start = size_, count = data.size(), grown = size_ + count;
    check(H5Dset_extent(dset_.get(), &grown), shown_, "extend " + path_);
    const auto file_space = make(H5Dget_space(dset_.get()), H5Sclose, shown_, "get the dataspace of " + path_);
    check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), shown_,
          "select the end of " + path_);
    const auto mem_space = make(H5Screate_simple(1, &count, nullptr), H5Sclose, shown_, "create dataspace for " + path_);
    check(H5Dwrite(dset_.get(), types_of<T>().second, mem_space.get(), file_space.get(), H5P_DEFAULT, data.data()),
          shown_, "write dataset " + path_);
    size_ = grown;
  }
  hsize_t size() const { return size_; }

 private:
  handle dset_;
  std::string path_;
  std::filesystem::path shown_;
  hsize_t size_ = 0;
};

// Creates one new HDF5 file; errors report `shown` (a staged file's final name, not its temp name).
class writer {
 public:
  writer(const std::filesystem::path& create, std::filesystem::path shown)
      : shown_(std::move(shown)), file_(make(create_file(create), H5Fclose, shown_, "create file")) {}

  void group(const std::string& path) {
    make(H5Gcreate2(file_.get(), path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, shown_,
         "create group " + path);
  }

  // Row-major data of the given shape. Arrays larger than one chunk are chunked (slices read one
  // chunk); the rest stay contiguous. No compression: spike times barely compress and deflate
  // cost more than the simulation itself on small networks.
  template <class T>
  void dataset(const std::string& path, std::initializer_list<hsize_t> shape, const T* data) {
    const auto [file_type, mem_type] = types_of<T>();
    dataset(path, std::vector<hsize_t>(shape), file_type, mem_type, data);
  }

  // An empty 1-D dataset that grows by appends. Its chunks are smaller than the fixed-size ones
  // because a short stream still fills a whole chunk on disk: 128 KiB of doubles.
  template <class T>
  growing_dataset<T> growing(const std::string& path) {
    const hsize_t empty = 0, unlimited = H5S_UNLIMITED, chunk = 16384;
    const auto space = make(H5Screate_simple(1, &empty, &unlimited), H5Sclose, shown_, "create dataspace for " + path);
    const auto props = make(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, shown_, "create properties for " + path);
    check(H5Pset_chunk(props.get(), 1, &chunk), shown_, "set chunking for " + path);
    return {make(H5Dcreate2(file_.get(), path.c_str(), types_of<T>().first, space.get(), H5P_DEFAULT, props.get(),
                            H5P_DEFAULT),
                 H5Dclose, shown_, "create dataset " + path),
            path, shown_};
  }

  // Variable-length UTF-8 strings, what h5py reads as str (after .asstr()).
  void string_dataset(const std::string& path, const std::vector<std::string>& values) {
    const auto type = string_type();
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    dataset(path, {hsize_t(values.size())}, type.get(), type.get(), ptrs.data());
  }

  void string_scalar(const std::string& path, const std::string& value) {
    const auto type = string_type();
    const char* text = value.c_str();
    dataset(path, std::vector<hsize_t>{}, type.get(), type.get(), &text);
  }

  // An attribute holding an HDF5 object reference to `target` (NWB's VectorIndex.target).
  void reference_attribute(const std::string& object, const char* name, const std::string& target) {
    hobj_ref_t ref;
    check(H5Rcreate(&ref, file_.get(), target.c_str(), H5R_OBJECT, -1), shown_, "reference " + target);
    attribute(object, name, H5T_STD_REF_OBJ, H5T_STD_REF_OBJ, 0, &ref);
  }

  void dataset(const std::string& path, std::vector<hsize_t> dims, hid_t file_type, hid_t mem_type, const void* data) {
    hsize_t total = 1;
    for (const hsize_t d : dims) total *= d;
    // No dimensions: a scalar.
    const auto space = make(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
                            H5Sclose, shown_, "create dataspace for " + path);
    const auto props = make(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, shown_, "create properties for " + path);
    if (total > chunk_elements) {
      // Chunks span whole trailing rows where possible, so a time slice reads one chunk.
      std::vector<hsize_t> chunk(dims);
      hsize_t room = chunk_elements;
      for (auto c = chunk.rbegin(); c != chunk.rend(); ++c) {
        *c = std::clamp<hsize_t>(room, 1, *c);
        room = std::max<hsize_t>(room / *c, 1);
      }
      check(H5Pset_chunk(props.get(), int(chunk.size()), chunk.data()), shown_, "set chunking for " + path);
    }
    const auto dset = make(H5Dcreate2(file_.get(), path.c_str(), file_type, space.get(), H5P_DEFAULT,
                                      props.get(), H5P_DEFAULT),
                           H5Dclose, shown_, "create dataset " + path);
    if (total > 0) {  // an empty span may carry a null pointer, which H5Dwrite rejects
      check(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), shown_, "write dataset " + path);
    }
  }

  // `count` elements of `data`; 0 makes a scalar attribute.
  void attribute(const std::string& object, const char* name, hid_t file_type, hid_t mem_type, hsize_t count,
                 const void* data) {
    const std::string what = fmt::format("attribute {} of {}", name, object);
    const auto space = make(count == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr), H5Sclose,
                            shown_, "create dataspace for " + what);
    const auto attr = make(H5Acreate_by_name(file_.get(), object.c_str(), name, file_type, space.get(),
                                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           H5Aclose, shown_, "create " + what);
    check(H5Awrite(attr.get(), mem_type, data), shown_, "write " + what);
  }

  // Variable-length UTF-8, what h5py writes for a Python str.
  void string_attribute(const std::string& object, const char* name, const std::string& value) {
    const auto type = string_type();
    const char* text = value.c_str();
    attribute(object, name, type.get(), type.get(), 0, &text);
  }
  void strings_attribute(const std::string& object, const char* name, const std::vector<std::string>& values) {
    const auto type = string_type();
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    attribute(object, name, type.get(), type.get(), ptrs.size(), ptrs.data());
  }

  void close() { check(file_.close(), shown_, "close file"); }

 private:
  static constexpr hsize_t chunk_elements = 65536;

  handle string_type() {
    auto type = make(H5Tcopy(H5T_C_S1), H5Tclose, shown_, "create string type");
    check(H5Tset_size(type.get(), H5T_VARIABLE), shown_, "size string type");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), shown_, "set string encoding");
    return type;
  }

  static hid_t create_file(const std::filesystem::path& create) {
    quiet_errors();
    return H5Fcreate(create.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  }

  std::filesystem::path shown_;
  handle file_;
};

}  // namespace gs::io::h5
