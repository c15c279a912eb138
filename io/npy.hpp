// 1-D NumPy .npy files (format 1.0, little-endian), the exchange format for per-neuron arrays that
// analysis scripts load with numpy.load; the reader serves tests and the predictor.
#pragma once

#include <concepts>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "io/staged_file.hpp"

namespace gs::io {

template <class T>
concept npy_element = std::same_as<T, std::int64_t> || std::same_as<T, std::int32_t> ||
                      std::same_as<T, std::uint64_t> || std::same_as<T, double> ||
                      std::same_as<T, float>;

// A 1-D .npy written piece by piece, for arrays too long to hold: the header is written for an
// empty array and rewritten with the final length by finish() (it is 128 bytes for any length).
// Through a staged_file, so `path` appears only after finish(); dropped unfinished, nothing is left.
template <npy_element T>
class npy_writer {
 public:
  explicit npy_writer(const std::filesystem::path& path);
  ~npy_writer();
  npy_writer(const npy_writer&) = delete;
  npy_writer& operator=(const npy_writer&) = delete;

  void append(std::span<const T> data);
  void finish();

 private:
  staged_file staged_;
  std::FILE* file_;
  std::size_t size_ = 0;
};

// Each writes through a staged_file, so `path` appears only when complete.
void write_npy(const std::filesystem::path& path, std::span<const std::int64_t> data);   // '<i8'
void write_npy(const std::filesystem::path& path, std::span<const std::int32_t> data);   // '<i4'
void write_npy(const std::filesystem::path& path, std::span<const std::uint64_t> data);  // '<u8'
void write_npy(const std::filesystem::path& path, std::span<const double> data);         // '<f8'
void write_npy(const std::filesystem::path& path, std::span<const float> data);          // '<f4'

// Reads a 1-D array of exactly T's dtype (format 1.0 or 2.0); anything else throws
// std::runtime_error naming the file, what was expected and what was found.
template <npy_element T>
std::vector<T> read_npy(const std::filesystem::path& path);

// A 2-D float64 or float32 array in C order, as float64, row-major; `rows` and `columns` get its shape.
std::vector<double> read_npy_matrix(const std::filesystem::path& path, std::size_t& rows, std::size_t& columns);

}  // namespace gs::io
