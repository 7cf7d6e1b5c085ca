// The runtime with a journal: dead letters, overflow read back, restarts, replays.
#include "pipeline_fixture.hpp"

namespace switchyard::runtime {
namespace {

TEST_F(JournaledPipelineTest, AnEventATransformFailsIsADeadLetterNamingTheTransformAsTheEventCameIn) {
  auto p = start(R"(
name: checked
source: {type: test.sequence, count: 20}
transforms: [{type: test.async_check, fail_every: 5}]
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 16; }));
  ASSERT_TRUE(wait_until([&] { return p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  const auto letters = dead_letters();
  ASSERT_EQ(letters.size(), 4u);
  for (const auto& d : letters) {
    EXPECT_EQ(d.pipeline, "checked");
    EXPECT_EQ(d.sink, "transforms[0] 'test.async_check'");
    EXPECT_EQ(d.attempts, 1u);
    EXPECT_TRUE(d.error.starts_with("refused ")) << d.error;
  }
  EXPECT_EQ(p->stats().transform_errors, 4u);
}

TEST_F(JournaledPipelineTest, EachEventASplitMadeIsJournaledOnItsOwn) {
  auto p = start(R"(
name: split
source: {type: test.sequence, count: 50}
transforms: [{type: test.times, times: 3}]
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 150; }));
  ASSERT_TRUE(wait_until([&] { return p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), iota(150));
  journal_->flush();
  EXPECT_EQ(journal_->stats().appended, 150u);
}

TEST_F(JournaledPipelineTest, ASlowSinkOverflowsToTheJournalInOrderWithoutHoldingBackTheOthers) {
  auto p = start(R"(
name: overflow
source: {type: test.sequence, count: 3000}
sinks:
  - {name: slow, type: test.capture, bucket: slow, delay: 1ms, queue_size: 16}
  - {name: fast, type: test.capture, bucket: fast, queue_size: 16}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("fast").size() == 3000; }));
  EXPECT_LT(Captured::instance().of("slow").size(), 3000u) << "the fast sink waited for the slow one";
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("slow").size() == 3000; }, std::chrono::seconds(60)));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("slow"), iota(3000)) << "read back from the journal out of order";
  EXPECT_EQ(Captured::instance().of("fast"), iota(3000));
  journal_->flush();
  EXPECT_EQ(journal_->stats().appended, 3000u);
  auto key = journal_->attach("overflow", {"slow", "fast"}, true, nullptr);
  ASSERT_TRUE(key);
  EXPECT_TRUE(journal_->pending(key->id, key->sink_bits[0] | key->sink_bits[1], 0, 10)->empty())
      << "delivered events left in the journal";
}

// Events read back from the journal wait as their stored bytes and are parsed when their
// turn comes; an ordered sink whose key comes from the payload parses them for the key.
TEST_F(JournaledPipelineTest, EventsReadBackFromTheJournalArriveWholeAndKeyedByTheirPayload) {
  auto p = start(R"(
name: read-back
source: {type: test.sequence, count: 300, raw: true, pad: 20000}
sinks:
  - name: slow
    type: test.capture
    bucket: slow
    delay: 1ms
    queue_size: 8
    concurrency: 3
    ordered: true
    order_key: ${{ payload.n % 3 }}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("slow").size() == 300; }, std::chrono::seconds(60)));
  drain(*p);
  p->stop();
  EXPECT_GT(journal_->stats().appended, 0u);
  std::vector<int> by_key[3];
  for (int n : Captured::instance().of("slow")) by_key[n % 3].push_back(n);
  for (int k = 0; k < 3; ++k) {
    std::vector<int> expected;
    for (int n = k; n < 300; n += 3) expected.push_back(n);
    EXPECT_EQ(by_key[k], expected) << "key " << k << " out of order";
  }
  const std::string pad = R"("pad": ")" + std::string(20000, 'x') + '"';
  for (const auto& json : Captured::instance().json("slow")) ASSERT_NE(json.find(pad), std::string::npos);
}

// A deferred payload goes into the journal as its bytes and out of it whole: to a sink that
// forwards the bytes unparsed, and, read back behind a slow window, to one that reads it.
TEST_F(JournaledPipelineTest, ADeferredPayloadIsJournaledAsItsBytes) {
  auto p = start(R"(
name: deferred
source: {type: test.sequence, count: 400, raw: true, defer: true, pad: 2000}
sinks:
  - {name: bytes, type: test.capture, bucket: bytes, raw_only: true}
  - {name: slow, type: test.capture, bucket: slow, delay: 1ms, queue_size: 8, raw_only: true}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("slow").size() == 400; }, std::chrono::seconds(60)));
  drain(*p);
  p->stop();
  EXPECT_EQ(journal_->stats().appended, 400u);
  EXPECT_EQ(Captured::instance().of("bytes"), iota(400));
  EXPECT_EQ(Captured::instance().of("slow"), iota(400));
  EXPECT_GT(Captured::instance().deferred_in("bytes"), 0);
  const std::string pad = R"("pad": ")" + std::string(2000, 'x') + '"';
  for (const char* bucket : {"bytes", "slow"}) {
    for (const auto& json : Captured::instance().json(bucket)) {
      ASSERT_NE(json.find(pad), std::string::npos) << bucket;
      ASSERT_NE(json.find(R"("note": "a  b")"), std::string::npos) << bucket;
    }
  }
}

TEST_F(JournaledPipelineTest, AnEventEmittedUntilDoneIsAnsweredOnceEverySinkIsDoneAndSkipsTheJournal) {
  test::UntilDoneSource::reset();
  // Odd events are dropped by the transform (answered at once); sink a takes the even ones
  // slowly; sink b takes those below 20 and gives up on them at once (dead-lettered: done
  // with them too).
  auto p = start(R"(
name: until-done
source: {type: test.until_done, count: 40}
transforms: [{type: test.drop_odd}]
sinks:
  - {name: a, type: test.capture, bucket: a, delay: 2ms, concurrency: 4}
  - {name: b, type: test.capture, bucket: b, fail_first: 1, permanent: true, if: "${{ payload.n < 20 }}"}
)");
  ASSERT_TRUE(wait_until([] {
    std::lock_guard lock(test::UntilDoneSource::mutex);
    return test::UntilDoneSource::answered.size() == 40;
  }));
  drain(*p);
  p->stop();
  std::lock_guard lock(test::UntilDoneSource::mutex);
  for (int n = 0; n < 40; ++n) {
    EXPECT_TRUE(test::UntilDoneSource::answered[n]) << n;
    // A kept event is answered only after sink a delivered it; a dropped one at once.
    if (n % 2 == 0) {
      EXPECT_TRUE(test::UntilDoneSource::seen_before[n]) << "answered before sink a had " << n;
    }
  }
  journal_->flush();
  EXPECT_EQ(journal_->stats().appended, 0u) << "events emitted until done were journaled";
  EXPECT_EQ(dead_letters().size(), 10u) << "sink b's failures are dead-lettered (and count as done)";
}

// An event emitted until done that a sink gives up on exists only as its dead letter: the
// source (a JetStream message's acknowledgement) hears only once that is committed.
TEST_F(JournaledPipelineTest, AnEventEmittedUntilDoneIsAnsweredOnlyOnceItsDeadLetterIsCommitted) {
  test::UntilDoneSource::reset();
  std::mutex m;
  int answers = 0, ahead_of_the_queue = 0;
  test::UntilDoneSource::on_answer = [&](int) {
    // Read as another process would, without flushing the writer.
    auto dlq = journal::DeadLetters::open(dir_ / "state");
    const auto kept = dlq ? dlq->count() : Result<std::int64_t>(0);
    std::lock_guard lock(m);
    ++answers;
    if (!kept || *kept < answers) ++ahead_of_the_queue;
  };
  auto p = start(R"(
name: until-done
source: {type: test.until_done, count: 30}
sinks:
  - {name: b, type: test.capture, bucket: b, fail_first: 1, permanent: true}
)");
  ASSERT_TRUE(wait_until([] {
    std::lock_guard lock(test::UntilDoneSource::mutex);
    return test::UntilDoneSource::answered.size() == 30;
  }));
  drain(*p);
  p->stop();
  test::UntilDoneSource::on_answer = nullptr;
  std::lock_guard lock(m);
  EXPECT_EQ(answers, 30);
  EXPECT_EQ(ahead_of_the_queue, 0) << "answered before its dead letter was committed";
  EXPECT_EQ(dead_letters().size(), 30u);
}

// Keys a source asks to be remembered with its events (delivery ids) are remembered once the
// events are accepted, written to the journal with them, and known again after a restart; a
// memory pipeline remembers them in memory only.
TEST_F(JournaledPipelineTest, KeysRememberedWithEventsAreWrittenWithThemAndKnownAfterARestart) {
  store_.attach(*journal_, {});  // as the engine attaches its state to its journal
  auto p = start(R"(
name: ids
source: {type: test.sequence, count: 50, remember: 10m}
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 50; }));
  ASSERT_TRUE(wait_until([&] { return p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  for (int n = 0; n < 50; ++n) EXPECT_TRUE(store_.remembers("ids/test.sequence/n/" + std::to_string(n))) << n;
  EXPECT_FALSE(store_.remembers("ids/test.sequence/n/50"));
  EXPECT_FALSE(store_.get("ids/test.sequence/n/0")) << "a remembered key is not an entry";
  journal_->flush();
  auto remembered = journal_->load_remembered();
  ASSERT_TRUE(remembered) << remembered.error().message;
  EXPECT_EQ(remembered->size(), 50u) << "each event's key is in the journal";
  p.reset();
  close_journal();
  open_journal();
  store_.attach(*journal_, {});
  StateTable restarted;
  auto entries = journal_->load_state();
  auto again = journal_->load_remembered();
  ASSERT_TRUE(entries && again);
  restarted.attach(*journal_, std::move(*entries), std::move(*again));
  EXPECT_TRUE(restarted.remembers("ids/test.sequence/n/0"));
  EXPECT_TRUE(restarted.remembers("ids/test.sequence/n/49"));
  EXPECT_FALSE(restarted.remembers("ids/test.sequence/n/50"));

  auto m = start(R"(
name: fleeting
durability: memory
source: {type: test.sequence, count: 5, remember: 10m}
sinks: [{name: b, type: test.capture, bucket: b}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("b").size() == 5; }));
  drain(*m);
  m->stop();
  EXPECT_TRUE(store_.remembers("fleeting/test.sequence/n/4"));
  journal_->flush();
  again = journal_->load_remembered();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), 50u) << "a memory pipeline's keys went to the journal";
}

TEST_F(JournaledPipelineTest, UndeliveredEventsResumeAfterARestart) {
  auto first = start(R"(
name: resume
source: {type: test.sequence, count: 200}
sinks:
  - {name: out, type: test.capture, bucket: before, delay: 20ms}
)");
  ASSERT_TRUE(wait_until([first] { return first->stats().received == 200; }));
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("before").size() >= 3; }));
  first->stop();  // no drain: as if killed mid-way
  const auto before = Captured::instance().of("before");
  ASSERT_LT(before.size(), 200u);
  first.reset();
  close_journal();
  open_journal();
  auto second = start(R"(
name: resume
source: {type: test.sequence, count: 0}
sinks:
  - {name: out, type: test.capture, bucket: after}
)");
  ASSERT_TRUE(wait_until([&] { return before.size() + Captured::instance().of("after").size() >= 200; }));
  drain(*second);
  second->stop();
  std::vector<int> all = before;
  const auto after = Captured::instance().of("after");
  all.insert(all.end(), after.begin(), after.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  EXPECT_EQ(all, iota(200)) << "an accepted event was lost across the restart";
  EXPECT_TRUE(std::is_sorted(after.begin(), after.end())) << "resumed out of order";
  EXPECT_LE(after.size() + before.size(), 200u + 1) << "more than the one in flight was sent twice";
}

// Sinks that forward the CloudEvent write the payload's bytes as the source received them
// (here spaced: {"n": 0, "note": "a  b"}) while no transform changed it, also when the
// event is read back from the journal; once a transform may have changed it, they write
// what `data` now holds.
TEST_F(JournaledPipelineTest, SinksWriteThePayloadAsReceivedUntilATransformMayHaveChangedIt) {
  const auto run = [&](const std::string& transforms, const std::string& bucket) {
    auto p = start("name: raw\nsource: {type: test.sequence, count: 3, raw: true}\ntransforms: " + transforms +
                   "\nsinks: [{name: out, type: test.capture, bucket: " + bucket + "}]\n");
    EXPECT_TRUE(wait_until([&] { return Captured::instance().of(bucket).size() == 3; }));
    drain(*p);
    p->stop();
    return Captured::instance().json(bucket);
  };
  const auto untouched = run("[]", "untouched");
  ASSERT_EQ(untouched.size(), 3u);
  EXPECT_NE(untouched[1].find(R"("data":{"n": 1, "note": "a  b"})"), std::string::npos) << untouched[1];
  const auto peeked = run("[{type: test.peek}]", "peeked");
  ASSERT_EQ(peeked.size(), 3u);
  EXPECT_NE(peeked[1].find(R"("data":{"n": 1, "note": "a  b"})"), std::string::npos) << peeked[1];
  const auto bumped = run("[{type: test.peek}, {type: test.bump}]", "bumped");
  ASSERT_EQ(bumped.size(), 3u);
  EXPECT_NE(bumped[1].find(R"("data":{"n":1001,"note":"a  b"})"), std::string::npos)
      << "a sink wrote the payload as received, not as the transform left it: " << bumped[1];
}

TEST_F(JournaledPipelineTest, AnEventReadBackFromTheJournalKeepsItsPayloadAsReceived) {
  auto first = start(R"(
name: raw-resume
source: {type: test.sequence, count: 5, raw: true}
sinks: [{name: out, type: test.capture, bucket: before, fail_first: 1000}]
)");
  ASSERT_TRUE(wait_until([first] { return first->stats().received == 5; }));
  first->stop();
  first.reset();
  close_journal();
  open_journal();
  auto second = start(R"(
name: raw-resume
source: {type: test.sequence, count: 0}
sinks: [{name: out, type: test.capture, bucket: after}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("after").size() == 5; }));
  drain(*second);
  second->stop();
  const auto json = Captured::instance().json("after");
  EXPECT_NE(json[4].find(R"("data":{"n": 4, "note": "a  b"})"), std::string::npos) << json[4];
}

TEST_F(JournaledPipelineTest, ADelayedEventWaitsOutItsDelayAcrossARestart) {
  ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
  const auto started = std::chrono::system_clock::now();
  // The same pipeline before and after the restart; only the source's count and the
  // capture bucket differ.
  auto pipeline = [](int count, const char* bucket) {
    return "name: delayed\nsource: {type: test.sequence, count: " + std::to_string(count) +
           "}\ntransforms: [{type: rate_limit, rate: 1, per: 2s, over_limit: delay}]\n"
           "sinks: [{name: out, type: test.capture, bucket: " + bucket + "}]\n";
  };
  auto first = start(pipeline(2, "before"));
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("before").size() == 1; }));
  ASSERT_TRUE(wait_until([first] { return first->stats().received == 2; }));
  first->stop();  // before the second event's turn, without draining: as if killed
  first.reset();
  close_journal();
  open_journal();
  auto second = start(pipeline(0, "after"));
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("after").size() == 1; }));
  drain(*second);
  second->stop();
  EXPECT_EQ(Captured::instance().of("before"), std::vector<int>{0});
  EXPECT_EQ(Captured::instance().of("after"), std::vector<int>{1}) << "the delayed event was lost or repeated";
  EXPECT_GE(Captured::instance().times("after")[0] - started, std::chrono::milliseconds(1900))
      << "the restart forgot the event's delay";
}

TEST_F(JournaledPipelineTest, DrainDoesNotWaitForJournaledEventsThatAreNotDue) {
  auto p = start(R"(
name: later
source: {type: test.sequence, count: 4}
transforms: [{type: test.delay_even}]
sinks: [{name: out, type: test.capture, bucket: out}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("out").size() == 2; }));
  drain(*p);  // fails unless drained: the journal keeps the two delayed events, not the drain
  p->stop();
  journal_->flush();
  auto key = journal_->attach("later", {"out"}, true, nullptr);
  ASSERT_TRUE(key);
  EXPECT_EQ(journal_->pending(key->id, key->sink_bits[0], 0, 10)->size(), 2u) << "the delayed events stay journaled";
}

TEST_F(JournaledPipelineTest, GivenUpEventsGoToTheDeadLetterQueueAndReplayToThatSinkOnly) {
  auto p = start(R"(
name: dlq
source: {type: test.sequence, count: 5}
sinks:
  - {name: broken, type: test.capture, bucket: broken, fail_first: 1, permanent: true}
  - {name: tired, type: test.capture, bucket: tired, fail_first: 3, retry: {max_attempts: 2, initial: 1ms, max: 2ms}}
  - {name: fine, type: test.capture, bucket: fine}
)");
  ASSERT_TRUE(wait_until([p] {
    auto s = p->stats();
    return s.sinks[0].dead_lettered == 5 && s.sinks[1].dead_lettered == 5;
  }));
  // The counters move when a dead letter is handed to the journal; the rows are there once
  // the journal's writer has committed them.
  ASSERT_TRUE(wait_until([this] { return dead_letters().size() == 10; }));
  auto entries = dead_letters();
  ASSERT_EQ(entries.size(), 10u);
  std::map<std::string, std::set<std::uint32_t>> attempts;
  for (const auto& e : entries) attempts[e.sink].insert(e.attempts);
  EXPECT_EQ(attempts["broken"], std::set<std::uint32_t>{1}) << "a permanent failure was retried";
  EXPECT_EQ(attempts["tired"], std::set<std::uint32_t>{2});
  EXPECT_EQ(entries[0].error, "nope");

  // The capture sink fails only the first attempt per event for 'broken': a replay succeeds.
  auto dlq = journal::DeadLetters::open(dir_ / "state");
  ASSERT_TRUE(dlq);
  ASSERT_EQ(*dlq->replay({.sink = "broken"}), 5);
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("broken").size() == 5; }));
  drain(*p);
  p->stop();
  auto broken = Captured::instance().of("broken");
  std::sort(broken.begin(), broken.end());
  EXPECT_EQ(broken, iota(5));
  EXPECT_EQ(Captured::instance().of("fine"), iota(5)) << "the replay reached another sink";
  EXPECT_EQ(dead_letters().size(), 5u) << "only 'tired' entries should remain";
}

TEST_F(JournaledPipelineTest, MemoryDurabilityStillDeadLettersWithTheEvent) {
  auto p = start(R"(
name: mem
durability: memory
source: {type: test.sequence, count: 3}
sinks:
  - {name: broken, type: test.capture, bucket: broken, fail_first: 1, permanent: true}
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().sinks[0].dead_lettered == 3; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(journal_->stats().appended, 0u) << "a memory pipeline journaled its events";
  auto entries = dead_letters();
  ASSERT_EQ(entries.size(), 3u);
  auto dlq = journal::DeadLetters::open(dir_ / "state");
  auto full = dlq->get(entries[0].id);
  ASSERT_TRUE(full && *full);
  EXPECT_NE((*full)->body.find("\"n\":0"), std::string::npos) << (*full)->body;
}

// A memory pipeline holds a replayed event only in memory: its dead-letter entry stays in
// the DLQ until the sink is done with it, and is requested again should the pipeline stop
// first. A replay that fails again replaces its entry instead of adding one.
TEST_F(JournaledPipelineTest, AMemoryPipelinesReplayLeavesTheDeadLetterQueueOnlyOnceDelivered) {
  auto version = [](const char* sink) {
    return std::string(R"(
name: mem
durability: memory
source: {type: test.sequence, count: 0}
sinks:
  - )") + sink + "\n";
  };
  auto first = start(R"(
name: mem
durability: memory
source: {type: test.sequence, count: 3}
sinks: [{name: out, type: test.capture, bucket: refused, fail_first: 1, permanent: true}]
)");
  ASSERT_TRUE(wait_until([first] { return first->stats().sinks[0].dead_lettered == 3; }));
  drain(*first);
  first->stop();
  first.reset();
  ASSERT_EQ(dead_letters().size(), 3u);
  auto dlq = journal::DeadLetters::open(dir_ / "state");
  ASSERT_TRUE(dlq);

  // Fails again: still three entries, not six.
  auto again = start(version("{name: out, type: test.capture, bucket: again, fail_first: 1, permanent: true}"));
  ASSERT_EQ(*dlq->replay({.pipeline = "mem"}), 3);
  ASSERT_TRUE(wait_until([again] { return again->stats().sinks[0].dead_lettered == 3; }));
  drain(*again);
  again->stop();
  again.reset();
  auto entries = dead_letters();
  ASSERT_EQ(entries.size(), 3u) << "a failed replay added an entry instead of replacing its own";
  for (const auto& e : entries) EXPECT_FALSE(e.replay_requested);

  // Stops while the deliveries are in flight: the entries stay and are requested again.
  auto slow = start(version("{name: out, type: test.capture, bucket: slow, delay: 700ms}"));
  ASSERT_EQ(*dlq->replay({.pipeline = "mem"}), 3);
  ASSERT_TRUE(wait_until([] {
    auto& c = Captured::instance();
    std::lock_guard lock(c.mutex);
    return c.max_in_flight["slow"] >= 1;
  }));
  EXPECT_EQ(dead_letters().size(), 3u) << "entries left the DLQ while their events were only in memory";
  slow->stop();  // the sink's answers that come during its stop() are ignored
  slow.reset();
  entries = dead_letters();
  ASSERT_EQ(entries.size(), 3u) << "a replay lost when the pipeline stopped";
  for (const auto& e : entries) EXPECT_TRUE(e.replay_requested) << "entry " << e.id << " is not requested again";

  // The next version delivers them; only then do they leave the DLQ.
  auto fine = start(version("{name: out, type: test.capture, bucket: fine}"));
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("fine").size() == 3; }));
  ASSERT_TRUE(wait_until([this] { return dlq_empty(); }));
  drain(*fine);
  fine->stop();
  auto fine_events = Captured::instance().of("fine");
  std::sort(fine_events.begin(), fine_events.end());
  EXPECT_EQ(fine_events, iota(3));
}

// Entries a memory pipeline held in flight when the process ended are requested again
// when the journal opens.
TEST_F(JournaledPipelineTest, ReplaysInFlightWhenTheProcessEndedAreRequestedAgainAtOpen) {
  auto p = start(R"(
name: mem
durability: memory
source: {type: test.sequence, count: 2}
sinks: [{name: out, type: test.capture, bucket: refused, fail_first: 1, permanent: true}]
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().sinks[0].dead_lettered == 2; }));
  drain(*p);
  p->stop();
  p.reset();
  journal_->flush();
  {
    // As a crash leaves them: marked in flight by an attachment of the previous process.
    auto db = journal::sql::Db::open(dir_ / "state" / journal::kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("UPDATE dlq SET replay = 7"));
  }
  close_journal();
  open_journal();
  auto entries = dead_letters();
  ASSERT_EQ(entries.size(), 2u);
  auto dlq = journal::DeadLetters::open(dir_ / "state");
  ASSERT_TRUE(dlq);
  EXPECT_EQ(*dlq->replay({.pipeline = "mem"}), 0) << "in-flight entries should already be requested again";
  auto again = start(R"(
name: mem
durability: memory
source: {type: test.sequence, count: 0}
sinks: [{name: out, type: test.capture, bucket: after}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("after").size() == 2; }));
  ASSERT_TRUE(wait_until([this] { return dlq_empty(); }));
  again->stop();
}

}  // namespace
}  // namespace switchyard::runtime
