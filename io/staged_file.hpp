// A file written under a temporary name in the same folder and renamed onto its final name only
// when complete, so an interrupted run never leaves a half-written file under the final name.
#pragma once

#include <filesystem>

namespace gs::io {

class staged_file {
 public:
  // The temporary name is final + ".part-<pid>": same folder, so the rename cannot cross devices.
  explicit staged_file(std::filesystem::path final_path);
  staged_file(staged_file&& other) noexcept;
  staged_file& operator=(staged_file&& other) noexcept;
  staged_file(const staged_file&) = delete;
  staged_file& operator=(const staged_file&) = delete;
  ~staged_file();  // removes the temporary file unless committed

  const std::filesystem::path& temp() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }

  // Renames temp() onto final_path(), replacing any file there; throws std::runtime_error.
  void commit();

 private:
  void discard() noexcept;

  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool pending_ = true;  // false once committed or moved from: nothing left to clean up
};

}  // namespace gs::io
