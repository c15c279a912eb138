// SciPy sparse matrices as .npz files (the layout scipy.sparse.save_npz writes and load_npz reads:
// an uncompressed zip of .npy arrays indices, indptr, format, shape, data), written through a
// staged_file so a file appears only when complete.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>

namespace gs::io {

// A CSR matrix of shape rows x columns: row r holds indices[indptr[r] .. indptr[r+1]) with data.
void write_csr_npz(const std::filesystem::path& path, std::uint64_t rows, std::uint64_t columns,
                   std::span<const std::int64_t> indptr, std::span<const std::int32_t> indices,
                   std::span<const std::int32_t> data);

}  // namespace gs::io
