#include "io/hdf5_read.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "io/hdf5_handle.hpp"

namespace gs::io {

namespace {

using std::filesystem::path;

// What a reader holds open: the file and one dataset or attribute in it, closed in reverse order.
struct opened {
  h5::handle file;
  h5::handle object;
  h5::handle type;
  h5::handle space;
  std::string what;  // for messages

  std::size_t elements(const path& p) const {
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 0) h5::fail(p, "get the size of " + what);
    return std::size_t(n);
  }
  void require_class(H5T_class_t expected, const path& p) const {
    constexpr std::array<std::string_view, 11> names = {"integer", "float",    "time",      "string",
                                                        "bitfield", "opaque",  "compound",  "reference",
                                                        "enum",    "variable-length", "array"};
    const H5T_class_t found = H5Tget_class(type.get());
    if (found != expected) {
      throw std::runtime_error(fmt::format("{}: {} has type class {}, expected {}", p.string(), what,
                                           std::size_t(found) < names.size() ? names[found] : "unknown",
                                           names[expected]));
    }
  }
};

h5::handle open_file(const path& p) {
  h5::quiet_errors();
  return h5::make(H5Fopen(p.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, p, "open file");
}

opened open_dataset(const path& p, const std::string& dataset) {
  auto file = open_file(p);
  const std::string what = "dataset " + dataset;
  auto dset = h5::make(H5Dopen2(file.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose, p, "open " + what);
  auto type = h5::make(H5Dget_type(dset.get()), H5Tclose, p, "get the type of " + what);
  auto space = h5::make(H5Dget_space(dset.get()), H5Sclose, p, "get the shape of " + what);
  return {std::move(file), std::move(dset), std::move(type), std::move(space), what};
}

opened open_attribute(const path& p, const std::string& object, const std::string& attr) {
  auto file = open_file(p);
  const std::string what = fmt::format("attribute {} of {}", attr, object);
  auto a = h5::make(H5Aopen_by_name(file.get(), object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                    p, "open " + what);
  auto type = h5::make(H5Aget_type(a.get()), H5Tclose, p, "get the type of " + what);
  auto space = h5::make(H5Aget_space(a.get()), H5Sclose, p, "get the shape of " + what);
  return {std::move(file), std::move(a), std::move(type), std::move(space), what};
}

template <class T>
std::vector<T> read_all(const path& p, const opened& o, H5T_class_t expected, hid_t mem_type, bool attribute) {
  o.require_class(expected, p);
  std::vector<T> out(o.elements(p));
  if (!out.empty()) {
    h5::check(attribute ? H5Aread(o.object.get(), mem_type, out.data())
                        : H5Dread(o.object.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
              p, "read " + o.what);
  }
  return out;
}

}  // namespace

std::vector<double> read_h5_doubles(const path& file, const std::string& dataset) {
  return read_all<double>(file, open_dataset(file, dataset), H5T_FLOAT, H5T_NATIVE_DOUBLE, false);
}

std::vector<std::uint64_t> read_h5_uint64(const path& file, const std::string& dataset) {
  return read_all<std::uint64_t>(file, open_dataset(file, dataset), H5T_INTEGER, H5T_NATIVE_UINT64, false);
}

std::vector<std::uint64_t> read_h5_uint64_attr(const path& file, const std::string& object, const std::string& attr) {
  return read_all<std::uint64_t>(file, open_attribute(file, object, attr), H5T_INTEGER, H5T_NATIVE_UINT64, true);
}

std::vector<std::size_t> read_h5_shape(const path& file, const std::string& dataset) {
  const opened o = open_dataset(file, dataset);
  std::vector<hsize_t> dims(std::size_t(std::max(H5Sget_simple_extent_ndims(o.space.get()), 0)));
  if (H5Sget_simple_extent_dims(o.space.get(), dims.data(), nullptr) < 0) {
    h5::fail(file, "get the shape of " + o.what);
  }
  return {dims.begin(), dims.end()};
}

std::string read_h5_string_attr(const path& file, const std::string& object, const std::string& attr) {
  const opened o = open_attribute(file, object, attr);
  o.require_class(H5T_STRING, file);
  if (o.elements(file) != 1) h5::fail(file, "read " + o.what + " as one string");
  if (H5Tis_variable_str(o.type.get()) > 0) {
    char* text = nullptr;
    h5::check(H5Aread(o.object.get(), o.type.get(), &text), file, "read " + o.what);
    const std::unique_ptr<char, herr_t (*)(void*)> owned(text, H5free_memory);
    return text ? text : "";
  }
  std::string text(H5Tget_size(o.type.get()), '\0');
  h5::check(H5Aread(o.object.get(), o.type.get(), text.data()), file, "read " + o.what);
  return text.substr(0, text.find('\0'));  // fixed-length strings are null-terminated or padded
}

int read_h5_enum_attr(const path& file, const std::string& object, const std::string& attr) {
  const opened o = open_attribute(file, object, attr);
  o.require_class(H5T_ENUM, file);
  if (o.elements(file) != 1) h5::fail(file, "read " + o.what + " as one value");
  // HDF5 will not convert an enum to an integer, but it will convert the enum's base type.
  const auto mem = h5::make(H5Tget_native_type(o.type.get(), H5T_DIR_ASCEND), H5Tclose, file, "map " + o.what);
  const auto base = h5::make(H5Tget_super(mem.get()), H5Tclose, file, "get the base type of " + o.what);
  alignas(8) unsigned char value[16] = {};
  if (H5Tget_size(mem.get()) > sizeof value) h5::fail(file, "read " + o.what + " (enum base type too wide)");
  h5::check(H5Aread(o.object.get(), mem.get(), value), file, "read " + o.what);
  h5::check(H5Tconvert(base.get(), H5T_NATIVE_INT, 1, value, nullptr, H5P_DEFAULT), file, "convert " + o.what);
  int result = 0;
  std::memcpy(&result, value, sizeof result);
  return result;
}

}  // namespace gs::io
