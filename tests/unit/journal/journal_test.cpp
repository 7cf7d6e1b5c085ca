// The journal on its own: per-sink delivery state, dead letters and replays, state, the
// size cap, and refusing damaged files (the stored form of an event: codec_test.cpp).
#include "journal/journal.hpp"

#include <gtest/gtest.h>

#include <functional>

#include <fstream>
#include <future>
#include <map>

#include <unistd.h>

#include "journal/codec.hpp"
#include "journal/dead_letters.hpp"
#include "journal/lock.hpp"
#include "journal/sqlite.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

std::unique_ptr<Journal> open_journal(const std::filesystem::path& dir, std::uint64_t max_bytes = 0) {
  auto j = Journal::open(Options{.dir = dir, .max_bytes = max_bytes, .fsync = false});
  EXPECT_TRUE(j) << (j ? "" : j.error().message);
  return j ? std::move(*j) : nullptr;
}

// Appends and waits for the sequence number.
std::uint64_t append(Journal& j, std::int64_t pipeline, std::uint64_t mask, std::string body,
                     StateWrites writes = {}) {
  auto seq = test::try_append(j, pipeline, mask, std::move(body), std::move(writes));
  EXPECT_TRUE(seq) << (seq ? "" : seq.error().message);
  return seq ? *seq : 0;
}

using test::body_of;

std::vector<std::uint64_t> seqs(const Result<std::vector<Pending>>& rows) {
  std::vector<std::uint64_t> out;
  if (rows) {
    for (const auto& r : *rows) out.push_back(r.seq);
  }
  return out;
}

TEST(Journal, EachSinkHasItsOwnDeliveryState) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  auto key = j->attach("p", {"a", "b"}, true, nullptr);
  ASSERT_TRUE(key);
  const auto a = key->sink_bits[0], b = key->sink_bits[1];
  ASSERT_NE(a, b);
  const auto s1 = append(*j, key->id, a | b, body_of(1));
  const auto s2 = append(*j, key->id, a | b, body_of(2));
  const auto s3 = append(*j, key->id, b, body_of(3));  // a's if: said no
  EXPECT_LT(s1, s2);
  EXPECT_LT(s2, s3);
  j->complete(s1, a);
  j->complete(s2, b);
  j->flush();
  EXPECT_EQ(seqs(j->pending(key->id, a, 0, 100)), (std::vector<std::uint64_t>{s2}));
  EXPECT_EQ(seqs(j->pending(key->id, b, 0, 100)), (std::vector<std::uint64_t>{s1, s3}));
  EXPECT_EQ(seqs(j->pending(key->id, b, s1 + 1, 100)), (std::vector<std::uint64_t>{s3}));
  EXPECT_EQ(seqs(j->pending(key->id, b, 0, 1)), (std::vector<std::uint64_t>{s1}));
  // The body read back is the one stored.
  auto rows = j->pending(key->id, a, 0, 1);
  ASSERT_TRUE(rows);
  auto event = decode_event(rows->at(0).body);
  ASSERT_TRUE(event);
  EXPECT_EQ((*event)->data["n"].GetInt(), 2);
}

TEST(Journal, PendingDeliveriesAndSinkBitsSurviveReopening) {
  test::TempDir dir;
  std::uint64_t s2 = 0;
  std::uint64_t bit_b = 0;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a", "b"}, true, nullptr);
    ASSERT_TRUE(key);
    bit_b = key->sink_bits[1];
    const auto s1 = append(*j, key->id, key->sink_bits[0] | bit_b, body_of(1));
    s2 = append(*j, key->id, bit_b, body_of(2));
    j->complete(s1, key->sink_bits[0]);
    j->complete(s1, bit_b);
  }
  auto j = open_journal(dir.path());
  // Sinks in another order keep their bits; a new sequence number follows the old ones.
  auto key = j->attach("p", {"b", "a"}, true, nullptr);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->sink_bits[0], bit_b);
  EXPECT_EQ(seqs(j->pending(key->id, bit_b, 0, 100)), (std::vector<std::uint64_t>{s2}));
  EXPECT_GT(append(*j, key->id, bit_b, body_of(3)), s2);
  EXPECT_EQ(j->stats().appended, 1u);
}

TEST(Journal, ASinksFailedAttemptsSurviveReopeningAndGoWithTheDelivery) {
  test::TempDir dir;
  std::uint64_t s1 = 0, s2 = 0, a = 0, b = 0;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a", "b"}, true, nullptr);
    ASSERT_TRUE(key);
    a = key->sink_bits[0];
    b = key->sink_bits[1];
    s1 = append(*j, key->id, a | b, body_of(1));
    s2 = append(*j, key->id, a, body_of(2));
    j->attempted(s1, a, 1);
    j->attempted(s1, a, 2);  // the latest count wins
    j->attempted(s2, a, 4);
    j->attempted(s2, a, 5);
    j->complete(s2, a);  // delivered at last: its count goes with it
  }
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a", "b"}, true, nullptr);
    ASSERT_TRUE(key);
    auto rows_a = j->pending(key->id, a, 0, 100);
    ASSERT_TRUE(rows_a);
    ASSERT_EQ(rows_a->size(), 1u);
    EXPECT_EQ((*rows_a)[0].seq, s1);
    EXPECT_EQ((*rows_a)[0].attempts, 2u);
    auto rows_b = j->pending(key->id, b, 0, 100);
    ASSERT_TRUE(rows_b);
    ASSERT_EQ(rows_b->size(), 1u);
    EXPECT_EQ((*rows_b)[0].attempts, 0u) << "another sink's count is its own";
    j->complete(s1, a);
    j->complete(s1, b);
  }
  // Every event gone: a new event starts at 0 attempts.
  auto j = open_journal(dir.path());
  auto key = j->attach("p", {"a", "b"}, true, nullptr);
  ASSERT_TRUE(key);
  const auto again = append(*j, key->id, a, body_of(3));
  EXPECT_GT(again, s2) << "sequence numbers go on after the event log's last record";
  auto rows = j->pending(key->id, a, 0, 100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].attempts, 0u);
}

TEST(Journal, AVersion1JournalIsUpgradedInPlaceKeepingItsEvents) {
  test::TempDir dir;
  std::uint64_t s1 = 0, a = 0;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a"}, true, nullptr);
    ASSERT_TRUE(key);
    a = key->sink_bits[0];
    s1 = append(*j, key->id, a, body_of(1));
  }
  {
    // What a journal written before attempts were kept looks like.
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("DROP TABLE attempts; PRAGMA user_version = 1;"));
  }
  auto j = open_journal(dir.path());
  ASSERT_NE(j, nullptr);
  auto key = j->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  EXPECT_EQ(seqs(j->pending(key->id, a, 0, 100)), (std::vector<std::uint64_t>{s1}));
  j->attempted(s1, a, 3);
  j.reset();
  j = open_journal(dir.path());
  key = j->attach("p", {"a"}, true, nullptr);
  auto rows = j->pending(key->id, a, 0, 100);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].attempts, 3u);
}

TEST(Journal, DeliveriesOfARemovedSinkMoveToTheDeadLetterQueue) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"keep", "gone"}, true, nullptr);
    ASSERT_TRUE(key);
    append(*j, key->id, key->sink_bits[0] | key->sink_bits[1], body_of(1));
  }
  auto j = open_journal(dir.path());
  auto key = j->attach("p", {"keep"}, true, nullptr);
  ASSERT_TRUE(key);
  ASSERT_EQ(key->warnings.size(), 1u);
  EXPECT_NE(key->warnings[0].find("sink 'gone'"), std::string::npos) << key->warnings[0];
  EXPECT_EQ(seqs(j->pending(key->id, key->sink_bits[0], 0, 10)).size(), 1u);
  j.reset();
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq) << dlq.error().message;
  auto entries = dlq->list({});
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->at(0).sink, "gone");
  EXPECT_EQ(entries->at(0).event_id, "id-1");
  EXPECT_EQ(entries->at(0).type, "test.event");
  EXPECT_NE(entries->at(0).error.find("no longer in the pipeline"), std::string::npos);
}

TEST(Journal, DeadLettersKeepTheEventAndReplayToTheirSink) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  std::promise<Replay> replayed;
  auto key = j->attach("p", {"a", "b"}, true, [&](Replay r) { replayed.set_value(std::move(r)); });
  ASSERT_TRUE(key);
  const auto a = key->sink_bits[0], b = key->sink_bits[1];
  const auto seq = append(*j, key->id, a | b, body_of(7));
  j->dead_letter(Failure{.pipeline = "p", .sink = "a", .event_id = "id-7", .type = "test.event",
                         .error = "HTTP 400: bad", .attempts = 1},
                 seq, a, {});
  j->flush();
  EXPECT_TRUE(seqs(j->pending(key->id, a, 0, 10)).empty()) << "a is done with it";
  EXPECT_EQ(seqs(j->pending(key->id, b, 0, 10)).size(), 1u) << "b still wants it";

  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  auto entries = dlq->list({.sink = "a"});
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  const auto& d = entries->at(0);
  EXPECT_EQ(d.attempts, 1u);
  EXPECT_EQ(d.error, "HTTP 400: bad");
  auto full = dlq->get(d.id);
  ASSERT_TRUE(full && *full);
  EXPECT_EQ((*full)->body, body_of(7));
  EXPECT_TRUE(dlq->list({.pipeline = "other"})->empty());
  EXPECT_TRUE(dlq->list({.older_than = std::chrono::hours(1)})->empty());

  // Replay from "another process": the running journal notices and hands it back for "a".
  ASSERT_EQ(*dlq->replay({.ids = {d.id}}), 1);
  auto future = replayed.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const Replay r = future.get();
  EXPECT_EQ(r.sink, "a");
  EXPECT_GT(r.seq, seq);
  EXPECT_EQ(r.body, body_of(7));
  EXPECT_EQ(seqs(j->pending(key->id, a, 0, 10)), (std::vector<std::uint64_t>{r.seq}));
  EXPECT_EQ(*dlq->count(), 0);
}

// A memory pipeline holds a replayed dead letter only in memory: the entry stays in the DLQ,
// in flight, until the sink is done (issue 16, item 14). A pipeline that stops first, or an
// engine killed first, must not lose it.
TEST(Journal, AMemoryPipelinesReplayNotFinishedIsRequestedAgainAfterAStopOrACrash) {
  test::TempDir dir;
  std::int64_t entry = 0;
  {
    auto j = open_journal(dir.path());
    std::promise<Replay> first;
    auto key = j->attach("m", {"out"}, false, [&](Replay r) { first.set_value(std::move(r)); });
    ASSERT_TRUE(key);
    j->dead_letter(Failure{.pipeline = "m", .sink = "out", .event_id = "id-3", .type = "test.event",
                           .error = "HTTP 500", .attempts = 5},
                   0, 0, body_of(3));
    j->flush();
    auto dlq = DeadLetters::open(dir.path());
    ASSERT_TRUE(dlq);
    ASSERT_EQ(*dlq->replay({}), 1);
    auto got = first.get_future();
    ASSERT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const Replay r = got.get();
    EXPECT_EQ(r.seq, 0u) << "a memory pipeline: not journaled";
    ASSERT_NE(r.dlq_id, 0);
    entry = r.dlq_id;
    EXPECT_EQ(*dlq->count(), 1) << "the entry stays while the replay is in flight";

    // The pipeline stops before its sink delivered it: the replay is asked for again, and
    // the next version of the pipeline gets it.
    j->detach("m", key->token);
    j->requeue_replays(key->token);
    std::promise<Replay> second;
    auto next = j->attach("m", {"out"}, false, [&](Replay again) { second.set_value(std::move(again)); });
    ASSERT_TRUE(next);
    auto again = second.get_future();
    ASSERT_EQ(again.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(again.get().dlq_id, entry);
    EXPECT_EQ(*dlq->count(), 1);
    // Then the engine dies (no replay_done, no requeue): the journal closes as it is.
  }
  {
    auto j = open_journal(dir.path());
    std::promise<Replay> third;
    auto key = j->attach("m", {"out"}, false, [&](Replay r) { third.set_value(std::move(r)); });
    ASSERT_TRUE(key);
    auto got = third.get_future();
    ASSERT_EQ(got.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "asked for again at the next start";
    const Replay r = got.get();
    EXPECT_EQ(r.dlq_id, entry);
    EXPECT_EQ(r.body, body_of(3));
    // Delivered at last: the entry goes.
    j->replay_done(r.dlq_id);
    j->flush();
    EXPECT_EQ(*DeadLetters::open(dir.path())->count(), 0);
  }
}

TEST(Journal, ASecondJournalOnTheSameStateDirIsRefused) {
  test::TempDir dir;
  auto first = open_journal(dir.path());
  ASSERT_TRUE(first);
  auto second = Journal::open(Options{.dir = dir.path(), .fsync = false});
  ASSERT_FALSE(second) << "two engines would deliver every event twice";
  EXPECT_NE(second.error().message.find("in use by another engine (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.error().message;
  first.reset();
  EXPECT_TRUE(Journal::open(Options{.dir = dir.path(), .fsync = false})) << "the lock goes with its journal";
}

TEST(Journal, AdoptMovesAPipelinesUndeliveredEventsToTheDeadLetterQueuePerSink) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("gone", {"a", "b"}, true, nullptr);
    ASSERT_TRUE(key);
    const auto a = key->sink_bits[0], b = key->sink_bits[1];
    const auto first = append(*j, key->id, a | b, body_of(1));
    append(*j, key->id, a | b, body_of(2));
    append(*j, key->id, a | b, body_of(3));
    j->complete(first, a);  // a has delivered event 1; b has not
    auto kept = j->attach("kept", {"a"}, true, nullptr);
    ASSERT_TRUE(kept);
    append(*j, kept->id, kept->sink_bits[0], body_of(9));
    j->flush();
  }
  {
    // While an engine holds the journal, adoption is the CLI's to refuse (StateDirLock).
    auto lock = StateDirLock::take(dir.path());
    ASSERT_TRUE(lock) << lock.error().message;
    auto dlq = DeadLetters::open(dir.path());
    ASSERT_TRUE(dlq);
    EXPECT_EQ(*dlq->adopt("never-ran"), 0);
    ASSERT_EQ(*dlq->adopt("gone"), 5) << "a owed events 2 and 3, b owed all three";
    auto entries = dlq->list({.pipeline = "gone"});
    ASSERT_TRUE(entries);
    std::map<std::string, std::vector<std::string>> by_sink;
    for (const auto& e : *entries) {
      by_sink[e.sink].push_back(e.event_id);
      EXPECT_EQ(e.type, "test.event");
      EXPECT_EQ(e.error, "pipeline gone is no longer configured (moved by switchyard dlq adopt)");
    }
    EXPECT_EQ(by_sink["a"], (std::vector<std::string>{"id-2", "id-3"}));
    EXPECT_EQ(by_sink["b"], (std::vector<std::string>{"id-1", "id-2", "id-3"}));
    EXPECT_EQ((*dlq->get(entries->front().id))->body, body_of(2)) << "the entry keeps the whole event";
    EXPECT_EQ(*dlq->adopt("gone"), 0) << "a second adoption finds nothing";
  }
  auto j = open_journal(dir.path());
  auto again = j->attach("gone", {"a", "b"}, true, nullptr);
  ASSERT_TRUE(again);
  EXPECT_TRUE(seqs(j->pending(again->id, again->sink_bits[0], 0, 10)).empty());
  EXPECT_TRUE(seqs(j->pending(again->id, again->sink_bits[1], 0, 10)).empty());
  auto kept = j->attach("kept", {"a"}, true, nullptr);
  ASSERT_TRUE(kept);
  EXPECT_EQ(seqs(j->pending(kept->id, kept->sink_bits[0], 0, 10)).size(), 1u) << "another pipeline's events moved";
}

// Dead-letters `n` events of memory pipeline "p" (bodies stored as given), event i to sink
// sink_of(i), and closes the journal so that nothing takes replays from the queue.
void fill_dead_letters(const std::filesystem::path& dir, int n, const std::function<std::string(int)>& sink_of) {
  auto j = open_journal(dir);
  auto key = j->attach("p", {"a"}, false, nullptr);
  ASSERT_TRUE(key);
  for (int i = 0; i < n; ++i) {
    j->dead_letter(Failure{.pipeline = "p", .sink = sink_of(i), .error = "x", .attempts = 5}, 0,
                   key->sink_bits[0], body_of(i));
  }
  j->flush();
}

TEST(Journal, DropRemovesOnlyMatchingEntries) {
  test::TempDir dir;
  fill_dead_letters(dir.path(), 3, [](int i) { return i == 2 ? "b" : "a"; });
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  EXPECT_EQ(*dlq->drop({.sink = "a"}), 2);
  auto left = dlq->list({});
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->at(0).sink, "b");
  EXPECT_EQ((*dlq->get(left->at(0).id))->body, body_of(2));
}

TEST(Journal, LargeDropsAndReplaysWorkInChunksAndCountEachEntryOnce) {
  test::TempDir dir;
  fill_dead_letters(dir.path(), 2500, [](int i) { return i % 5 == 0 ? "b" : "a"; });  // replays stay marked
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  EXPECT_EQ(*dlq->replay({.sink = "a"}), 2000) << "more than one chunk of 1,000";
  EXPECT_EQ(*dlq->replay({.sink = "a"}), 0) << "already queued entries are not counted again";
  EXPECT_EQ(*dlq->replay({}), 500) << "only b's were left to queue";
  EXPECT_EQ(*dlq->drop({.sink = "a"}), 2000);
  EXPECT_EQ(*dlq->count(), 500);
  EXPECT_EQ(*dlq->drop({}), 500);
  EXPECT_EQ(*dlq->count(), 0);
}

TEST(Journal, StateWritesAreKeptWithTheirExpiry) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    j->write_state({.key = "p/c/forever", .value = "1"});
    j->write_state({.key = "p/c/later", .value = "2", .expires_ms = now + 3'600'000});
    j->write_state({.key = "p/c/expired", .value = "3", .expires_ms = now - 1});
    j->write_state({.key = "p/c/erased", .value = "4"});
    j->write_state({.key = "p/c/erased", .erase = true});
    // State captured with an event commits with it.
    auto key = j->attach("p", {"a"}, true, nullptr);
    append(*j, key->id, key->sink_bits[0], body_of(1), {{.key = "p/t/with-event", .value = "5"}});
  }
  auto j = open_journal(dir.path());
  auto entries = j->load_state();
  ASSERT_TRUE(entries);
  std::map<std::string, std::string> got;
  for (const auto& e : *entries) got[e.key] = e.value;
  EXPECT_EQ(got, (std::map<std::string, std::string>{
                     {"p/c/forever", "1"}, {"p/c/later", "2"}, {"p/t/with-event", "5"}}));
}

// Remembered keys (StateStore::remember) are fingerprints with an expiry, in a table of
// their own: written alone or with an event, loaded back unexpired, never as state entries.
// A version-3 journal (before the table) gets it on opening.
TEST(Journal, RememberedKeysAreKeptApartWithTheirExpiry) {
  test::TempDir dir;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string with_event(16, 'e'), alone(16, 'a'), forever(16, 'f'), expired(16, 'x');
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a"}, true, nullptr);
    append(*j, key->id, key->sink_bits[0], body_of(1),
           {{.key = with_event, .expires_ms = now + 3'600'000, .remember = true}});
    j->write_state({.key = alone, .expires_ms = now + 60'000, .remember = true});
    j->write_state({.key = forever, .remember = true});
    j->write_state({.key = expired, .expires_ms = now - 1, .remember = true});
  }
  {
    // What a journal written before remembered keys looks like.
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE kept AS SELECT * FROM remembered; DROP TABLE remembered; PRAGMA user_version = 3;"));
  }
  auto j = open_journal(dir.path());
  ASSERT_NE(j, nullptr);
  auto none = j->load_remembered();
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty()) << "the upgrade made an empty table";
  j.reset();
  {
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO remembered SELECT * FROM kept; DROP TABLE kept;"));
  }
  j = open_journal(dir.path());
  auto remembered = j->load_remembered();
  ASSERT_TRUE(remembered) << remembered.error().message;
  std::map<std::string, std::int64_t> got;
  for (const auto& r : *remembered) got[r.fingerprint] = r.expires_ms;
  EXPECT_EQ(got, (std::map<std::string, std::int64_t>{
                     {with_event, now + 3'600'000}, {alone, now + 60'000}, {forever, 0}}));
  auto entries = j->load_state();
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty()) << "a remembered key came back as a state entry";
}

// `switchyard dlq` on a journal an older version wrote says what to do and writes nothing:
// upgrading it would lock out the engine that still uses it.
TEST(Journal, TheDeadLetterCommandsDoNotUpgradeAnOlderJournal) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    ASSERT_NE(j, nullptr);
  }
  {
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("PRAGMA user_version = 4;"));
  }
  auto letters = DeadLetters::open(dir.path());
  ASSERT_FALSE(letters);
  EXPECT_NE(letters.error().message.find("journal version 4, from an older Switchyard"), std::string::npos)
      << letters.error().message;
  {
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    EXPECT_EQ(*db->scalar("PRAGMA user_version"), 4) << "left as it was";
  }
  auto j = open_journal(dir.path());  // the engine upgrades it
  ASSERT_NE(j, nullptr);
  j.reset();
  EXPECT_TRUE(DeadLetters::open(dir.path()));
}

TEST(Journal, IsFullAtMaxBytesAndNotOnceDeliveriesFreeSpace) {
  test::TempDir dir;
  auto j = open_journal(dir.path(), 256 * 1024);
  auto key = j->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  const std::string big(4096, 'x');
  std::vector<std::uint64_t> appended;
  while (!j->full() && appended.size() < 1000) {
    appended.push_back(append(*j, key->id, key->sink_bits[0], "{\"sy1\":1}\n\"" + big + "\""));
  }
  ASSERT_TRUE(j->full()) << "never reached 256 KiB";
  EXPECT_GE(j->stats().bytes_used, 256u * 1024);
  EXPECT_LT(appended.size(), 100u);
  for (auto seq : appended) j->complete(seq, key->sink_bits[0]);
  j->flush();
  EXPECT_FALSE(j->full());
}

TEST(Journal, RefusesAFileThatIsNotAJournal) {
  test::TempDir dir;
  dir.write(kJournalFile, std::string(8192, 'g'));
  auto j = Journal::open(Options{.dir = dir.path()});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("journal.db is damaged"), std::string::npos) << j.error().message;
  // And it was not overwritten.
  std::ifstream in(dir / kJournalFile, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, std::string(8192, 'g'));
}

TEST(Journal, RefusesATruncatedJournal) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a"}, true, nullptr);
    for (int i = 0; i < 2000; ++i) {
      j->append(key->id, key->sink_bits[0], body_of(i),
                {StateWrite{.key = "k" + std::to_string(i), .value = std::string(200, 'v')}}, nullptr);
    }
    j->flush();
  }  // closed cleanly: the WAL is checkpointed into journal.db
  const auto file = dir / kJournalFile;
  const auto size = std::filesystem::file_size(file);
  ASSERT_GT(size, 100'000u);
  std::filesystem::resize_file(file, size / 2);
  auto j = Journal::open(Options{.dir = dir.path()});
  ASSERT_FALSE(j) << "a journal missing half its pages was accepted";
  EXPECT_NE(j.error().message.find("is damaged"), std::string::npos) << j.error().message;
}

TEST(DeadLetters, NoJournalIsAClearError) {
  test::TempDir dir;
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_FALSE(dlq);
  EXPECT_NE(dlq.error().message.find("no journal at"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::journal

namespace switchyard::journal {
namespace {

using test::try_append;

// Issue 16, item 7: journal.db deleted under a running engine was written on, unlinked,
// and everything in it lost at the next start, with nothing refused.
TEST(JournalFiles, ADeletedJournalRefusesEventsSaysWhyAndSavesWhatItHeld) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  auto key = j->attach("p", {"s"}, true, nullptr);
  ASSERT_TRUE(key) << key.error().message;
  for (int i = 0; i < 3; ++i) append(*j, key->id, key->sink_bits[0], body_of(i));
  EXPECT_FALSE(j->problem());
  std::filesystem::remove(dir / "journal.db");

  auto refused = try_append(*j, key->id, key->sink_bits[0], body_of(3));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::retryable);
  EXPECT_NE(refused.error().message.find("journal unavailable: journal.db was deleted"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(j->full()) << "the ingress asks full() before appending";
  ASSERT_TRUE(j->problem());
  EXPECT_NE(j->problem()->find("journal.db was deleted while the engine ran"), std::string::npos) << *j->problem();

  // The copy holds the three events the lost file held.
  std::filesystem::path saved;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("journal.db.saved-")) saved = e.path();
  }
  ASSERT_FALSE(saved.empty());
  j.reset();
  test::TempDir restored;
  std::filesystem::copy_file(saved, restored / "journal.db");
  std::filesystem::copy(dir / kEventLogDir, restored / kEventLogDir);  // the bodies stay beside it
  auto again = open_journal(restored.path());
  ASSERT_TRUE(again);
  auto counts = again->pending_by_pipeline();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0], std::make_pair(std::string("p"), std::int64_t{3}));
}

TEST(JournalFiles, ADeletedWalIsCheckpointedIntoTheJournal) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  auto key = j->attach("p", {"s"}, true, nullptr);
  ASSERT_TRUE(key);
  for (int i = 0; i < 3; ++i) append(*j, key->id, key->sink_bits[0], body_of(i));
  std::filesystem::remove(dir / "journal.db-wal");
  EXPECT_FALSE(try_append(*j, key->id, key->sink_bits[0], body_of(3)));
  ASSERT_TRUE(j->problem());
  EXPECT_NE(j->problem()->find("journal.db-wal was deleted"), std::string::npos) << *j->problem();
  // journal.db itself now holds the three events (read without the engine's WAL).
  test::TempDir copy;
  std::filesystem::copy_file(dir / "journal.db", copy / "journal.db");
  std::filesystem::copy(dir / kEventLogDir, copy / kEventLogDir);
  j.reset();
  auto again = open_journal(copy.path());
  ASSERT_TRUE(again);
  auto counts = again->pending_by_pipeline();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].second, 3);
}

}  // namespace
}  // namespace switchyard::journal
