#pragma once
// Helpers of the event log's tests (event_log_test.cpp, journal_event_log_test.cpp).

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "journal/crc32c.hpp"
#include "journal/event_log.hpp"

namespace switchyard::journal::log_test {

inline std::unique_ptr<EventLog> open_log(const std::filesystem::path& dir, std::uint64_t segment_bytes = 1 << 20) {
  auto log = EventLog::open({.dir = dir, .fsync = false, .segment_bytes = segment_bytes});
  EXPECT_TRUE(log) << (log ? "" : log.error().message);
  return log ? std::move(*log) : nullptr;
}

inline std::string read_body(const EventLog& log, std::uint64_t location, std::uint64_t seq) {
  auto body = log.read(location, seq);
  if (!body) return "error: " + body.error().message;
  return *body ? **body : "gone";
}

// The files of `dir` named *<suffix>, in order: its segments, or its spares (".spare").
inline std::vector<std::filesystem::path> segments(const std::filesystem::path& dir, std::string_view suffix = ".log") {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The segments of the event log in the state dir `state` (a journal's).
inline std::size_t log_files(const std::filesystem::path& state) { return segments(state / "events").size(); }

inline ino_t inode(const std::filesystem::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_ino;
}

inline std::vector<std::uint64_t> replayed_seqs(const EventLog& log) {
  std::vector<std::uint64_t> out;
  EXPECT_TRUE(log.replay_after(0, [&](const EventLog::Record& r) {
    out.push_back(r.seq);
    return Status{};
  }));
  return out;
}

inline void flip_byte(const std::filesystem::path& file, std::uint64_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

// A record as the test writes it: `segment` 0 is how versions before segments were used
// again wrote them.
inline std::string record_bytes(std::uint64_t seq, std::uint32_t segment, std::string_view body) {
  unsigned char header[EventLog::kHeaderBytes] = {};
  const auto size = static_cast<std::uint32_t>(body.size());
  const std::uint64_t mask = 1;
  const std::int64_t pipeline = 1;
  std::memcpy(header, &size, 4);
  std::memcpy(header + 8, &seq, 8);
  std::memcpy(header + 16, &pipeline, 8);
  std::memcpy(header + 24, &mask, 8);
  std::memcpy(header + 36, &segment, 4);
  const std::uint32_t crc = crc32c(crc32c(0, {reinterpret_cast<char*>(header) + 8, EventLog::kHeaderBytes - 8}), body);
  std::memcpy(header + 4, &crc, 4);
  return std::string(reinterpret_cast<char*>(header), sizeof header) + std::string(body);
}

}  // namespace switchyard::journal::log_test
