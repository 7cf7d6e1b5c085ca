// libFuzzer target for the event log's recovery (engine/journal/event_log.cpp): whatever
// bytes the segment files hold after a crash, a failing disk or an operator's mistake,
// opening the log must end without a crash or an unbounded allocation, either refusing
// (with a message naming a file) or accepting; an accepted log reads back every record it
// lists with its body intact, takes a new record after them, and opens again the same.
//
// The input is split into two segment files at a position taken from its first two bytes,
// so damage in an earlier segment (refused) and at the end of the last one (cut off) are
// both reached.
//
// Build (clang; tests/fuzz/run_fuzz.sh does this):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I engine -I sdk/include \
//     tests/fuzz/event_log_fuzz.cpp engine/journal/event_log.cpp engine/journal/event_log_open.cpp \
//     engine/journal/crc32c.cpp -lsqlite3 -o event_log_fuzz
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "journal/event_log.hpp"

namespace fs = std::filesystem;
using switchyard::journal::EventLog;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "event_log_fuzz: %s\n", what.c_str());
  std::abort();
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Seen {
  std::uint64_t seq;
  std::uint64_t location;
  std::string body;
};

std::vector<Seen> records(const EventLog& log) {
  std::vector<Seen> out;
  auto s = log.replay_after(0, [&](const EventLog::Record& r) -> switchyard::Status {
    out.push_back({r.seq, r.location, std::string(r.body)});
    return {};
  });
  if (!s) fail("replay_after on an accepted log: " + s.error().message);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t split = (static_cast<std::size_t>(data[0]) << 8 | data[1]) % (size - 1);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  char pattern[] = "/tmp/event-log-fuzz-XXXXXX";
  if (!::mkdtemp(pattern)) return 0;
  const fs::path dir(pattern);
  if (split > 0) {
    write_file(dir / "0000000001.log", bytes.substr(0, split));
    write_file(dir / "0000000002.log", bytes.substr(split));
  } else {
    write_file(dir / "0000000001.log", bytes);
  }
  {
    auto log = EventLog::open({.dir = dir, .fsync = false, .segment_bytes = 1 << 20});
    if (!log) {
      if (log.error().message.find(dir.string()) == std::string::npos) fail("a refusal names no file: " + log.error().message);
    } else {
      const auto seen = records(**log);
      std::uint64_t last = 0;
      for (const auto& r : seen) {
        if (r.seq <= last) fail("sequence numbers do not increase");
        last = r.seq;
        auto body = (*log)->read(r.location, r.seq);
        if (!body || !*body || **body != r.body) fail("a record it accepted does not read back");
      }
      if (last != (*log)->last_seq()) fail("last_seq() is not the last record's");
      const std::string fresh = "after recovery";
      auto at = (*log)->add(last + 1, 1, 1, fresh, "w");
      if (!at || !(*log)->sync()) fail("no record can be added after recovery");
      auto again = (*log)->read(*at, last + 1);
      if (!again || !*again || **again != fresh) fail("the new record does not read back");
      (*log).reset();
      auto reopened = EventLog::open({.dir = dir, .fsync = false, .segment_bytes = 1 << 20});
      if (!reopened) fail("a log it wrote is refused: " + reopened.error().message);
      if (records(**reopened).size() != seen.size() + 1) fail("reopened, it lists other records");
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
