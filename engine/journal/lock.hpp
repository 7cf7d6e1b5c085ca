#pragma once
// Internal: an engine's claim on its state.dir. Two engines on one journal would deliver
// every event twice and fight over its rows; the second one is refused at start instead.

#include <filesystem>

#include "switchyard/result.hpp"

namespace switchyard::journal {

/// An exclusive lock (flock) on `engine.lock` in a state.dir, which holds the owner's pid.
/// The kernel releases it when the process ends, however it ends: no stale lock after a
/// crash.
class StateDirLock {
 public:
  /// Takes the lock, or fails naming the process that holds it.
  static Result<StateDirLock> take(const std::filesystem::path& dir);

  StateDirLock(StateDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateDirLock& operator=(StateDirLock&& other) noexcept;
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  ~StateDirLock();

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

inline constexpr const char* kLockFile = "engine.lock";

}  // namespace switchyard::journal
