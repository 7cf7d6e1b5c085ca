#pragma once
// A file appended to by path that follows the path: when the path no longer names the open
// file (moved or deleted, as logrotate does in its `create` mode) the file is reopened at
// the path, so new lines land in the new file. The path is compared (device and inode) at
// most once per `interval`, so a busy sink costs one stat() a second, not one per line.
// Separate from what the `file` sink writes: it only hands out the descriptor to write to.

#include <chrono>
#include <cstdint>
#include <string>

#include "switchyard/result.hpp"

namespace switchyard::core {

class ReopeningFile {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ReopeningFile(std::chrono::milliseconds interval = std::chrono::seconds(1)) : interval_(interval) {}
  ~ReopeningFile() { close(); }
  ReopeningFile(const ReopeningFile&) = delete;
  ReopeningFile& operator=(const ReopeningFile&) = delete;

  /// Opens (creates) `path` for appending. Permanent error when it cannot.
  Status open(const std::string& path);
  /// The descriptor to write to. At most once per interval, checks that the path still
  /// names the open file, and otherwise opens the file now at the path (creating it).
  /// Retryable error when that fails (the old descriptor is kept for the next try);
  /// `reopened` says a new file was opened by this call.
  Result<int> descriptor(bool& reopened);
  void close();

  const std::string& path() const { return path_; }
  std::uint64_t reopens() const { return reopens_; }

 private:
  // True when `path_` names another file than `fd_`, or none.
  bool moved() const;

  std::chrono::milliseconds interval_;
  std::string path_;
  int fd_ = -1;
  Clock::time_point checked_{};
  std::uint64_t reopens_ = 0;
};

}  // namespace switchyard::core
