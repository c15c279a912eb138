// 1-D NumPy .npy files (format 1.0, little-endian), the exchange format for per-neuron arrays that
// analysis scripts load with numpy.load; the reader serves tests and the predictor.
#pragma once

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace gs::io {

// Each writes through a staged_file, so `path` appears only when complete.
void write_npy(const std::filesystem::path& path, std::span<const std::int64_t> data);   // '<i8'
void write_npy(const std::filesystem::path& path, std::span<const std::int32_t> data);   // '<i4'
void write_npy(const std::filesystem::path& path, std::span<const std::uint64_t> data);  // '<u8'
void write_npy(const std::filesystem::path& path, std::span<const double> data);         // '<f8'
void write_npy(const std::filesystem::path& path, std::span<const float> data);          // '<f4'

template <class T>
concept npy_element = std::same_as<T, std::int64_t> || std::same_as<T, std::int32_t> ||
                      std::same_as<T, std::uint64_t> || std::same_as<T, double> ||
                      std::same_as<T, float>;

// Reads a 1-D array of exactly T's dtype (format 1.0 or 2.0); anything else throws
// std::runtime_error naming the file, what was expected and what was found.
template <npy_element T>
std::vector<T> read_npy(const std::filesystem::path& path);

// A 2-D float64 or float32 array in C order, as float64, row-major; `rows` and `columns` get its shape.
std::vector<double> read_npy_matrix(const std::filesystem::path& path, std::size_t& rows, std::size_t& columns);

}  // namespace gs::io
