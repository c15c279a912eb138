#include "io/npy.hpp"

#include <fmt/format.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "io/staged_file.hpp"

namespace gs::io {

// The data section is the in-memory bytes as they are; a big-endian port would need a byte swap.
static_assert(std::endian::native == std::endian::little);
static_assert(std::numeric_limits<double>::is_iec559 && std::numeric_limits<float>::is_iec559);

namespace {

constexpr std::string_view magic = "\x93NUMPY";

template <npy_element T>
constexpr std::string_view descr() {
  if constexpr (std::same_as<T, std::int64_t>) return "<i8";
  else if constexpr (std::same_as<T, std::int32_t>) return "<i4";
  else if constexpr (std::same_as<T, std::uint64_t>) return "<u8";
  else if constexpr (std::same_as<T, double>) return "<f8";
  else return "<f4";
}

// Byte-for-byte what numpy.save writes for a 1-D array: the dict, space padding and '\n' so the
// data starts on a 64-byte boundary (NumPy's ARRAY_ALIGN, which lets readers mmap aligned data).
std::string npy_prefix(std::string_view dtype, std::size_t n) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({},), }}", dtype, n);
  constexpr std::size_t fixed = magic.size() + 2 + 2;  // magic, version 1.0, uint16 header length
  const std::size_t total = (fixed + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict += '\n';
  std::string prefix(magic);
  prefix += {'\x01', '\x00', static_cast<char>(dict.size() & 0xff), static_cast<char>(dict.size() >> 8)};
  return prefix + dict;
}

[[noreturn]] void cannot(std::string_view what, const std::filesystem::path& path) {
  throw std::runtime_error(fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(errno)));
}

template <npy_element T>
void write_any(const std::filesystem::path& path, std::span<const T> data) {
  npy_writer<T> out(path);
  out.append(data);
  out.finish();
}

[[noreturn]] void bad(const std::filesystem::path& path, std::string_view expected, std::string_view found) {
  throw std::runtime_error(fmt::format("{}: expected {}, found {}", path.string(), expected, found));
}

// The text after `'key': ` in the header dict.
std::string_view value_of(std::string_view header, std::string_view key, const std::filesystem::path& path) {
  const std::string quoted = fmt::format("'{}':", key);
  const auto at = header.find(quoted);
  if (at == std::string_view::npos) bad(path, fmt::format("a '{}' entry in the header", key), header);
  header.remove_prefix(at + quoted.size());
  return header.substr(std::min(header.find_first_not_of(' '), header.size()));
}

// Opens `path` and reads its header up to the data (format 1.0 or 2.0).
std::string read_header(std::ifstream& in, const std::filesystem::path& path) {
  if (!in) throw std::runtime_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  char lead[12] = {};
  if (!in.read(lead, 10) || std::string_view(lead, magic.size()) != magic) bad(path, "the .npy magic", "other bytes");
  const auto byte = [&](int i) { return std::size_t{static_cast<unsigned char>(lead[i])}; };
  std::size_t header_len = byte(8) | byte(9) << 8;
  if (lead[6] == 2) {  // 2.0 differs only in a uint32 header length
    if (!in.read(lead + 10, 2)) bad(path, "a complete header", "end of file");
    header_len |= byte(10) << 16 | byte(11) << 24;
  } else if (lead[6] != 1) {
    bad(path, "format version 1.0 or 2.0", fmt::format("{}.{}", int(lead[6]), int(lead[7])));
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), std::streamsize(header_len))) bad(path, "a complete header", "end of file");
  return header;
}

}  // namespace

template <npy_element T>
npy_writer<T>::npy_writer(const std::filesystem::path& path)
    : staged_(path), file_(std::fopen(staged_.temp().c_str(), "wb")) {
  if (!file_) cannot("create", path);
  const std::string prefix = npy_prefix(descr<T>(), 0);
  if (std::fwrite(prefix.data(), 1, prefix.size(), file_) != prefix.size()) cannot("write", path);
}

template <npy_element T>
npy_writer<T>::~npy_writer() {
  if (file_) std::fclose(file_);  // unfinished: staged_ removes the temporary file
}

template <npy_element T>
void npy_writer<T>::append(std::span<const T> data) {
  if (data.empty()) return;  // an empty span may carry a null pointer
  if (std::fwrite(data.data(), sizeof(T), data.size(), file_) != data.size()) cannot("write", staged_.final_path());
  size_ += data.size();
}

template <npy_element T>
void npy_writer<T>::finish() {
  // Any 1-D length up to 20 digits keeps the prefix at 128 bytes: it fits where the empty one was.
  const std::string prefix = npy_prefix(descr<T>(), size_);
  const bool written = std::fseek(file_, 0, SEEK_SET) == 0 && std::fwrite(prefix.data(), 1, prefix.size(), file_) == prefix.size();
  const int write_errno = errno;
  const int closed = std::fclose(std::exchange(file_, nullptr));
  if (!written) errno = write_errno;
  if (!written || closed != 0) cannot("write", staged_.final_path());
  staged_.commit();
}

template class npy_writer<std::int64_t>;
template class npy_writer<std::int32_t>;
template class npy_writer<std::uint64_t>;
template class npy_writer<double>;
template class npy_writer<float>;

void write_npy(const std::filesystem::path& p, std::span<const std::int64_t> d) { write_any(p, d); }
void write_npy(const std::filesystem::path& p, std::span<const std::int32_t> d) { write_any(p, d); }
void write_npy(const std::filesystem::path& p, std::span<const std::uint64_t> d) { write_any(p, d); }
void write_npy(const std::filesystem::path& p, std::span<const double> d) { write_any(p, d); }
void write_npy(const std::filesystem::path& p, std::span<const float> d) { write_any(p, d); }

template <npy_element T>
std::vector<T> read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string header = read_header(in, path);
  const std::string_view dtype = value_of(header, "descr", path);
  if (!dtype.starts_with(fmt::format("'{}'", descr<T>()))) {
    bad(path, fmt::format("dtype '{}'", descr<T>()), dtype.substr(0, dtype.find(',')));
  }
  // numpy writes a 1-D shape as "(N,)"; "()" and "(N, M)" are other ranks.
  const std::string_view shape = value_of(header, "shape", path);
  const std::string_view shape_text = shape.substr(0, shape.find(')') + 1);
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(shape.data() + 1, shape.data() + shape.size(), n);
  const std::string_view rest(end, shape.data() + shape.size());
  if (!shape.starts_with('(') || ec != std::errc{} || !rest.starts_with(",)")) {
    bad(path, "a 1-D shape (N,)", shape_text);
  }

  // Checked against the file size before allocating, so a corrupt shape cannot ask for terabytes.
  const std::size_t data_bytes = std::filesystem::file_size(path) - std::size_t(in.tellg());
  if (data_bytes % sizeof(T) != 0 || data_bytes / sizeof(T) != n) {
    bad(path, fmt::format("{} elements for shape {}", n, shape_text), fmt::format("{} bytes of data", data_bytes));
  }
  std::vector<T> data(n);
  if (!in.read(reinterpret_cast<char*>(data.data()), std::streamsize(data_bytes))) bad(path, "data", "a read error");
  return data;
}

template std::vector<std::int64_t> read_npy<std::int64_t>(const std::filesystem::path&);
template std::vector<std::int32_t> read_npy<std::int32_t>(const std::filesystem::path&);
template std::vector<std::uint64_t> read_npy<std::uint64_t>(const std::filesystem::path&);
template std::vector<double> read_npy<double>(const std::filesystem::path&);
template std::vector<float> read_npy<float>(const std::filesystem::path&);

std::vector<double> read_npy_matrix(const std::filesystem::path& path, std::size_t& rows, std::size_t& columns) {
  std::ifstream in(path, std::ios::binary);
  const std::string header = read_header(in, path);
  const std::string_view dtype = value_of(header, "descr", path);
  const bool f8 = dtype.starts_with("'<f8'"), f4 = dtype.starts_with("'<f4'");
  if (!f8 && !f4) bad(path, "dtype '<f8' or '<f4'", dtype.substr(0, dtype.find(',')));
  if (!value_of(header, "fortran_order", path).starts_with("False")) bad(path, "C order", "Fortran order");
  const std::string_view shape = value_of(header, "shape", path);
  const std::string_view shape_text = shape.substr(0, shape.find(')') + 1);
  const char* p = shape.data() + 1;
  const char* const e = shape.data() + shape.size();
  auto r1 = std::from_chars(p, e, rows);
  if (!shape.starts_with('(') || r1.ec != std::errc{} || r1.ptr + 2 > e || r1.ptr[0] != ',' || r1.ptr[1] != ' ')
    bad(path, "a 2-D shape (rows, columns)", shape_text);
  auto r2 = std::from_chars(r1.ptr + 2, e, columns);
  if (r2.ec != std::errc{} || r2.ptr >= e || *r2.ptr != ')') bad(path, "a 2-D shape (rows, columns)", shape_text);
  const std::size_t width = f8 ? 8 : 4, n = rows * columns;
  const std::size_t data_bytes = std::filesystem::file_size(path) - std::size_t(in.tellg());
  if (data_bytes != n * width)
    bad(path, fmt::format("{} elements for shape {}", n, shape_text), fmt::format("{} bytes of data", data_bytes));
  std::vector<double> out(n);
  if (f8) {
    if (!in.read(reinterpret_cast<char*>(out.data()), std::streamsize(data_bytes))) bad(path, "data", "a read error");
  } else {
    std::vector<float> f(n);
    if (!in.read(reinterpret_cast<char*>(f.data()), std::streamsize(data_bytes))) bad(path, "data", "a read error");
    std::copy(f.begin(), f.end(), out.begin());
  }
  return out;
}

}  // namespace gs::io
