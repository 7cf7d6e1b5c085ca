// The runtime: fan-out, routing, transforms, backpressure, retries, drain and isolation.
#include "pipeline_fixture.hpp"

namespace switchyard::runtime {
namespace {

TEST_F(PipelineTest, EverySinkReceivesEveryEventInOrder) {
  auto p = start(R"(
source: {type: test.sequence, count: 2000}
sinks:
  - {name: a, type: test.capture, bucket: a}
  - {name: b, type: test.capture, bucket: b}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("b").size() == 2000; }));
  EXPECT_EQ(Captured::instance().of("a"), iota(2000));
  EXPECT_EQ(Captured::instance().of("b"), iota(2000));
  drain(*p);
  p->stop();
  const auto stats = p->stats();
  EXPECT_EQ(stats.received, 2000u);
  EXPECT_EQ(stats.sinks[0].delivered, 2000u);
  EXPECT_EQ(stats.sinks[1].delivered, 2000u);
}

TEST_F(PipelineTest, AnAsynchronousTransformKeepsTheOrderEventsCameIn) {
  // Later events finish their asynchronous check first; the sink still sees input order,
  // without the dropped (multiples of 5) and failed (multiples of 7) ones.
  test::AsyncCheckTransform::max_in_flight = 0;
  auto p = start(R"(
source: {type: test.sequence, count: 500}
transforms:
  - {type: test.drop_odd}
  - {type: test.async_check, drop_every: 5, fail_every: 7}
sinks:
  - {name: a, type: test.capture, bucket: a}
)");
  std::vector<int> expected;
  for (int n = 0; n < 500; n += 2) {
    if (n % 5 != 0 && n % 7 != 0) expected.push_back(n);
  }
  ASSERT_TRUE(wait_until([&] { return Captured::instance().of("a").size() >= expected.size(); }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), expected);
  const auto stats = p->stats();
  EXPECT_EQ(stats.dropped, 250u + 42u) << "odd ones, then even multiples of 5 that are not multiples of 7";
  EXPECT_EQ(stats.transform_errors, 36u) << "even multiples of 7";
  EXPECT_NE(stats.last_error.find("transforms[1] 'test.async_check': refused"), std::string::npos) << stats.last_error;
  // The same, by component and reason (what the admin API and switchyard_events_dropped_total show).
  auto drops = [&](const std::string& component, const std::string& reason) -> std::uint64_t {
    for (const auto& d : stats.drops) {
      if (d.component == component && d.reason == reason) return d.count;
    }
    return 0;
  };
  EXPECT_EQ(drops("test.drop_odd", "dropped"), 250u);
  EXPECT_EQ(drops("test.async_check", "dropped"), 42u);
  EXPECT_EQ(drops("test.async_check", "transform_error"), 36u);
  EXPECT_EQ(drops("test.drop_odd", "transform_error"), 0u);
  EXPECT_GT(test::AsyncCheckTransform::max_in_flight.load(), 1) << "the strand went on while events waited";
}

TEST_F(PipelineTest, ADrainEndsWhenTheLastEventsAnAsynchronousTransformHeldAreDropped) {
  // The drain starts while the events are still in the asynchronous transform; each is
  // dropped when it comes back, so no sink ever reports progress: the pipeline itself must
  // see that the last one is gone (it hung until the drain timed out, with 0 in flight).
  test::AsyncCheckTransform::max_in_flight = 0;
  auto p = start(R"(
durability: memory
source: {type: test.sequence, count: 20}
transforms:
  - {type: test.async_check, drop_every: 1}
sinks:
  - {name: a, type: test.capture, bucket: a}
)");
  drain(*p);
  EXPECT_EQ(p->in_flight(), 0u);
  p->stop();
  EXPECT_TRUE(Captured::instance().of("a").empty());
}

TEST_F(PipelineTest, AnAsynchronousDecisionOnThePipelinesStrandLetsTheEventGoOnAtOnce) {
  // Five events, decided by the transform's own timers (on the pipeline's strand); no
  // later event comes to push them out.
  auto p = start(R"(
source: {type: test.sequence, count: 5}
transforms: [{type: test.async_timer}]
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 5; }, std::chrono::seconds(5)));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), iota(5));
}

TEST_F(PipelineTest, EventsWaitingInAnAsynchronousTransformCountAgainstQueueSize) {
  test::AsyncCheckTransform::max_in_flight = 0;
  auto p = start(R"(
queue_size: 16
source: {type: test.sequence, count: 300}
transforms: [{type: test.async_check}]
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 300; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), iota(300));
  EXPECT_LE(test::AsyncCheckTransform::max_in_flight.load(), 16);
  EXPECT_GT(test::SequenceSource::waits.load(), 0) << "the source was pushed back";
}

TEST_F(PipelineTest, ASplittingTransformHandsOnEachEventItMadeInOrderThroughTheRestOfTheChain) {
  auto p = start(R"(
source: {type: test.sequence, count: 100}
transforms:
  - {type: test.times, times: 3}
  - {type: test.drop_odd}
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("a").size() == 150; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), iota(300, 2)) << "3 events per event, odd ones dropped after the split";
  const auto stats = p->stats();
  EXPECT_EQ(stats.received, 100u);
  EXPECT_EQ(stats.dropped, 150u);
  EXPECT_EQ(p->in_flight(), 0u) << "each event made is counted once and finished once";
}

TEST_F(PipelineTest, ASplitBetweenAsynchronousTransformsKeepsEveryEventInItsParentsPlace) {
  // The check finishes later events first, before and after the split.
  auto p = start(R"(
queue_size: 32
source: {type: test.sequence, count: 200}
transforms:
  - {name: before, type: test.async_check, drop_every: 10}
  - {type: test.times, times: 3}
  - {name: after, type: test.async_check, fail_every: 7}
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  std::vector<int> expected;
  for (int k = 0; k < 200; ++k) {
    if (k % 10 == 0) continue;
    for (int j = 0; j < 3; ++j) {
      if ((3 * k + j) % 7 != 0) expected.push_back(3 * k + j);
    }
  }
  ASSERT_TRUE(wait_until([&] { return Captured::instance().of("a").size() >= expected.size(); }));
  ASSERT_TRUE(wait_until([&] { return p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("a"), expected);
  EXPECT_EQ(p->stats().dropped, 20u);
}

TEST_F(PipelineTest, ASplitIntoNoEventsIsADrop) {
  auto p = start(R"(
source: {type: test.sequence, count: 10}
transforms: [{type: test.times, times: 0}]
sinks: [{name: a, type: test.capture, bucket: a}]
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().dropped == 10; }));
  drain(*p);
  p->stop();
  EXPECT_TRUE(Captured::instance().of("a").empty());
  EXPECT_EQ(p->in_flight(), 0u);
}

TEST_F(PipelineTest, SinkWithFalseConditionReceivesNothing) {
  auto p = start(R"(
source: {type: test.sequence, count: 100}
sinks:
  - {name: on, type: test.capture, bucket: on, if: true}
  - {name: off, type: test.capture, bucket: off, if: false}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("on").size() == 100; }));
  drain(*p);
  p->stop();
  EXPECT_TRUE(Captured::instance().of("off").empty());
  EXPECT_EQ(p->stats().sinks[1].skipped, 100u);
}

TEST_F(PipelineTest, SinkConditionsAreExpressionsOverTheEvent) {
  auto p = start(R"(
source: {type: test.sequence, count: 100}
sinks:
  - {name: low, type: test.capture, bucket: low, if: "${{ payload.n < 10 }}"}
  - {name: typed, type: test.capture, bucket: typed, if: "${{ event.type == 'TEST.SEQUENCE' && payload.n >= 95 }}"}
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().received == 100 && p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("low"), iota(10));
  EXPECT_EQ(Captured::instance().of("typed"), (std::vector<int>{95, 96, 97, 98, 99}));
  EXPECT_EQ(p->stats().sinks[0].skipped, 90u);
}

TEST_F(PipelineTest, TransformsRunInOrderAndDropsReachNoSink) {
  auto p = start(R"(
source: {type: test.sequence, count: 100}
transforms:
  - {type: test.drop_odd}
sinks:
  - {type: test.capture, bucket: evens}
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().received == 100 && p->in_flight() == 0; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("evens"), iota(100, 2));
  EXPECT_EQ(p->stats().dropped, 50u);
}

TEST_F(PipelineTest, SlowSinkPushesBackOnTheSourceWithoutLosingEvents) {
  auto p = start(R"(
queue_size: 8
source: {type: test.sequence, count: 3000}
sinks:
  - {type: test.capture, bucket: slow, delay: 1ms, queue_size: 8, concurrency: 4}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("slow").size() == 3000; }, std::chrono::seconds(60)));
  drain(*p);
  p->stop();
  auto got = Captured::instance().of("slow");
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, iota(3000));
  EXPECT_GT(test::SequenceSource::waits.load(), 0) << "the source was never pushed back";
  EXPECT_EQ(p->stats().refused, 0u);
  EXPECT_LE(Captured::instance().max_in_flight["slow"], 4);
}

// Events waiting behind another hold their received bytes, not also their parsed tree
// (about twice the bytes for a long string), once the window is a quarter full: queue_bytes
// then admits many more, and each is delivered with its whole payload, parsed again when
// its turn comes.
TEST_F(PipelineTest, EventsWaitingInAFillingWindowHoldTheirBytesOnlyAndArriveWhole) {
  auto p = start(R"(
source: {type: test.sequence, count: 24, raw: true, pad: 100000}
sinks:
  - {type: test.capture, bucket: big, delay: 50ms, queue_bytes: 2MiB}
)");
  // 100 kB events in a 2 MiB window: 11 fit holding both forms; holding the bytes only
  // past the first quarter, 18.
  std::size_t most = 0;
  EXPECT_TRUE(wait_until([&] { return (most = std::max(most, p->stats().sinks[0].queued)) >= 15; },
                         std::chrono::seconds(5)))
      << "the window took at most " << most << " events of 100 kB";
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("big").size() == 24; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("big"), iota(24));
  const std::string pad = R"("pad": ")" + std::string(100000, 'x') + '"';
  for (const auto& json : Captured::instance().json("big")) EXPECT_NE(json.find(pad), std::string::npos);
}

// Behind a full sink, events waiting for the transforms hold their received bytes only
// too: the pipeline's queue_bytes admits about twice as many 100 kB events before the
// source is pushed back, and each goes through whole.
TEST_F(PipelineTest, EventsWaitingBehindAFullSinkHoldTheirBytesOnlyAndArriveWhole) {
  auto p = start(R"(
queue_bytes: 2MiB
source: {type: test.sequence, count: 30, raw: true, pad: 100000}
transforms: [{type: test.peek}]
sinks:
  - {type: test.capture, bucket: big, delay: 50ms, queue_size: 1}
)");
  // In the pipeline's 2 MiB: 11 events holding both forms, 20 holding the bytes only.
  std::size_t most = 0;
  EXPECT_TRUE(wait_until([&] { return (most = std::max(most, p->in_flight())) >= 18; }, std::chrono::seconds(5)))
      << "at most " << most << " events of 100 kB were taken";
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("big").size() == 30; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("big"), iota(30));
  const std::string pad = R"("pad": ")" + std::string(100000, 'x') + '"';
  for (const auto& json : Captured::instance().json("big")) EXPECT_NE(json.find(pad), std::string::npos);
}

// A payload its source left unparsed (Event::payload_deferred, as github.webhook leaves it)
// is never parsed when nothing in the pipeline reads it: the sink that forwards the bytes
// gets them as they came.
TEST_F(PipelineTest, ADeferredPayloadNothingReadsIsNeverParsed) {
  auto p = start(R"(
source: {type: test.sequence, count: 50, raw: true, defer: true}
sinks:
  - {type: test.capture, bucket: bytes, raw_only: true}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("bytes").size() == 50; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("bytes"), iota(50));
  EXPECT_EQ(Captured::instance().deferred_in("bytes"), 50) << "the engine parsed payloads nothing reads";
  EXPECT_FALSE(test::SequenceSource::payload_read) << "the source was not told it may defer";
  for (const auto& json : Captured::instance().json("bytes")) EXPECT_NE(json.find(R"("note": "a  b")"), std::string::npos) << json;
}

// What reads the payload gets it parsed: a transform, a sink's if:, a sink that reads it
// beside one that does not.
TEST_F(PipelineTest, ADeferredPayloadIsParsedForWhateverReadsIt) {
  {
    auto p = start(R"(
source: {type: test.sequence, count: 40, raw: true, defer: true}
transforms: [{type: test.drop_odd}]
sinks:
  - {type: test.capture, bucket: transformed, raw_only: true}
)");
    EXPECT_TRUE(test::SequenceSource::payload_read) << "a transform reads payloads";
    ASSERT_TRUE(wait_until([] { return Captured::instance().of("transformed").size() == 20; }));
    drain(*p);
    p->stop();
    EXPECT_EQ(Captured::instance().of("transformed"), iota(40, 2));
  }
  {
    auto p = start(R"(
source: {type: test.sequence, count: 40, raw: true, defer: true}
sinks:
  - {name: low, type: test.capture, bucket: low, raw_only: true, if: "${{ payload.n < 10 }}"}
)");
    EXPECT_TRUE(test::SequenceSource::payload_read) << "an if: reads payloads";
    ASSERT_TRUE(wait_until([p] { return p->stats().received == 40 && p->in_flight() == 0; }));
    drain(*p);
    p->stop();
    EXPECT_EQ(Captured::instance().of("low"), iota(10));
  }
  {
    auto p = start(R"(
source: {type: test.sequence, count: 40, raw: true, defer: true}
sinks:
  - {name: bytes, type: test.capture, bucket: bytes, raw_only: true}
  - {name: tree, type: test.capture, bucket: tree}
)");
    EXPECT_TRUE(test::SequenceSource::payload_read) << "a sink reads payloads";
    ASSERT_TRUE(wait_until([] { return Captured::instance().of("tree").size() == 40 && Captured::instance().of("bytes").size() == 40; }));
    drain(*p);
    p->stop();
    EXPECT_EQ(Captured::instance().of("tree"), iota(40));
    EXPECT_EQ(Captured::instance().of("bytes"), iota(40));
  }
  for (const char* bucket : {"transformed", "low", "bytes", "tree"}) {
    EXPECT_EQ(Captured::instance().deferred_in(bucket), 0) << bucket << " got a payload unparsed";
  }
}

TEST_F(PipelineTest, RetryableFailuresAreRetriedUntilDelivered) {
  auto p = start(R"(
source: {type: test.sequence, count: 50}
sinks:
  - type: test.capture
    bucket: flaky
    fail_first: 2
    retry: {max_attempts: 3, initial: 1ms, max: 5ms}
  - {name: steady, type: test.capture, bucket: steady}
)");
  ASSERT_TRUE(wait_until([] {
    return Captured::instance().of("flaky").size() == 50 && Captured::instance().of("steady").size() == 50;
  }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("flaky"), iota(50));
  const auto s = p->stats().sinks[0];
  EXPECT_EQ(s.retried, 100u);
  EXPECT_EQ(s.dead_lettered, 0u);
  // The third attempt says so (the CloudEvents extension `attempt`); the other sink, which
  // shares the event and delivered it at once, sees no attempt.
  for (const auto& json : Captured::instance().json("flaky")) {
    EXPECT_NE(json.find(R"("attempt":3)"), std::string::npos) << json;
  }
  for (const auto& json : Captured::instance().json("steady")) {
    EXPECT_EQ(json.find("attempt"), std::string::npos) << json;
  }
}

TEST_F(PipelineTest, EventsAreGivenUpAfterMaxAttemptsOrAtOnceWhenPermanent) {
  auto p = start(R"(
source: {type: test.sequence, count: 10}
sinks:
  - {name: tired, type: test.capture, bucket: tired, fail_first: 5, retry: {max_attempts: 2, initial: 1ms, max: 2ms}}
  - {name: broken, type: test.capture, bucket: broken, fail_first: 1, permanent: true}
)");
  ASSERT_TRUE(wait_until([p] {
    auto s = p->stats();
    return s.sinks[0].dead_lettered == 10 && s.sinks[1].dead_lettered == 10;
  }));
  drain(*p);
  p->stop();
  const auto s = p->stats();
  EXPECT_EQ(s.sinks[0].failed, 20u);  // two attempts each
  EXPECT_EQ(s.sinks[1].failed, 10u);  // one attempt each: permanent is not retried
  EXPECT_TRUE(Captured::instance().of("tired").empty());
}

TEST_F(PipelineTest, OrderedSinksHoldLaterEventsOfTheSameKeyUntilTheEarlierOneIsDone) {
  auto p = start(R"(
source: {type: test.sequence, count: 60}
sinks:
  - type: test.capture
    bucket: ordered
    delay: 2ms
    fail_first: 1
    concurrency: 4
    ordered: true
    order_key: ${{ payload.n < 30 }}
    retry: {initial: 1ms, max: 3ms}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("ordered").size() == 60; }));
  drain(*p);
  p->stop();
  std::vector<int> low, high;
  for (int n : Captured::instance().of("ordered")) (n < 30 ? low : high).push_back(n);
  // Every event failed its first attempt and was retried, yet each key kept its order.
  EXPECT_EQ(low, iota(30));
  std::vector<int> expected_high;
  for (int n = 30; n < 60; ++n) expected_high.push_back(n);
  EXPECT_EQ(high, expected_high);
  EXPECT_LE(Captured::instance().max_in_flight["ordered"], 2) << "two keys, so at most two in flight";
  EXPECT_EQ(p->stats().sinks[0].retried, 60u);
}

TEST_F(PipelineTest, DrainWaitsForDeliveriesInFlight) {
  auto p = start(R"(
source: {type: test.sequence, count: 40}
sinks:
  - {type: test.capture, bucket: slow, delay: 5ms}
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().received == 40; }));
  drain(*p);
  EXPECT_EQ(Captured::instance().of("slow").size(), 40u);
  EXPECT_EQ(p->in_flight(), 0u);
  p->stop();
}

TEST_F(PipelineTest, PluginThatThrowsInStartFailsOnlyItsPipeline) {
  Status status;
  auto bad = start(R"(
source: {type: test.sequence, count: 10}
sinks:
  - {type: test.capture, bucket: never}
  - {name: thrower, type: test.throwing_sink}
)", &status);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "sinks[1] 'thrower': start threw: boom in start");
  auto good = start(R"(
source: {type: test.sequence, count: 10}
sinks:
  - {type: test.capture, bucket: good}
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("good").size() == 10; }));
  EXPECT_TRUE(Captured::instance().of("never").empty());
  drain(*good);
  good->stop();
}

// With a journal: the same promises, plus overflow, restart and the dead-letter queue.
// rate_limit's delay mode: the transform sets not_before, the sinks hold the event until then.
class DelayedDeliveryTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
  }
};

TEST_F(DelayedDeliveryTest, EventsOverTheLimitAreDeliveredNoEarlierThanTheirTurnInOrder) {
  const auto start_time = std::chrono::system_clock::now();
  auto p = start(R"(
source: {type: test.sequence, count: 5}
transforms: [{type: rate_limit, rate: 10, per: 1s, burst: 2, over_limit: delay}]
sinks: [{name: out, type: test.capture, bucket: out}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("out").size() == 5; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("out"), iota(5)) << "nothing dropped, order kept";
  const auto at = Captured::instance().times("out");
  // 10 per second after a burst of 2: the 3rd, 4th and 5th wait 100, 200 and 300 ms.
  EXPECT_GE(at[2] - start_time, std::chrono::milliseconds(100));
  EXPECT_GE(at[4] - start_time, std::chrono::milliseconds(300));
  EXPECT_EQ(p->stats().dropped, 0u);
}

TEST_F(DelayedDeliveryTest, ADelayedEventDoesNotHoldBackEventsOfAnotherKey) {
  auto p = start(R"(
source: {type: test.sequence, count: 3}
transforms:
  - {type: rate_limit, rate: 1, per: 1s, key: "${{ payload.n == 2 }}", over_limit: delay}
sinks: [{name: out, type: test.capture, bucket: out}]
)");
  // n=0 and n=1 share a key: 1 waits a second. n=2 has its own bucket and goes at once.
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("out").size() == 3; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("out"), (std::vector<int>{0, 2, 1}));
}

TEST_F(DelayedDeliveryTest, DelayedEventsDoNotFillTheSinkQueue) {
  // Ten events wait an hour; a queue of 4 must still carry the ten others at once.
  auto p = start(R"(
source: {type: test.sequence, count: 20}
transforms: [{type: test.delay_even}]
sinks: [{name: out, type: test.capture, bucket: out, queue_size: 4}]
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("out").size() == 10; }));
  EXPECT_EQ(Captured::instance().of("out"), (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}));
  // The tenth delivered leaves the count a moment after the capture sink has it.
  EXPECT_TRUE(wait_until([&] { return p->stats().sinks[0].queued == 10u; }))
      << "the delayed ten are still held, and only they: " << p->stats().sinks[0].queued;
  p->stop();
}

TEST_F(DelayedDeliveryTest, EventsBeyondMaxDelayAreDropped) {
  auto p = start(R"(
source: {type: test.sequence, count: 6}
transforms: [{type: rate_limit, rate: 1, per: 1h, burst: 2, over_limit: delay, max_delay: 90m}]
sinks: [{name: out, type: test.capture, bucket: out}]
)");
  ASSERT_TRUE(wait_until([p] { return p->stats().received == 6; }));
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("out").size() == 2; }));
  EXPECT_TRUE(wait_until([p] { return p->stats().dropped == 3; }))
      << "the 3rd waits an hour (kept, held), the 4th to 6th would wait longer than 90m";
  EXPECT_EQ(Captured::instance().of("out"), (std::vector<int>{0, 1}));
  p->stop();
}

}  // namespace
}  // namespace switchyard::runtime
