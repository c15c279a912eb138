#include "io/staged_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace gs::io {

staged_file::staged_file(std::filesystem::path final_path)
    : final_(std::move(final_path)), temp_(final_) {
  temp_ += ".part-" + std::to_string(::getpid());
}

staged_file::staged_file(staged_file&& other) noexcept
    : final_(std::move(other.final_)),
      temp_(std::move(other.temp_)),
      pending_(std::exchange(other.pending_, false)) {}

staged_file& staged_file::operator=(staged_file&& other) noexcept {
  if (this != &other) {
    discard();
    final_ = std::move(other.final_);
    temp_ = std::move(other.temp_);
    pending_ = std::exchange(other.pending_, false);
  }
  return *this;
}

staged_file::~staged_file() { discard(); }

void staged_file::commit() {
  // POSIX rename replaces the target atomically: readers see the old file or the new one.
  if (std::rename(temp_.c_str(), final_.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + temp_.string() + " to " + final_.string() + ": " +
                             std::strerror(errno));
  }
  pending_ = false;
}

void staged_file::discard() noexcept {
  if (pending_) {
    std::error_code ignored;  // the writer may never have created it
    std::filesystem::remove(temp_, ignored);
    pending_ = false;
  }
}

}  // namespace gs::io
