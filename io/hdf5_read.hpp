// Small readers for HDF5 datasets and attributes, for tests and tools that check what the writers
// produced; each opens the file read-only and throws std::runtime_error naming file and object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gs::io {

// Whole dataset of any rank, flattened row-major; the type class must be float / integer.
std::vector<double> read_h5_doubles(const std::filesystem::path& file, const std::string& dataset);
std::vector<std::uint64_t> read_h5_uint64(const std::filesystem::path& file, const std::string& dataset);
std::vector<std::size_t> read_h5_shape(const std::filesystem::path& file, const std::string& dataset);

// Attributes of the group or dataset at `object` ("/" for the root).
std::string read_h5_string_attr(const std::filesystem::path& file, const std::string& object,
                                const std::string& attr);  // fixed- or variable-length
int read_h5_enum_attr(const std::filesystem::path& file, const std::string& object, const std::string& attr);
std::vector<std::uint64_t> read_h5_uint64_attr(const std::filesystem::path& file, const std::string& object,
                                               const std::string& attr);

}  // namespace gs::io
