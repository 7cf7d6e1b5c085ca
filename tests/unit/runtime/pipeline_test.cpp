// The runtime: fan-out, routing, transforms, backpressure, retries, drain and isolation.
#include "runtime/pipeline.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <numeric>
#include <set>
#include <thread>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"
#include "http/server.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "journal/sqlite.hpp"
#include "runtime/component_context.hpp"
#include "runtime/engine.hpp"
#include "runtime/io.hpp"
#include "runtime/state_store.hpp"
#include "support/status.hpp"
#include "support/temp_dir.hpp"
#include "test_components.hpp"

namespace switchyard::runtime {
namespace {

using test::Captured;

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::vector<int> iota(int n, int step = 1) {
  std::vector<int> v;
  for (int i = 0; i < n; i += step) v.push_back(i);
  return v;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::setup("warn", "text");
    Captured::instance().clear();
    test::SequenceSource::waits = 0;
    ASSERT_TRUE(test::ok(registry_.add(test::kTestPlugin, "<test>")));
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_FIXTURE_DIR) + "/faulty/faulty.so")));
    io_.start();
  }

  std::shared_ptr<Pipeline> start(const std::string& yaml, Status* status_out = nullptr) {
    const auto file = dir_.write("p.yaml", yaml);
    config::Diagnostics diagnostics;
    auto config = std::make_shared<config::PipelineConfig>();
    EXPECT_TRUE(config::load_pipeline(file, registry_, *config, diagnostics))
        << (diagnostics.empty() ? "" : config::format(diagnostics[0]));
    auto pipeline = make_pipeline(config, services_);
    Status status = pipeline->build();
    if (status) status = pipeline->start();
    if (status_out) *status_out = status;
    else EXPECT_TRUE(status) << status.error().message;
    return pipeline;
  }

  void drain(Pipeline& pipeline) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    pipeline.drain([&] {
      std::lock_guard lock(m);
      done = true;
      cv.notify_all();
    });
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; }));
  }

  loader::PluginRegistry registry_;  // outlives everything: components' code lives in it
  test::TempDir dir_;
  StateTable store_;
  Io io_{2};
  http::Server server_{io_, config::listener_settings("http", "127.0.0.1:0")};
  Services services_{io_, store_, server_};
};

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
)");
  ASSERT_TRUE(wait_until([] { return Captured::instance().of("flaky").size() == 50; }));
  drain(*p);
  p->stop();
  EXPECT_EQ(Captured::instance().of("flaky"), iota(50));
  const auto s = p->stats().sinks[0];
  EXPECT_EQ(s.retried, 100u);
  EXPECT_EQ(s.dead_lettered, 0u);
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
  EXPECT_EQ(p->stats().sinks[0].queued, 10u) << "the delayed ten are still held";
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

class JournaledPipelineTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    open_journal();
  }
  void open_journal() {
    auto j = journal::Journal::open({.dir = dir_ / "state", .fsync = false});
    ASSERT_TRUE(j) << j.error().message;
    journal_ = std::move(*j);
    services_.journal = journal_.get();
  }
  void close_journal() {
    services_.journal = nullptr;
    journal_.reset();
  }
  // For wait_until: looks every 50 ms (each look opens a connection to the journal).
  bool dlq_empty() {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return dead_letters().empty();
  }
  std::vector<journal::DeadLetter> dead_letters() {
    journal_->flush();
    auto dlq = journal::DeadLetters::open(dir_ / "state");
    EXPECT_TRUE(dlq);
    auto list = dlq->list({});
    return list ? *list : std::vector<journal::DeadLetter>{};
  }
  std::unique_ptr<journal::Journal> journal_;
};

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
  {
    std::lock_guard lock(test::UntilDoneSource::mutex);
    test::UntilDoneSource::answered.clear();
    test::UntilDoneSource::seen_before.clear();
  }
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
