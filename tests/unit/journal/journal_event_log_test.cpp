// The journal with its bodies in the event log (issue 20): written once and let go once
// delivered (journal_checkpoint_test.cpp: while the writer never rests); what a power cut can bring back keeps its
// segment; deleted or missing segments; damage told from an unfinished batch by what
// journal.db knows; sequence numbers that go on; version-2 journals; dead letters; and a
// model test of the journal under random crashes and power cuts against a reference kept
// in memory.
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

#include "event_log_helpers.hpp"
#include "journal/codec.hpp"
#include "journal/crc32c.hpp"
#include "journal/dead_letters.hpp"
#include "journal/event_log.hpp"
#include "journal/journal.hpp"
#include "journal/sqlite.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using namespace log_test;
using test::body_of;
using test::try_append;

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
