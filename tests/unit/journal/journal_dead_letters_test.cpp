// The journal's dead-letter queue: deliveries of a removed sink, replays to their sink,
// adopting a removed pipeline's events, drops and replays in chunks, and `switchyard dlq` on
// an older journal or none.
#include "journal/journal.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <map>

#include <unistd.h>

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

// A new version attaches (replacing) and then fails to start: the version still running
// takes replays again, instead of the replay waiting for a version that never came.
TEST(Journal, AVersionThatFailedToStartHandsReplaysBackToTheOneItWasReplacing) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  std::promise<Replay> to_old;
  bool to_new = false;
  auto old_key = j->attach("p", {"a"}, true, [&](Replay r) { to_old.set_value(std::move(r)); });
  ASSERT_TRUE(old_key);
  auto new_key = j->attach("p", {"a"}, true, [&](Replay) { to_new = true; }, /*replacing=*/true);
  ASSERT_TRUE(new_key);
  j->detach("p", new_key->token);  // its start failed
  const auto seq = append(*j, old_key->id, old_key->sink_bits[0], body_of(3));
  j->dead_letter(Failure{.pipeline = "p", .sink = "a", .event_id = "id-3", .error = "HTTP 400", .attempts = 1}, seq,
                 old_key->sink_bits[0], {});
  j->flush();
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  ASSERT_EQ(*dlq->replay({.pipeline = "p"}), 1);
  auto future = to_old.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "the replay was parked";
  EXPECT_EQ(future.get().body, body_of(3));
  EXPECT_FALSE(to_new);

  // A successful swap: the old version stops (detached), the new one keeps taking replays.
  std::promise<Replay> to_newest;
  auto newest = j->attach("p", {"a"}, true, [&](Replay r) { to_newest.set_value(std::move(r)); }, true);
  ASSERT_TRUE(newest);
  j->detach("p", old_key->token);
  const auto seq2 = append(*j, newest->id, newest->sink_bits[0], body_of(4));
  j->dead_letter(Failure{.pipeline = "p", .sink = "a", .event_id = "id-4", .error = "HTTP 400", .attempts = 1}, seq2,
                 newest->sink_bits[0], {});
  j->flush();
  ASSERT_EQ(*dlq->replay({.pipeline = "p"}), 1);
  auto next = to_newest.get_future();
  ASSERT_EQ(next.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(next.get().body, body_of(4));
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

TEST(DeadLetters, NoJournalIsAClearError) {
  test::TempDir dir;
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_FALSE(dlq);
  EXPECT_NE(dlq.error().message.find("no journal at"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::journal
