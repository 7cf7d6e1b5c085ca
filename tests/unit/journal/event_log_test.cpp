// The event log (issue 20): records read back as written, across reopening; a torn last
// record cut off and a damaged one refused; segments deleted whole; the journal keeping
// its bodies there; and a model test of the journal under random crashes against a
// reference kept in memory.
#include "journal/event_log.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "journal/codec.hpp"
#include "journal/crc32c.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "journal/sqlite.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using test::body_of;
using test::try_append;

std::unique_ptr<EventLog> open_log(const std::filesystem::path& dir, std::uint64_t segment_bytes = 1 << 20) {
  auto log = EventLog::open({.dir = dir, .fsync = false, .segment_bytes = segment_bytes});
  EXPECT_TRUE(log) << (log ? "" : log.error().message);
  return log ? std::move(*log) : nullptr;
}

std::string read_body(const EventLog& log, std::uint64_t location, std::uint64_t seq) {
  auto body = log.read(location, seq);
  if (!body) return "error: " + body.error().message;
  return *body ? **body : "gone";
}

// The files of `dir` named *<suffix>, in order: its segments, or its spares (".spare").
std::vector<std::filesystem::path> segments(const std::filesystem::path& dir, std::string_view suffix = ".log") {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ino_t inode(const std::filesystem::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_ino;
}

std::vector<std::uint64_t> replayed_seqs(const EventLog& log) {
  std::vector<std::uint64_t> out;
  EXPECT_TRUE(log.replay_after(0, [&](const EventLog::Record& r) {
    out.push_back(r.seq);
    return Status{};
  }));
  return out;
}

void flip_byte(const std::filesystem::path& file, std::uint64_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&c, 1);
}

TEST(Crc32c, MatchesThePublishedCheckValues) {
  // The CRC catalogue's check value, and RFC 3720 (iSCSI) B.4's vectors.
  EXPECT_EQ(crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(0, std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(0, std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c(0, ascending), 0x46DD794Eu);
  // In pieces as in one go.
  EXPECT_EQ(crc32c(crc32c(0, "12345"), "6789"), 0xE3069283u);
  // Long inputs (three streams at once) against the bitwise definition.
  auto bitwise = [](std::string_view data) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
      c ^= byte;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
  };
  std::mt19937 rng(7);
  std::string data(20'000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (std::size_t size : {0u, 7u, 767u, 768u, 769u, 1536u, 5000u, 8191u, 20'000u}) {
    for (std::size_t offset : {0u, 1u, 5u}) {
      const auto piece = std::string_view(data).substr(offset, std::min(size, data.size() - offset));
      EXPECT_EQ(crc32c(0, piece), bitwise(piece)) << size << " bytes at offset " << offset;
    }
  }
}

TEST(EventLog, RecordsReadBackAsWrittenAlsoAfterReopening) {
  test::TempDir dir;
  std::vector<std::pair<std::uint64_t, std::string>> written;
  {
    auto log = open_log(dir.path());
    ASSERT_TRUE(log);
    std::vector<std::string> bodies = {"first", std::string(100'000, 'x'), "", "last\nline"};
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      auto at = log->add(i + 1, 7, 3, bodies[i]);
      ASSERT_TRUE(at);
      written.emplace_back(*at, bodies[i]);
    }
    ASSERT_TRUE(log->sync());
    for (std::size_t i = 0; i < written.size(); ++i) {
      EXPECT_EQ(read_body(*log, written[i].first, i + 1), written[i].second);
    }
    EXPECT_NE(read_body(*log, written[0].first, 2).find("is not there"), std::string::npos)
        << "a location read for another event is an error, not its body";
  }
  auto log = open_log(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_seq(), 4u);
  for (std::size_t i = 0; i < written.size(); ++i) EXPECT_EQ(read_body(*log, written[i].first, i + 1), written[i].second);
}

// The journal writes an event's envelope and its received payload as two pieces of one
// record (the payload is not copied first): stored, checked and read back as one body.
TEST(EventLog, ABodyGivenInTwoPiecesIsOneRecord) {
  test::TempDir dir;
  const std::string head = "{\"sy1\":1,\"id\":\"a\"}\n";
  const std::string payload(9000, 'p');
  const StateWrites writes = {{.key = "k", .value = "v", .expires_ms = 5}};
  std::uint64_t at = 0;
  {
    auto log = open_log(dir.path());
    ASSERT_TRUE(log);
    at = *log->add(1, 7, 3, head, encode_state_writes(writes), payload);
    ASSERT_TRUE(log->add(2, 7, 3, "next"));
    ASSERT_TRUE(log->sync());
    EXPECT_EQ(read_body(*log, at, 1), head + payload);
  }
  auto log = open_log(dir.path());  // every record's CRC checked again
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_seq(), 2u);
  EXPECT_EQ(read_body(*log, at, 1), head + payload);
  std::vector<std::pair<std::string, std::string>> replayed;
  ASSERT_TRUE(log->replay_after(0, [&](const EventLog::Record& r) {
    replayed.emplace_back(std::string(r.body), std::string(r.writes));
    return Status{};
  }));
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].first, head + payload);
  auto decoded = decode_state_writes(replayed[0].second);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0].key, "k");
  EXPECT_EQ(replayed[1].first, "next");
}

TEST(EventLog, ABatchThatDidNotCommitLeavesNothing) {
  test::TempDir dir;
  auto log = open_log(dir.path());
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->add(1, 1, 1, "kept"));
  ASSERT_TRUE(log->sync());
  const auto size = std::filesystem::file_size(segments(dir.path()).at(0));
  ASSERT_TRUE(log->add(2, 1, 1, "not committed"));
  log->discard();
  ASSERT_TRUE(log->sync());  // nothing queued
  EXPECT_EQ(std::filesystem::file_size(segments(dir.path()).at(0)), size);
  log.reset();
  log = open_log(dir.path());
  EXPECT_EQ(log->last_seq(), 1u);
}

// A crash in the middle of writing a batch leaves part of a record at the end of the last
// segment: cut off at open, and the log goes on from the last whole record.
TEST(EventLog, ATornLastRecordIsCutOffAndTheLogGoesOn) {
  for (std::uint64_t cut : {1u, 16u, 31u, 32u, 33u, 500u}) {
    test::TempDir dir;
    std::uint64_t first = 0;
    {
      auto log = open_log(dir.path());
      first = *log->add(1, 1, 1, "whole");
      const std::string second(1000, 't');
      ASSERT_TRUE(log->add(2, 1, 1, second));
      ASSERT_TRUE(log->sync());
    }
    const auto file = segments(dir.path()).at(0);
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - cut);
    auto log = open_log(dir.path());
    ASSERT_TRUE(log) << "cut " << cut;
    EXPECT_EQ(log->last_seq(), 1u);
    EXPECT_EQ(std::filesystem::file_size(file), EventLog::kHeaderBytes + 5) << "cut " << cut;
    EXPECT_EQ(read_body(*log, first, 1), "whole");
    auto next = log->add(3, 1, 1, "after");
    ASSERT_TRUE(log->sync());
    EXPECT_EQ(read_body(*log, *next, 3), "after");
  }
  // Garbage after the last record (a write that never finished its header) goes the same way.
  test::TempDir dir;
  {
    auto log = open_log(dir.path());
    ASSERT_TRUE(log->add(1, 1, 1, "whole"));
    ASSERT_TRUE(log->sync());
  }
  {
    std::ofstream f(segments(dir.path()).at(0), std::ios::app | std::ios::binary);
    f << std::string(100, '\0') << "partial";
  }
  auto log = open_log(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->last_seq(), 1u);
}

// Damage anywhere a crash cannot leave it: refused, naming the file and the byte, and
// nothing is cut or deleted.
TEST(EventLog, ADamagedRecordIsRefusedNamingTheFileAndTheByte) {
  test::TempDir dir;
  std::vector<std::uint64_t> at;
  {
    auto log = open_log(dir.path(), 4096);
    std::vector<std::string> bodies;  // add() keeps a view until sync()
    for (std::uint64_t seq = 1; seq <= 6; ++seq) bodies.emplace_back(1500, static_cast<char>('a' + seq));
    for (std::uint64_t seq = 1; seq <= 6; ++seq) at.push_back(*log->add(seq, 1, 1, bodies[seq - 1]));
    ASSERT_TRUE(log->sync());
  }
  auto files = segments(dir.path());
  ASSERT_GE(files.size(), 2u) << "4 KiB segments hold two of these records each";
  // The middle record of the last segment, with a good one after it.
  {
    test::TempDir copy;
    std::filesystem::copy(dir.path(), copy.path(), std::filesystem::copy_options::recursive);
    const auto last = segments(copy.path()).back();
    const auto size = std::filesystem::file_size(last);
    flip_byte(last, EventLog::kHeaderBytes + 10);
    auto log = EventLog::open({.dir = copy.path(), .fsync = false, .segment_bytes = 4096});
    ASSERT_FALSE(log);
    EXPECT_NE(log.error().message.find(last.string() + " is damaged at byte 0"), std::string::npos) << log.error().message;
    EXPECT_EQ(std::filesystem::file_size(last), size) << "nothing cut";
  }
  // The last record of an earlier segment.
  flip_byte(files[0], std::filesystem::file_size(files[0]) - 1);
  auto log = EventLog::open({.dir = dir.path(), .fsync = false, .segment_bytes = 4096});
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find(files[0].string() + " is damaged at byte " + std::to_string(1500 + EventLog::kHeaderBytes)),
            std::string::npos)
      << log.error().message;
  EXPECT_EQ(segments(dir.path()), files);
}

TEST(EventLog, SegmentsGoWholeOnceNothingRefersToThem) {
  test::TempDir dir;
  auto log = open_log(dir.path(), 4096);
  std::vector<std::uint64_t> at;
  const std::string body(1500, 'x');
  for (std::uint64_t seq = 1; seq <= 8; ++seq) at.push_back(*log->add(seq, 1, 1, body));
  ASSERT_TRUE(log->sync());
  ASSERT_EQ(segments(dir.path()).size(), 4u);
  EXPECT_EQ(log->live_bytes(at[0]), 8 * (1500 + EventLog::kHeaderBytes));
  auto deletion = log->release(at[4], false);  // seq 5 is the oldest still wanted: segments 1 and 2 go
  EXPECT_EQ(read_body(*log, at[0], 1), "gone") << "released: gone before its file is deleted";
  ASSERT_TRUE(deletion);
  EXPECT_TRUE(deletion().empty());
  EXPECT_EQ(segments(dir.path()).size(), 2u);
  EXPECT_EQ(read_body(*log, at[0], 1), "gone");
  EXPECT_EQ(read_body(*log, at[4], 5), std::string(1500, 'x'));
  EXPECT_EQ(log->live_bytes(at[4]), 4 * (1500 + EventLog::kHeaderBytes));
  deletion = log->release(std::nullopt, true);  // nothing wanted: only the segment being written stays
  ASSERT_TRUE(deletion);
  EXPECT_TRUE(deletion().empty());
  EXPECT_EQ(segments(dir.path()).size(), 1u);
  EXPECT_EQ(log->live_bytes(std::nullopt), 0u);
}

// Released segments are kept (EventLog::kSpares at most) and written over as the next ones: the file
// system allocates no blocks for them. What a reused file held before is never read back
// as a record: not after a clean stop, not after a crash at any point, not through an old
// location.
TEST(EventLog, ReleasedSegmentsAreWrittenOverAndTheirOldRecordsNeverComeBack) {
  test::TempDir dir;
  auto log = open_log(dir.path(), 4096);
  std::vector<std::uint64_t> at;
  const std::string big(1500, 'o');  // two to a segment
  const std::uint64_t released = EventLog::kSpares + 1;
  std::uint64_t seq = 0;
  while (seq < 2 * (released + 1)) at.push_back(*log->add(++seq, 1, 1, big));
  ASSERT_TRUE(log->sync());
  auto reader = EventLog::reader(dir.path());  // as `switchyard dlq` reads bodies, holding the file open
  EXPECT_EQ(read_body(*reader, at[2], 3), big);
  auto deletion = log->release(at[2 * released], false);  // all but the last segment go
  ASSERT_TRUE(deletion);
  EXPECT_TRUE(deletion().empty());
  const auto spares = segments(dir.path(), ".spare");
  ASSERT_EQ(spares.size(), EventLog::kSpares) << "kept up to kSpares, the rest deleted";
  std::set<ino_t> spare_inodes;
  for (const auto& f : spares) spare_inodes.insert(inode(f));
  EXPECT_EQ(segments(dir.path()).size(), 1u);

  // Small records now, until every spare is a segment again: each reused file holds old
  // records after the new ones.
  const std::string small(300, 'n');
  std::vector<std::uint64_t> live = {seq - 1, seq};
  std::map<std::uint64_t, std::uint64_t> fresh;  // seq → location
  while (!segments(dir.path(), ".spare").empty() && fresh.size() < 500) {
    ++seq;
    fresh[seq] = *log->add(seq, 1, 1, small);
    live.push_back(seq);
    ASSERT_TRUE(log->sync());
  }
  ASSERT_TRUE(segments(dir.path(), ".spare").empty());
  std::set<ino_t> used;
  for (const auto& f : segments(dir.path())) used.insert(inode(f));
  for (ino_t i : spare_inodes) EXPECT_EQ(used.count(i), 1u) << "a spare became a segment";
  EXPECT_EQ(read_body(*log, at[2], 3), "gone");
  EXPECT_EQ(read_body(*reader, at[2], 3), "gone") << "an old location in a file written over";
  EXPECT_EQ(replayed_seqs(*log), live);

  // A crash now (the files as they are, the last one as long as it was).
  {
    test::TempDir crash;
    std::filesystem::copy(dir.path(), crash.path(), std::filesystem::copy_options::recursive);
    auto copy = open_log(crash.path(), 4096);
    ASSERT_TRUE(copy);
    EXPECT_EQ(replayed_seqs(*copy), live);
    EXPECT_TRUE(copy->take_warnings().empty()) << "the old records after the new ones are no unfinished write";
    for (const auto& [n, location] : fresh) EXPECT_EQ(read_body(*copy, location, n), small);
  }
  // Everything delivered; the next segment starts on a spare and the engine stops before
  // its first record is written: nothing of the spare's past is read as a record, although
  // no earlier record is left to compare sequence numbers with.
  // (Idle with nothing wanted, a segment grown past its size is replaced by the next one.)
  const std::string large(5000, 'l');
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(log->add(++seq, 1, 1, large));
    ASSERT_TRUE(log->sync());
    deletion = log->release(std::nullopt, true);
    ASSERT_TRUE(deletion);
    EXPECT_TRUE(deletion().empty());
  }
  ASSERT_EQ(segments(dir.path()).size(), 1u);
  EXPECT_GT(std::filesystem::file_size(segments(dir.path()).at(0)), 0u) << "the segment being written is a reused file";
  EXPECT_TRUE(replayed_seqs(*log).empty());
  {
    test::TempDir crash;
    std::filesystem::copy(dir.path(), crash.path(), std::filesystem::copy_options::recursive);
    auto copy = open_log(crash.path(), 4096);
    ASSERT_TRUE(copy);
    EXPECT_TRUE(replayed_seqs(*copy).empty()) << "a record of the file's earlier use came back";
    EXPECT_EQ(copy->last_seq(), 0u);
  }
  ASSERT_TRUE(log->add(++seq, 1, 1, small));
  ASSERT_TRUE(log->sync());
  log.reset();  // a clean stop
  EXPECT_EQ(std::filesystem::file_size(segments(dir.path()).at(0)), EventLog::kHeaderBytes + small.size())
      << "cut to its one record";
  log = open_log(dir.path(), 4096);
  ASSERT_TRUE(log);
  EXPECT_TRUE(log->take_warnings().empty());
  EXPECT_EQ(replayed_seqs(*log), std::vector<std::uint64_t>{seq});
  EXPECT_EQ(log->last_seq(), seq);
}

// A record as the test writes it: `segment` 0 is how versions before segments were used
// again wrote them.
std::string record_bytes(std::uint64_t seq, std::uint32_t segment, std::string_view body) {
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

// Segments an older version wrote (records naming no segment) are read, and this version
// goes on in them; in a segment this version began, bytes shaped like such a record (a
// payload of a file's earlier use could hold them) are not a record.
TEST(EventLog, OlderVersionsRecordsAreReadOnlyInSegmentsItBegan) {
  test::TempDir dir;
  {
    std::ofstream f(dir / "0000000001.log", std::ios::binary);
    f << record_bytes(1, 0, "old one") << record_bytes(2, 0, "old two");
  }
  {
    auto log = open_log(dir.path());
    ASSERT_TRUE(log);
    EXPECT_EQ(replayed_seqs(*log), (std::vector<std::uint64_t>{1, 2}));
    ASSERT_TRUE(log->add(3, 1, 1, "new"));
    ASSERT_TRUE(log->sync());
  }
  auto log = open_log(dir.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(replayed_seqs(*log), (std::vector<std::uint64_t>{1, 2, 3}));
  log.reset();

  // Records naming their segment, from before the log had a key: checked with none.
  test::TempDir unkeyed;
  {
    std::ofstream f(unkeyed / "0000000003.log", std::ios::binary);
    f << record_bytes(7, 3, "numbered") << record_bytes(8, 3, "unkeyed");
  }
  log = open_log(unkeyed.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(replayed_seqs(*log), (std::vector<std::uint64_t>{7, 8}));
  EXPECT_TRUE(log->take_warnings().empty());
  log.reset();

  test::TempDir fresh;
  {
    auto log = open_log(fresh.path());
    ASSERT_TRUE(log->add(1, 1, 1, "mine"));
    ASSERT_TRUE(log->sync());
  }
  {
    std::ofstream f(fresh / "0000000001.log", std::ios::binary | std::ios::app);
    f << record_bytes(2, 0, "forged");
  }
  log = open_log(fresh.path());
  ASSERT_TRUE(log);
  EXPECT_EQ(replayed_seqs(*log), std::vector<std::uint64_t>{1});
  EXPECT_EQ(log->last_seq(), 1u);
}

// Records are checked with the log's key: bytes written without it — a record of this very
// segment made up by whoever does not know the key — are not a record.
TEST(EventLog, BytesWrittenWithoutTheKeyAreNoRecord) {
  test::TempDir dir;
  {
    auto log = EventLog::open({.dir = dir.path(), .fsync = false});
    ASSERT_TRUE(log);
    ASSERT_TRUE((*log)->add(1, 1, 1, "mine"));
    ASSERT_TRUE((*log)->sync());
  }
  {
    std::ofstream f(dir / "0000000001.log", std::ios::binary | std::ios::app);
    f << record_bytes(2, 1, "made up");
  }
  auto log = EventLog::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(log);
  EXPECT_EQ(replayed_seqs(**log), std::vector<std::uint64_t>{1});
  EXPECT_EQ((*log)->last_seq(), 1u);
}

// A batch written over a reused file can reach the disk in any order when the power goes:
// a record that does not check with good ones after it. Where no row refers, that is the
// batch that was never acknowledged: cut off. Where a row refers, it is damage: refused,
// nothing cut.
TEST(EventLog, ABatchCutShortOutOfOrderIsCutOffWhereNoRowRefers) {
  test::TempDir dir;
  std::vector<std::uint64_t> at;
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) bodies.emplace_back(200, static_cast<char>('a' + i));
  {
    auto log = open_log(dir.path());
    for (std::uint64_t seq = 1; seq <= 2; ++seq) at.push_back(*log->add(seq, 1, 1, bodies[seq - 1]));
    ASSERT_TRUE(log->sync());
    for (std::uint64_t seq = 3; seq <= 5; ++seq) at.push_back(*log->add(seq, 1, 1, bodies[seq - 1]));
    ASSERT_TRUE(log->sync());
  }
  const auto file = segments(dir.path()).at(0);
  const auto size = std::filesystem::file_size(file);
  flip_byte(file, (at[2] & ((std::uint64_t{1} << 40) - 1)) + EventLog::kHeaderBytes + 10);  // record 3's body
  using Committed = EventLog::Committed;
  auto open_with = [&](const std::filesystem::path& d, std::optional<Committed> committed) {
    return EventLog::open({.dir = d, .fsync = false, .committed = committed});
  };
  const std::string damaged = " is damaged at byte " + std::to_string(at[2] & ((std::uint64_t{1} << 40) - 1));
  const std::vector<std::pair<std::optional<Committed>, std::string>> refused = {
      {std::nullopt, "journal.db not asked"},
      {Committed{.referenced_end = at[3] + 1, .seq = 4}, "a row refers to record 4"},
      {Committed{.referenced_end = at[2] + 1, .seq = 3}, "a row refers to record 3 itself"},
      {Committed{.referenced_end = 0, .seq = 4}, "no row is left, but record 4 was committed (delivered since)"},
  };
  for (const auto& [committed, why] : refused) {
    test::TempDir copy;
    std::filesystem::copy(dir.path(), copy.path(), std::filesystem::copy_options::recursive);
    auto log = open_with(copy.path(), committed);
    ASSERT_FALSE(log) << why;
    EXPECT_NE(log.error().message.find(damaged), std::string::npos) << log.error().message;
    EXPECT_EQ(std::filesystem::file_size(segments(copy.path()).at(0)), size) << "nothing cut: " << why;
  }
  auto log = open_with(dir.path(), Committed{.referenced_end = at[1] + 1, .seq = 2});  // records 1 and 2 at most
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ((*log)->last_seq(), 2u);
  const auto warnings = (*log)->take_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("a batch of records the previous run did not finish writing"), std::string::npos) << warnings[0];
  EXPECT_EQ(std::filesystem::file_size(file), at[2] & ((std::uint64_t{1} << 40) - 1));
  EXPECT_EQ(read_body(**log, at[1], 2), bodies[1]);
  auto next = (*log)->add(3, 1, 1, "again");
  ASSERT_TRUE((*log)->sync());
  EXPECT_EQ(read_body(**log, *next, 3), "again");
}

// ---------------------------------------------------------------------------------------
// The journal with its bodies in the log.

std::size_t log_files(const std::filesystem::path& state) { return segments(state / kEventLogDir).size(); }

// journal.db and its WAL in `from` copied to `to` (no -shm: SQLite rebuilds it from the WAL).
void copy_journal_db(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::create_directories(to);
  std::filesystem::copy_file(from / kJournalFile, to / kJournalFile, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(to / "journal.db-wal");
  if (std::filesystem::exists(from / "journal.db-wal")) {
    std::filesystem::copy_file(from / "journal.db-wal", to / "journal.db-wal");
  }
}

TEST(JournalEventLog, BodiesAreWrittenOnceToTheLogAndItsSegmentsGoOnceDelivered) {
  test::TempDir dir;
  auto j = Journal::open({.dir = dir.path(), .fsync = false, .segment_bytes = 64 * 1024});
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 100; ++i) seqs.push_back(*try_append(**j, key->id, key->sink_bits[0], body_of(i, 4000)));
  (*j)->flush();
  EXPECT_GE(log_files(dir.path()), 6u) << "400 KB of bodies in 64 KiB segments";
  {
    auto db = sql::Db::open(dir / kJournalFile, false);
    ASSERT_TRUE(db);
    EXPECT_EQ(*db->scalar("SELECT count(*) FROM events WHERE loc IS NOT NULL AND length(body) = 0"), 100)
        << "journal.db keeps rows, not bodies";
  }
  auto pending = (*j)->pending(key->id, key->sink_bits[0], 0, 1000);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 100u);
  EXPECT_EQ((*pending)[42].body, body_of(42, 4000));
  for (auto seq : seqs) (*j)->complete(seq, key->sink_bits[0]);
  (*j)->flush();
  // The writer lets segments go at most every kReleaseInterval.
  for (int i = 0; i < 250 && log_files(dir.path()) > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(log_files(dir.path()), 1u) << "delivered: only the segment being written stays";
  EXPECT_EQ((*j)->stats().bytes_used < 100'000u, true);
}

// With fsync on, a segment goes only once journal.db is synced past the rows that pointed
// into it: by a checkpoint. A writer that never rests has them all run on the checkpoint
// thread (an idle writer runs its own), and what they made durable still lets segments go.
TEST(JournalEventLog, SegmentsGoWhileTheWriterNeverRests) {
  test::TempDir dir;
  auto j = Journal::open({.dir = dir.path(), .fsync = true, .segment_bytes = 64 * 1024, .checkpoint_pages = 20});
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  const std::uint64_t bit = key->sink_bits[0];
  // An event still wanted when the idle writer checkpoints: from then on, as far as a power
  // cut is concerned, it holds every segment from its own on, until a later checkpoint.
  const auto first = try_append(**j, key->id, bit, body_of(0, 4000));
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past kPollInterval: idle
  (*j)->complete(*first, bit);
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int failed = 0;
  std::size_t most = 0;
  bool went = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // Always 16 appends in flight, each completed as soon as it is committed, until segments
  // have gone (the writer lets them go at most every kReleaseInterval) or 20 s have passed.
  for (int i = 1; !went && std::chrono::steady_clock::now() < until; ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return in_flight < 16; });
      ++in_flight;
    }
    (*j)->append(key->id, bit, body_of(i, 4000), {}, [&](Result<std::uint64_t> seq) {
      if (seq) (*j)->complete(*seq, bit);
      std::lock_guard lock(mutex);
      if (!seq) ++failed;
      --in_flight;
      changed.notify_all();
    });
    if (i % 16 == 0) {
      const std::size_t now = log_files(dir.path());
      most = std::max(most, now);
      went = most >= 4 && now < most;
    }
  }
  EXPECT_TRUE(went) << "no segment went while the writer was busy (most at once: " << most << ")";
  (*j)->flush();
  std::lock_guard lock(mutex);
  EXPECT_EQ(failed, 0);
}

// A power cut leaves journal.db as of its last checkpoint plus, possibly, a prefix of its
// unsynced WAL: a row committed after a checkpoint that found none can come back although
// the commit that ended its delivery did not. Its segment must still be there then, or the
// journal refuses to open ("the segment holding ... is missing").
TEST(JournalEventLog, ARowAPowerCutCanBringBackKeepsItsSegment) {
  test::TempDir dir;
  // One record per segment; no checkpoint but the idle writer's.
  const Options options{.dir = dir.path(), .fsync = true, .segment_bytes = 4096, .checkpoint_pages = 1'000'000};
  std::uint64_t first = 0;
  {
    auto j = Journal::open(options);
    ASSERT_TRUE(j) << j.error().message;
    auto key = (*j)->attach("p", {"a"}, true, nullptr);
    ASSERT_TRUE(key);
    const std::uint64_t bit = key->sink_bits[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // idle: checkpointed, no row
    auto appended = try_append(**j, key->id, bit, body_of(1, 3000));
    ASSERT_TRUE(appended);
    first = *appended;
    copy_journal_db(dir.path(), dir / "then");  // what a power cut may leave of journal.db
    (*j)->complete(first, bit);
    // Busy for 1.5 s (segments are let go every kReleaseInterval), every event delivered.
    // Paced, so the segments are few enough to copy before the writer, idle, checkpoints
    // (after which no power cut brings the first row back).
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    for (int i = 2; std::chrono::steady_clock::now() < until; ++i) {
      auto seq = try_append(**j, key->id, bit, body_of(i, 3000));
      ASSERT_TRUE(seq);
      (*j)->complete(*seq, bit);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    (*j)->flush();
    // The power cut, now: the log as it is, journal.db as copied.
    std::filesystem::create_directories(dir / "cut" / kEventLogDir);
    for (const auto& entry : std::filesystem::directory_iterator(dir / kEventLogDir)) {
      std::error_code error;
      std::filesystem::copy_file(entry.path(), dir / "cut" / kEventLogDir / entry.path().filename(), error);
      ASSERT_TRUE(!error || error == std::errc::no_such_file_or_directory) << error.message();
    }
    copy_journal_db(dir / "then", dir / "cut");
  }
  auto cut = options;
  cut.dir = dir / "cut";
  auto j = Journal::open(cut);
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  auto pending = (*j)->pending(key->id, key->sink_bits[0], 0, 1000);
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_FALSE(pending->empty()) << "the first event's row came back";
  EXPECT_EQ(pending->front().seq, first);
  EXPECT_EQ(pending->front().body, body_of(1, 3000)) << "delivered again, at least once";
}

TEST(JournalEventLog, ADeletedSegmentRefusesEventsAndIsWrittenBack) {
  test::TempDir dir;
  auto j = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(j);
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(try_append(**j, key->id, key->sink_bits[0], body_of(i, 10)));
  const auto file = segments(dir / kEventLogDir).at(0);
  std::filesystem::remove(file);
  auto refused = try_append(**j, key->id, key->sink_bits[0], body_of(3, 10));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("was deleted"), std::string::npos) << refused.error().message;
  ASSERT_TRUE((*j)->problem());
  EXPECT_TRUE(std::filesystem::exists(file)) << "written back from the descriptor still open";
  j->reset();
  auto again = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(again) << again.error().message;
  key = (*again)->attach("p", {"a"}, true, nullptr);
  auto pending = (*again)->pending(key->id, key->sink_bits[0], 0, 100);
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_EQ(pending->size(), 3u);
  EXPECT_EQ((*pending)[2].body, body_of(2, 10));
}

TEST(JournalEventLog, AJournalWhoseLogIsMissingIsRefusedNotEmptied) {
  test::TempDir dir;
  {
    auto j = Journal::open({.dir = dir.path(), .fsync = false});
    auto key = (*j)->attach("p", {"a"}, true, nullptr);
    ASSERT_TRUE(try_append(**j, key->id, key->sink_bits[0], body_of(1, 10)));
  }
  std::filesystem::rename(dir / kEventLogDir, dir / "events.aside");
  auto j = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("which is missing"), std::string::npos) << j.error().message;
  EXPECT_EQ(segments(dir / "events.aside").size(), 1u);
}

// The journal tells the two apart by its rows: a record that does not check with whole
// ones after it is damage while a row refers to it or after it (refused, nothing cut),
// and the unfinished batch of a power cut when journal.db lost that batch's rows too.
TEST(JournalEventLog, DamageUnderARowIsRefusedAnUnfinishedBatchIsCutOff) {
  test::TempDir dir;
  std::vector<std::uint64_t> locations;
  {
    auto j = Journal::open({.dir = dir.path(), .fsync = false});
    auto key = (*j)->attach("p", {"a"}, true, nullptr);
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(try_append(**j, key->id, key->sink_bits[0], body_of(i, 500)));
  }
  {
    auto db = sql::Db::open(dir / kJournalFile, false);
    auto rows = db->prepare("SELECT loc FROM events ORDER BY seq");
    while (rows->step() == SQLITE_ROW) locations.push_back(static_cast<std::uint64_t>(rows->integer(0)));
  }
  ASSERT_EQ(locations.size(), 3u);
  const auto offset = [](std::uint64_t location) { return location & ((std::uint64_t{1} << 40) - 1); };
  const auto file = segments(dir / kEventLogDir).at(0);
  flip_byte(file, offset(locations[1]) + EventLog::kHeaderBytes + 20);  // event 2's body
  const auto size = std::filesystem::file_size(file);
  {
    auto j = Journal::open({.dir = dir.path(), .fsync = false});
    ASSERT_FALSE(j) << "rows refer to events 2 and 3";
    EXPECT_NE(j.error().message.find(file.string() + " is damaged at byte " + std::to_string(offset(locations[1]))),
              std::string::npos)
        << j.error().message;
    EXPECT_EQ(std::filesystem::file_size(file), size) << "nothing cut";
  }
  // As after a power cut that took events 2 and 3's commit from journal.db while their
  // batch was reaching the log: nobody heard of them.
  {
    auto db = sql::Db::open(dir / kJournalFile, false);
    ASSERT_TRUE(db->exec("DELETE FROM events WHERE seq > 1; DELETE FROM remembered; UPDATE marks SET value = 1 WHERE name = 'logged'"));
  }
  auto j = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(std::filesystem::file_size(file), offset(locations[1]));
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  auto pending = (*j)->pending(key->id, key->sink_bits[0], 0, 100);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].body, body_of(1, 500));
  ASSERT_TRUE(try_append(**j, key->id, key->sink_bits[0], body_of(4, 10)));
}

// Once every event is delivered and its segments let go, the log is empty: sequence
// numbers still go on after the last one journal.db committed (a power cut may bring its
// rows back; the redo after one compares numbers).
TEST(JournalEventLog, SequenceNumbersGoOnAfterTheLogIsEmpty) {
  test::TempDir dir;
  const Options options{.dir = dir.path(), .fsync = false, .segment_bytes = 4096};
  std::uint64_t last = 0;
  {
    auto j = Journal::open(options);
    ASSERT_TRUE(j) << j.error().message;
    auto key = (*j)->attach("p", {"a"}, true, nullptr);
    for (int i = 1; i <= 3; ++i) {
      auto seq = try_append(**j, key->id, key->sink_bits[0], body_of(i, 5000));
      ASSERT_TRUE(seq);
      last = *seq;
      (*j)->complete(*seq, key->sink_bits[0]);
    }
    (*j)->flush();
    // Nothing pending: the segments go, the one being written replaced too (when nothing
    // was added since the last look).
    auto replaced = [&] {
      const auto files = segments(dir / kEventLogDir);
      return files.size() == 1 && files[0].filename() > "0000000003.log";
    };
    for (int i = 0; i < 200 && !replaced(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
      (*j)->flush();  // a commit: the writer looks again
    }
    ASSERT_TRUE(replaced());
  }
  {
    auto log = EventLog::open({.dir = dir / kEventLogDir, .fsync = false});
    ASSERT_TRUE(log);
    ASSERT_EQ((*log)->last_seq(), 0u) << "the log holds nothing now";
  }
  auto j = Journal::open(options);
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  auto next = try_append(**j, key->id, key->sink_bits[0], body_of(4, 10));
  ASSERT_TRUE(next);
  EXPECT_GT(*next, last);
}

// Migration: a journal written before the event log (version 2) keeps each body in its row.
// Opened by this version, those events are delivered from there; new ones go to the log.
TEST(JournalEventLog, AVersion2JournalsEventsAreDeliveredFromTheirRows) {
  test::TempDir dir;
  {
    auto db = sql::Db::open(dir / kJournalFile, true);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE pipelines(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE sinks(pipeline INTEGER NOT NULL, name TEXT NOT NULL, bit INTEGER NOT NULL, "
        "  PRIMARY KEY (pipeline, name)) WITHOUT ROWID;"
        "CREATE TABLE events(seq INTEGER PRIMARY KEY, pipeline INTEGER NOT NULL, pending INTEGER NOT NULL, "
        "  body BLOB NOT NULL);"
        "CREATE TABLE dlq(id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline TEXT NOT NULL, sink TEXT NOT NULL, "
        "  event_id TEXT NOT NULL, type TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL, "
        "  failed_at INTEGER NOT NULL, replay INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL);"
        "CREATE TABLE attempts(seq INTEGER NOT NULL, bit INTEGER NOT NULL, count INTEGER NOT NULL, "
        "  PRIMARY KEY (seq, bit)) WITHOUT ROWID;"
        "CREATE TABLE state(key TEXT PRIMARY KEY, value BLOB NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO pipelines VALUES (1, 'p');"
        "INSERT INTO sinks VALUES (1, 'a', 0), (1, 'b', 1);"
        "PRAGMA user_version = 2;"));
    auto ins = db->prepare("INSERT INTO events VALUES (?, 1, ?, ?)");
    ASSERT_TRUE(ins);
    ins->bind(1, std::int64_t{7}).bind(2, std::int64_t{3}).bind_blob(3, body_of(7, 100));
    ASSERT_TRUE(ins->run());
  }
  auto j = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);  // sink b removed: its delivery to the DLQ
  ASSERT_TRUE(key) << key.error().message;
  const auto fresh = try_append(**j, key->id, key->sink_bits[0], body_of(8, 100));
  ASSERT_TRUE(fresh);
  EXPECT_GT(*fresh, 7u);
  auto pending = (*j)->pending(key->id, key->sink_bits[0], 0, 100);
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].body, body_of(7, 100));
  EXPECT_EQ((*pending)[1].body, body_of(8, 100));
  (*j)->flush();
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  auto entries = dlq->list({}, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].event_id, "id-7");
}

// A dead letter and an adopted pipeline take their bodies from the log.
TEST(JournalEventLog, DeadLettersAndAdoptionCopyTheBodyFromTheLog) {
  test::TempDir dir;
  auto j = Journal::open({.dir = dir.path(), .fsync = false});
  ASSERT_TRUE(j);
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  auto gone = (*j)->attach("old", {"x"}, true, nullptr);
  ASSERT_TRUE(key && gone);
  const auto s1 = *try_append(**j, key->id, key->sink_bits[0], body_of(1, 50));
  ASSERT_TRUE(try_append(**j, gone->id, gone->sink_bits[0], body_of(2, 50)));
  (*j)->dead_letter(Failure{.pipeline = "p", .sink = "a", .event_id = "id-1", .type = "test.event", .error = "no"}, s1,
                    key->sink_bits[0], {});
  (*j)->flush();
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  ASSERT_EQ(*dlq->adopt("old"), 1);
  auto entries = dlq->list({}, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  for (const auto& e : *entries) {
    auto full = dlq->get(e.id);
    ASSERT_TRUE(full && *full);
    EXPECT_EQ((**full).body, body_of(e.event_id == "id-1" ? 1 : 2, 50)) << e.event_id;
  }
}

// The model test: random appends (bodies of many sizes, one or two sinks, a delivery id
// written with each), completions, attempts and dead letters, with a "crash" now and then:
// the state dir copied as it is on disk between batches (what kill -9 leaves), sometimes
// with a batch written to the log whose transaction never committed, or part of one; and
// sometimes a power cut: the log as it is but journal.db as it was at an earlier flush (its
// commits are not synced; the log is). The copy, opened, must hold every acknowledged event
// some sink has not finished, with its body and its delivery id, and nothing else but
// deliveries finished after journal.db's copy (made again: at least once).
// The key records of segment `number` in the log `dir` are checked with (events/key).
std::uint32_t key_of(const std::filesystem::path& dir, std::uint32_t number) {
  std::ifstream in(dir / "key");
  std::uint32_t key = 0, from = 0;
  in >> key >> from;
  return in && number >= from ? key : 0;
}

// Where the records of segment `number` end in `file` (what follows may be bytes the file
// held before it was used again).
std::uint64_t records_end(const std::filesystem::path& file, std::uint32_t number, std::uint32_t key) {
  std::ifstream in(file, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t at = 0, last_seq = 0;
  while (data.size() - at >= EventLog::kHeaderBytes) {
    std::uint32_t size = 0, crc = 0, writes = 0, segment = 0;
    std::uint64_t seq = 0;
    std::memcpy(&size, data.data() + at, 4);
    std::memcpy(&crc, data.data() + at + 4, 4);
    std::memcpy(&seq, data.data() + at + 8, 8);
    std::memcpy(&writes, data.data() + at + 32, 4);
    std::memcpy(&segment, data.data() + at + 36, 4);
    const std::uint64_t total = EventLog::kHeaderBytes + std::uint64_t{size} + writes;
    if (segment != number || seq <= last_seq || total > data.size() - at ||
        crc != crc32c(key, std::string_view(data).substr(at + 8, total - 8))) {
      break;
    }
    last_seq = seq;
    at += total;
  }
  return at;
}

TEST(JournalEventLog, AfterRandomCrashesAndPowerCutsItHoldsWhatTheReferenceHolds) {
  std::size_t spares_seen = 0;  // segments kept to be written over, seen between steps
  for (unsigned seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    test::TempDir root;
    auto state = root / "run";
    const Options options{.dir = state, .fsync = true, .segment_bytes = 16 * 1024};
    auto opened = Journal::open(options);
    ASSERT_TRUE(opened);
    auto j = std::move(*opened);
    auto key = *j->attach("p", {"a", "b"}, true, nullptr);
    const std::uint64_t a = key.sink_bits[0], b = key.sink_bits[1];
    std::map<std::uint64_t, std::pair<std::uint64_t, std::string>> reference;  // seq → (sinks left, body)
    std::map<std::uint64_t, std::string> bodies;                                // every event appended
    std::set<std::string> delivery_ids;
    // journal.db as at the last flush, and what finished since.
    std::optional<std::filesystem::path> db_copy;
    std::set<std::filesystem::path> segments_then;
    std::set<std::pair<std::uint64_t, std::uint64_t>> finished_since;
    const auto copy_db = copy_journal_db;
    int n = 0;
    for (int step = 0; step < 300; ++step) {
      spares_seen += segments(state / kEventLogDir, ".spare").size();
      const auto op = pick(10);
      if (op < 5) {
        const std::uint64_t mask = pick(3) == 0 ? a | b : (pick(2) ? a : b);
        const std::size_t size = pick(4) == 0 ? 20'000 + pick(20'000) : pick(2000);
        std::string body = body_of(++n, size);
        const std::string id = "delivery/" + std::to_string(n);
        std::promise<Result<std::uint64_t>> done;
        auto f = done.get_future();
        j->append(key.id, mask, body, {StateWrite{.key = id, .value = "1"}},
                  [&](Result<std::uint64_t> seq) { done.set_value(std::move(seq)); });
        auto seq = f.get();
        ASSERT_TRUE(seq) << seq.error().message;
        ASSERT_EQ(bodies.count(*seq), 0u) << "a sequence number used twice";
        reference[*seq] = {mask, body};
        bodies[*seq] = body;
        delivery_ids.insert(id);
      } else if (op < 8 && !reference.empty()) {
        auto it = std::next(reference.begin(), static_cast<long>(pick(reference.size())));
        const std::uint64_t bit = (it->second.first & a) && (!(it->second.first & b) || pick(2)) ? a : b;
        if (op == 7) {
          j->dead_letter(Failure{.pipeline = "p", .sink = bit == a ? "a" : "b", .error = "model"}, it->first, bit, {});
        } else {
          if (pick(2)) j->attempted(it->first, bit, 1);
          j->complete(it->first, bit);
        }
        finished_since.emplace(it->first, bit);
        it->second.first &= ~bit;
        if (it->second.first == 0) reference.erase(it);
      } else if (op == 8) {
        j->flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(pick(3) * 30));  // lets the writer release segments
        copy_db(state, root / "db-then");
        db_copy = root / "db-then";
        segments_then.clear();
        for (auto& f : segments(state / kEventLogDir)) segments_then.insert(f.filename());
        finished_since.clear();
      } else {
        j->flush();
        const auto copy = root / ("crash" + std::to_string(step));
        // A power cut: journal.db as at the last flush, while no segment it needs has gone
        // since (a segment is deleted only after journal.db is synced).
        // (The log is copied first: segments are deleted on another thread, which may take
        // one between listing and copying it; no row refers to such a segment any more.)
        std::filesystem::create_directories(copy / kEventLogDir);
        for (const auto& entry : std::filesystem::directory_iterator(state / kEventLogDir)) {
          std::error_code error;
          std::filesystem::copy_file(entry.path(), copy / kEventLogDir / entry.path().filename(), error);
          ASSERT_TRUE(!error || error == std::errc::no_such_file_or_directory) << error.message();
        }
        bool power_cut = db_copy && pick(2) == 0;
        for (const auto& f : segments_then) power_cut = power_cut && std::filesystem::exists(copy / kEventLogDir / f);
        copy_db(power_cut ? *db_copy : state, copy);
        const auto files = segments(copy / kEventLogDir);
        if (const auto torn = pick(4); torn > 0 && !files.empty()) {
          // Records the log got (whole, cut short, or one not checking with a whole one
          // after it: a batch written over a reused file reaches the disk in any order) whose
          // transaction never committed and that nobody heard of: no sinks, so nothing to
          // deliver.
          // Written where the engine would write next: at the end of the last segment's
          // records, over what the file held before when it is a spare used again.
          const auto& last = files.back();
          const std::uint32_t number = static_cast<std::uint32_t>(std::stoul(last.filename().string().substr(0, 10)));
          std::fstream f(last, std::ios::in | std::ios::out | std::ios::binary);
          const std::uint32_t key = key_of(copy / kEventLogDir, number);
          f.seekp(static_cast<std::streamoff>(records_end(last, number, key)));
          unsigned char header[EventLog::kHeaderBytes] = {};
          const std::string body = body_of(-1, 300);
          const std::uint64_t seq = bodies.empty() ? 1'000'000 : bodies.rbegin()->first + 1'000'000;
          const auto size = static_cast<std::uint32_t>(body.size());
          std::memcpy(header, &size, 4);
          std::memcpy(header + 8, &seq, 8);
          std::memcpy(header + 36, &number, 4);
          const std::uint32_t crc =
              crc32c(crc32c(key, {reinterpret_cast<char*>(header) + 8, EventLog::kHeaderBytes - 8}), body);
          std::memcpy(header + 4, &crc, 4);
          std::string record(reinterpret_cast<char*>(header), sizeof header);
          record += body;
          if (torn == 3) {
            std::string bad = record;
            bad[EventLog::kHeaderBytes + pick(body.size())] ^= 0x5a;
            std::string next = record;
            const std::uint64_t after = seq + 1;
            std::memcpy(next.data() + 8, &after, 8);
            const std::uint32_t next_crc = crc32c(crc32c(key, {next.data() + 8, EventLog::kHeaderBytes - 8}), body);
            std::memcpy(next.data() + 4, &next_crc, 4);
            f << bad << next;
          } else {
            f << (torn == 1 ? record : record.substr(0, pick(record.size())));
          }
        }
        j.reset();
        auto again_options = options;
        again_options.dir = copy;
        auto reopened = Journal::open(again_options);
        ASSERT_TRUE(reopened) << "seed " << seed << " step " << step << ": " << reopened.error().message;
        j = std::move(*reopened);
        key = *j->attach("p", {"a", "b"}, true, nullptr);
        ASSERT_EQ(key.sink_bits[0], a);
        state = copy;
        const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step) +
                                  (power_cut ? " (power cut)" : "");
        for (std::uint64_t bit : {a, b}) {
          auto rows = j->pending(key.id, bit, 0, 100'000);
          ASSERT_TRUE(rows) << rows.error().message;
          std::set<std::uint64_t> got;
          for (auto& r : *rows) {
            got.insert(r.seq);
            ASSERT_EQ(r.body, bodies[r.seq]) << where << ": the body of event " << r.seq;
            const auto it = reference.find(r.seq);
            const bool owed = it != reference.end() && (it->second.first & bit);
            ASSERT_TRUE(owed || (power_cut && finished_since.count({r.seq, bit})))
                << where << ": event " << r.seq << " is pending again for a sink that finished it";
          }
          for (auto& [seq, entry] : reference) {
            if (entry.first & bit) {
              ASSERT_EQ(got.count(seq), 1u) << where << ": event " << seq << " is lost";
            }
          }
          // Deliveries made again are finished again (the model goes on from here).
          for (auto seq : got) {
            const auto it = reference.find(seq);
            if (it == reference.end() || !(it->second.first & bit)) j->complete(seq, bit);
          }
        }
        auto stored = j->load_state();
        ASSERT_TRUE(stored);
        std::set<std::string> keys;
        for (auto& e : *stored) keys.insert(e.key);
        for (const auto& id : delivery_ids) ASSERT_EQ(keys.count(id), 1u) << where << ": delivery id " << id << " is lost";
        db_copy.reset();
        finished_since.clear();
      }
    }
  }
  EXPECT_GT(spares_seen, 0u) << "the model never had a segment used again";
}

}  // namespace
}  // namespace switchyard::journal
