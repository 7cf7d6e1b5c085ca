// The dead-letter queue read as a feed (Context::dead_letters(), the `dlq` source): the
// journal's reads in id order from a cursor, the notice after a commit, entries an operator
// removed, and the engine's feed that brings results back on a component's strand.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "journal/codec.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "runtime/dead_letter_feed.hpp"
#include "runtime/io.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Journal> open_journal(const std::filesystem::path& dir) {
  auto j = Journal::open(Options{.dir = dir, .fsync = false});
  EXPECT_TRUE(j) << (j ? "" : j.error().message);
  return j ? std::move(*j) : nullptr;
}

std::string body_of(const std::string& id) {
  Event e;
  e.id = id;
  e.type = "test.event";
  e.source = "test://feed";
  e.data.SetObject();
  e.data.AddMember("n", 1, e.allocator());
  return encode_event(e);
}

// A failure of a memory pipeline's event (nothing journaled: the body is stored).
void fail(Journal& j, const std::string& pipeline, const std::string& event_id, std::string body = {}) {
  j.dead_letter(Failure{.pipeline = pipeline, .sink = "out", .event_id = event_id, .type = "test.event",
                        .error = "HTTP 400 from the server", .attempts = 3},
                0, 0, body.empty() ? body_of(event_id) : std::move(body));
}

Result<std::vector<DeadLetter>> read(Journal& j, std::int64_t after, std::size_t limit) {
  std::promise<Result<std::vector<DeadLetter>>> done;
  auto f = done.get_future();
  j.read_dead_letters(after, limit, [&](Result<std::vector<DeadLetter>> rows) { done.set_value(std::move(rows)); });
  return f.get();
}

std::int64_t newest(Journal& j) {
  std::promise<Result<std::int64_t>> done;
  auto f = done.get_future();
  j.newest_dead_letter([&](Result<std::int64_t> id) { done.set_value(std::move(id)); });
  auto id = f.get();
  EXPECT_TRUE(id) << (id ? "" : id.error().message);
  return id ? *id : -1;
}

std::vector<std::string> event_ids(const Result<std::vector<DeadLetter>>& rows) {
  std::vector<std::string> out;
  if (rows) {
    for (const auto& r : *rows) out.push_back(r.event_id);
  }
  return out;
}

TEST(DeadLetterFeedReads, InRecordedOrderFromACursorUpToALimit) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  EXPECT_EQ(newest(*j), 0);
  for (const char* id : {"a", "b", "c", "d"}) fail(*j, "p", id);
  j->flush();
  auto all = read(*j, 0, 10);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(event_ids(all), (std::vector<std::string>{"a", "b", "c", "d"}));
  ASSERT_EQ(all->size(), 4u);
  EXPECT_LT((*all)[0].id, (*all)[1].id);
  EXPECT_EQ((*all)[0].pipeline, "p");
  EXPECT_EQ((*all)[0].sink, "out");
  EXPECT_EQ((*all)[0].error, "HTTP 400 from the server");
  EXPECT_EQ((*all)[0].attempts, 3u);
  EXPECT_GT((*all)[0].failed_at_ms, 0);
  auto event = decode_event((*all)[0].body);
  ASSERT_TRUE(event);
  EXPECT_EQ((**event).id, "a");

  EXPECT_EQ(event_ids(read(*j, (*all)[0].id, 2)), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(event_ids(read(*j, (*all)[3].id, 10)), std::vector<std::string>{});
  EXPECT_EQ(newest(*j), (*all)[3].id);
}

TEST(DeadLetterFeedReads, EntriesDroppedOrReplayedAreNotSeenAndIdsAreNotReused) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  for (const char* id : {"a", "b", "c"}) fail(*j, "p", id);
  j->flush();
  auto all = read(*j, 0, 10);
  ASSERT_TRUE(all && all->size() == 3u);
  auto dlq = DeadLetters::open(dir.path());
  ASSERT_TRUE(dlq);
  ASSERT_EQ(dlq->drop(DeadLetterFilter{.ids = {(*all)[1].id, (*all)[2].id}}).value(), 2);
  // A replay asked for by an operator (its pipeline is not running here, so it stays marked).
  ASSERT_EQ(dlq->replay(DeadLetterFilter{.ids = {(*all)[0].id}}).value(), 1);
  EXPECT_EQ(event_ids(read(*j, 0, 10)), std::vector<std::string>{});
  // The newest id still counts the dropped entries: a reader starting there sees only new ones.
  EXPECT_EQ(newest(*j), (*all)[2].id);
  fail(*j, "p", "d");
  j->flush();
  auto after = read(*j, 0, 10);
  ASSERT_TRUE(after && after->size() == 1u);
  EXPECT_GT((*after)[0].id, (*all)[2].id);
}

TEST(DeadLetterFeedReads, TheNoticeComesOnceTheEntryIsCommitted) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  // Read from inside the notice: the entry must already be visible to the reader.
  std::promise<Result<std::vector<DeadLetter>>> seen;
  auto f = seen.get_future();
  Journal* journal = j.get();
  j->when_dead_lettered([&, journal] {
    journal->read_dead_letters(0, 10, [&](Result<std::vector<DeadLetter>> rows) { seen.set_value(std::move(rows)); });
  });
  fail(*j, "p", "a");
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(event_ids(f.get()), (std::vector<std::string>{"a"}));
}

TEST(DeadLetterFeedReads, TheNoticeIsOneShotAndOnlyForDeadLetters) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  std::atomic<int> notices{0};
  j->when_dead_lettered([&] { ++notices; });
  j->write_state(StateWrite{.key = "k", .value = "v"});
  j->flush();
  EXPECT_EQ(notices, 0);
  fail(*j, "p", "a");
  fail(*j, "p", "b");
  j->flush();
  EXPECT_EQ(notices, 1);
}

TEST(DeadLetterFeedReads, SinksRemovedFromAPipelineTellTheFeed) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  auto key = j->attach("p", {"a", "b"}, true, [](Replay) {});
  ASSERT_TRUE(key);
  std::promise<Result<std::uint64_t>> appended;
  j->append(key->id, key->sink_bits[1], body_of("e1"), {}, [&](Result<std::uint64_t> s) { appended.set_value(s); });
  ASSERT_TRUE(appended.get_future().get());
  std::atomic<int> notices{0};
  j->when_dead_lettered([&] { ++notices; });
  ASSERT_TRUE(j->attach("p", {"a"}, true, [](Replay) {}));  // sink b's pending event → DLQ
  EXPECT_EQ(notices, 1);
  auto rows = read(*j, 0, 10);
  EXPECT_EQ(event_ids(rows), (std::vector<std::string>{"e1"}));
}

}  // namespace
}  // namespace switchyard::journal

namespace switchyard::runtime {
namespace {

using namespace std::chrono_literals;

class EngineFeed : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = journal::Journal::open(journal::Options{.dir = dir.path(), .fsync = false});
    ASSERT_TRUE(j);
    journal = std::move(*j);
    io.start();
  }
  void TearDown() override { io.stop(); }

  test::TempDir dir;
  std::unique_ptr<journal::Journal> journal;
  Io io{1};
  Strand strand = io.make_strand();
};

std::string stored_event(const std::string& id) {
  Event e;
  e.id = id;
  e.type = "test.event";
  e.source = "test://feed";
  e.data.Parse(R"({"n": 1})");
  return journal::encode_event(e);
}

TEST_F(EngineFeed, EntriesArriveOnTheStrandWithTheirEventDecoded) {
  JournalDeadLetterFeed feed(*journal, strand, nullptr);
  journal->dead_letter(journal::Failure{.pipeline = "p", .sink = "out", .event_id = "e1", .type = "test.event",
                                        .error = "boom", .attempts = 2},
                       0, 0, stored_event("e1"));
  journal->dead_letter(journal::Failure{.pipeline = "p", .sink = "out", .event_id = "e2", .error = "x"}, 0, 0,
                       "not a stored event");
  journal->flush();
  std::promise<void> done;
  bool on_strand = false;
  Result<DeadLetterEntries> got = DeadLetterEntries{};
  asio::post(strand, [&] {
    feed.read(0, 10, [&](Result<DeadLetterEntries> entries) {
      on_strand = strand.running_in_this_thread();
      got = std::move(entries);
      done.set_value();
    });
  });
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(on_strand);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  const DeadLetterEntry& first = (*got)[0];
  EXPECT_EQ(first.pipeline, "p");
  EXPECT_EQ(first.component, "out");
  EXPECT_EQ(first.error, "boom");
  EXPECT_EQ(first.attempts, 2u);
  ASSERT_NE(first.event, nullptr);
  EXPECT_EQ(first.event->id, "e1");
  EXPECT_EQ(first.event->data["n"].GetInt(), 1);
  EXPECT_EQ((*got)[1].event, nullptr);  // undecodable: the entry still comes, without its event
}

TEST_F(EngineFeed, WhenRecordedFiresOnTheStrandAndNotAfterClose) {
  auto feed = std::make_unique<JournalDeadLetterFeed>(*journal, strand, nullptr);
  std::promise<bool> fired;
  std::promise<void> watching;
  asio::post(strand, [&] {
    feed->when_recorded([&] { fired.set_value(strand.running_in_this_thread()); });
    watching.set_value();
  });
  watching.get_future().wait();  // asked before the entry is recorded
  journal->dead_letter(journal::Failure{.pipeline = "p", .sink = "out", .event_id = "e1", .error = "x"}, 0, 0,
                       stored_event("e1"));
  auto f = fired.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(f.get());

  // Closed (the component stopped): neither a notice nor a read's result runs any more.
  std::atomic<int> calls{0};
  std::promise<void> asked;
  asio::post(strand, [&] {
    feed->when_recorded([&] { ++calls; });
    feed->read(0, 10, [&](Result<DeadLetterEntries>) { ++calls; });
    feed->close();
    asked.set_value();
  });
  asked.get_future().wait();
  journal->dead_letter(journal::Failure{.pipeline = "p", .sink = "out", .event_id = "e2", .error = "x"}, 0, 0,
                       stored_event("e2"));
  journal->flush();
  // What the journal's threads posted before and after has run by the time this has.
  for (int i = 0; i < 3; ++i) {
    std::promise<void> turn;
    asio::post(strand, [&] { turn.set_value(); });
    turn.get_future().wait();
    std::promise<Result<std::int64_t>> id;
    journal->newest_dead_letter([&](Result<std::int64_t> n) { id.set_value(n); });  // the reader thread's queue is drained
    id.get_future().wait();
  }
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace switchyard::runtime
