#pragma once
// Internal to the event log (event_log.cpp, event_log_open.cpp): the record header, its
// CRC, file helpers, and what the log keeps of each segment.

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "journal/crc32c.hpp"
#include "journal/event_log.hpp"

namespace switchyard::journal {

static_assert(std::endian::native == std::endian::little, "the event log is written little-endian");

namespace event_log_detail {

constexpr std::uint64_t kOffsetMask = (std::uint64_t{1} << 40) - 1;
// A log with nothing left in it is started afresh once its segment has grown this big.
constexpr std::uint64_t kRestartBytes = std::uint64_t{4} << 20;

template <class T>
inline void put(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof value);
}
template <class T>
inline T get(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

struct Header {
  std::uint32_t size = 0;
  std::uint32_t crc = 0;
  std::uint64_t seq = 0;
  std::int64_t pipeline = 0;
  std::uint64_t mask = 0;
  std::uint32_t writes = 0;
  std::uint32_t segment = 0;  // written to (0: by a version before segments were used again)
  std::uint64_t total() const { return EventLog::kHeaderBytes + std::uint64_t{size} + writes; }
};

inline Header parse(const unsigned char* h) {
  return {get<std::uint32_t>(h), get<std::uint32_t>(h + 4), get<std::uint64_t>(h + 8), get<std::int64_t>(h + 16),
          get<std::uint64_t>(h + 24), get<std::uint32_t>(h + 32), get<std::uint32_t>(h + 36)};
}

// Over the header after the CRC, the body and the state writes, from `key` (0 for records
// naming no segment: older versions').
inline std::uint32_t record_crc(std::uint32_t key, const unsigned char* header, std::string_view body, std::string_view writes,
                         std::string_view body_rest = {}) {
  const std::uint32_t c = crc32c(key, {reinterpret_cast<const char*>(header) + 8, EventLog::kHeaderBytes - 8});
  return crc32c(crc32c(crc32c(c, body), body_rest), writes);
}

inline std::string errno_text(int error) { return std::strerror(error); }

inline bool pread_all(int fd, char* out, std::size_t n, std::uint64_t offset) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

inline Status sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return retryable(dir.string() + ": " + errno_text(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return retryable(dir.string() + ": fsync: " + errno_text(error));
  return {};
}

// "0000000042.log" → 42 (or "0000000042.spare" with that suffix); nullopt for any other name.
inline std::optional<std::uint32_t> segment_number(const std::string& name, std::string_view suffix = ".log") {
  if (name.size() != 10 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  std::uint32_t n = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 10, n);
  if (ec != std::errc() || end != name.data() + 10 || n == 0) return std::nullopt;
  return n;
}

inline std::filesystem::path numbered(const std::filesystem::path& dir, std::uint32_t number, const char* suffix) {
  char name[32];
  std::snprintf(name, sizeof name, "%010u%s", number, suffix);
  return dir / name;
}


}  // namespace event_log_detail

struct EventLog::Segment {
  std::uint32_t number = 0;
  std::filesystem::path path;
  int fd = -1;
  std::uint64_t size = 0;  // bytes written (the active one: durable ones)
  std::uint64_t allocated = 0;  // bytes the file has (more than `size` when it is used again)
  std::uint64_t first_seq = 0, last_seq = 0;  // of the records in it (0: none)
  bool legacy = false;  // holds records of an older version (segment 0): never used again
  dev_t dev = 0;
  ino_t ino = 0;
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace switchyard::journal
