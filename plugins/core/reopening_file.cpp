#include "reopening_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace switchyard::core {
namespace {

// The file holds payloads: created 0640, so other users cannot read it (the engine's group
// may: a log shipper), and the umask may take more.
int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

Status ReopeningFile::open(const std::string& path) {
  close();
  path_ = path;
  fd_ = open_for_append(path_);
  if (fd_ < 0) return permanent("cannot open " + path_ + ": " + std::strerror(errno));
  checked_ = Clock::now();
  return {};
}

bool ReopeningFile::moved() const {
  struct stat at_path {};
  struct stat open_file {};
  if (::stat(path_.c_str(), &at_path) != 0) return true;  // removed (or its directory is)
  if (::fstat(fd_, &open_file) != 0) return true;
  return at_path.st_dev != open_file.st_dev || at_path.st_ino != open_file.st_ino;
}

Result<int> ReopeningFile::descriptor(bool& reopened) {
  reopened = false;
  const auto now = Clock::now();
  if (fd_ >= 0 && now - checked_ < interval_) return fd_;
  checked_ = now;
  if (fd_ >= 0 && !moved()) return fd_;
  const int fd = open_for_append(path_);
  if (fd < 0) {
    checked_ = {};  // try again at the next write
    return retryable("reopening " + path_ + " (it was moved or removed) failed: " + std::strerror(errno));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  ++reopens_;
  reopened = true;
  return fd_;
}

void ReopeningFile::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace switchyard::core
