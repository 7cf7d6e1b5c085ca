// The event log (issue 20): records read back as written, across reopening; a torn last
// record cut off and a damaged one refused; segments deleted whole, kept as spares and
// written over; records of older versions, and bytes not written with the log's key. The
// journal over it: journal_event_log_test.cpp.
#include "journal/event_log.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>

#include "event_log_helpers.hpp"
#include "journal/codec.hpp"
#include "journal/crc32c.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using namespace log_test;

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

}  // namespace
}  // namespace switchyard::journal
