// The journal on its own: per-sink delivery state and attempts across reopening, upgrades
// of older journals, replays of memory pipelines, and the state-dir lock. Dead letters:
// journal_dead_letters_test.cpp; state and remembered keys: journal_state_test.cpp; the size
// cap and damaged or deleted files: journal_files_test.cpp; the stored form of an event:
// codec_test.cpp.
#include "journal/journal.hpp"

#include <gtest/gtest.h>

#include <future>

#include <unistd.h>

#include "journal/codec.hpp"
#include "journal/dead_letters.hpp"
#include "journal/lock.hpp"
#include "journal/sqlite.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using test::append;
using test::body_of;
using test::open_journal;
using test::seqs;
using test::try_append;

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

}  // namespace
}  // namespace switchyard::journal
