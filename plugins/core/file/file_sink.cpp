#include "file/file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace switchyard::core {

FileSink::~FileSink() { stop(); }

Status FileSink::start() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return permanent("cannot open " + path_ + ": " + std::strerror(errno));
  return {};
}

void FileSink::deliver(EventPtr event, DeliveryCallback done) {
  line_.clear();
  append_json_line(*event, format_, false, line_);
  // O_APPEND makes each write land at the end, whole, even with other writers.
  std::size_t written = 0;
  while (written < line_.size()) {
    const ssize_t n = ::write(fd_, line_.data() + written, line_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return done(retryable("writing " + path_ + " failed: " + std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync_ && ::fsync(fd_) != 0) {
    return done(retryable("fsync " + path_ + " failed: " + std::strerror(errno)));
  }
  done({});
}

void FileSink::stop() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace switchyard::core
