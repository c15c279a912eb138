#include "io/npz.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/staged_file.hpp"

namespace gs::io {

namespace {

// CRC-32 (IEEE 802.3, reflected), as zip stores per entry.
uint32_t crc32(const std::string& bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

// An .npy file (format 1.0) in memory: the header padded to a multiple of 64 bytes, then data.
std::string npy(const std::string& descr, const std::string& shape, const void* data, size_t bytes) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  dict += std::string(63 - (10 + dict.size()) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xFF);
  out += char(dict.size() >> 8);
  out += dict;
  out.append(static_cast<const char*>(data), bytes);
  return out;
}

void put16(std::string& s, uint32_t v) { s += char(v & 0xFF), s += char((v >> 8) & 0xFF); }
void put32(std::string& s, uint32_t v) { put16(s, v & 0xFFFF), put16(s, v >> 16); }

}  // namespace

void write_csr_npz(const std::filesystem::path& path, std::uint64_t rows, std::uint64_t columns,
                   std::span<const std::int64_t> indptr, std::span<const std::int32_t> indices,
                   std::span<const std::int32_t> data) {
  const int64_t shape[2] = {int64_t(rows), int64_t(columns)};
  const std::vector<std::pair<std::string, std::string>> entries{
      {"indices.npy", npy("<i4", fmt::format("({},)", indices.size()), indices.data(), indices.size_bytes())},
      {"indptr.npy", npy("<i8", fmt::format("({},)", indptr.size()), indptr.data(), indptr.size_bytes())},
      {"format.npy", npy("|S3", "()", "csr", 3)},
      {"shape.npy", npy("<i8", "(2,)", shape, sizeof shape)},
      {"data.npy", npy("<i4", fmt::format("({},)", data.size()), data.data(), data.size_bytes())}};
  // Stored (no compression) zip entries, then the central directory; sizes stay below 4 GiB
  // (no zip64), which a per-example matrix does.
  std::string zip, central;
  for (const auto& [name, bytes] : entries) {
    if (bytes.size() >= 0xFFFFFFFFu) throw std::runtime_error(fmt::format("{}: {} over 4 GiB", path.string(), name));
    const uint32_t crc = crc32(bytes), offset = uint32_t(zip.size()), size = uint32_t(bytes.size());
    std::string local;
    put32(local, 0x04034b50), put16(local, 20), put16(local, 0), put16(local, 0), put16(local, 0), put16(local, 0x21);
    put32(local, crc), put32(local, size), put32(local, size), put16(local, uint32_t(name.size())), put16(local, 0);
    zip += local + name + bytes;
    put32(central, 0x02014b50), put16(central, 20), put16(central, 20), put16(central, 0), put16(central, 0);
    put16(central, 0), put16(central, 0x21), put32(central, crc), put32(central, size), put32(central, size);
    put16(central, uint32_t(name.size())), put16(central, 0), put16(central, 0), put16(central, 0), put16(central, 0);
    put32(central, 0), put32(central, offset);
    central += name;
  }
  std::string end;
  put32(end, 0x06054b50), put16(end, 0), put16(end, 0), put16(end, uint32_t(entries.size()));
  put16(end, uint32_t(entries.size())), put32(end, uint32_t(central.size())), put32(end, uint32_t(zip.size()));
  put16(end, 0);
  staged_file staged(path);
  {
    std::ofstream out(staged.temp(), std::ios::binary);
    out << zip << central << end;
    if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  staged.commit();
}

}  // namespace gs::io
