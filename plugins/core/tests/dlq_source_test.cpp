// The dlq source with the harness's recorded dead-letter queue.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "dlq_source.hpp"

namespace switchyard::core {
namespace {

using namespace std::chrono_literals;
using testing::Harness;

// A harness in pipeline "alerts".
std::unique_ptr<Harness> harness(const char* options = R"({"from": "all"})") {
  return std::make_unique<Harness>(kDlqDecl, options, "alerts");
}

std::int64_t fail(Harness& h, const std::string& pipeline, const std::string& event_id,
                  const std::string& component = "out") {
  DeadLetterEntry entry;
  entry.pipeline = pipeline;
  entry.component = component;
  entry.error = "HTTP 400: bad request";
  entry.attempts = 1;
  entry.failed_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'780'000'000'000));
  if (!event_id.empty()) {
    entry.event = testing::make_event("github.push", R"({"ref": "refs/heads/main", "n": 7})", "https://github.com/o/r");
    entry.event->id = event_id;
    entry.event->set_raw_data(R"({"ref":"refs/heads/main","n":7})");
  }
  return h.context().recorded_dead_letters().record(std::move(entry));
}

std::vector<std::string> ids(Harness& h) {
  std::vector<std::string> out;
  for (const auto& e : h.emitted()) out.push_back(e->id);
  return out;
}

std::optional<std::string> cursor(Harness& h) { return h.context().state().get(DlqSource::kCursorKey); }

TEST(DlqSource, EmitsOneEventPerEntryInOrderWithTheFailedEvent) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  fail(*h, "ci", "delivery-1");
  fail(*h, "ci", "");  // an entry whose stored event could not be read back
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  ASSERT_EQ(ids(*h), (std::vector<std::string>{"dlq-1", "dlq-2"}));
  const Event& e = *h->emitted()[0];
  EXPECT_EQ(e.type, "switchyard.dead_letter");
  EXPECT_EQ(e.source, "switchyard://ci/out");
  EXPECT_EQ(e.subject, "delivery-1");
  EXPECT_EQ(e.data["id"].GetInt64(), 1);
  EXPECT_STREQ(e.data["pipeline"].GetString(), "ci");
  EXPECT_STREQ(e.data["component"].GetString(), "out");
  EXPECT_STREQ(e.data["error"].GetString(), "HTTP 400: bad request");
  EXPECT_EQ(e.data["attempts"].GetUint(), 1u);
  EXPECT_STREQ(e.data["failed_at"].GetString(), "2026-05-28T20:26:40.000Z");
  const auto& failed = e.data["event"];
  ASSERT_TRUE(failed.IsObject());
  EXPECT_STREQ(failed["id"].GetString(), "delivery-1");
  EXPECT_STREQ(failed["type"].GetString(), "github.push");
  EXPECT_STREQ(failed["source"].GetString(), "https://github.com/o/r");
  EXPECT_EQ(failed["data"]["n"].GetInt(), 7);
  // The payload's bytes are kept: a sink forwarding the alert writes them as they are.
  EXPECT_NE(e.raw_data().find(R"("data":{"ref":"refs/heads/main","n":7})"), std::string_view::npos);
  EXPECT_TRUE(h->emitted()[1]->data["event"].IsNull());
  EXPECT_EQ(cursor(*h), "2");
}

TEST(DlqSource, FollowsEntriesRecordedLater) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_TRUE(h->emitted().empty());
  fail(*h, "ci", "a");
  h->executor().run_pending();
  fail(*h, "ci", "b");
  fail(*h, "ci", "c");
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-1", "dlq-2", "dlq-3"}));
}

TEST(DlqSource, ResumesAfterTheSavedCursor) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  for (const char* id : {"a", "b", "c"}) fail(*h, "ci", id);
  ASSERT_TRUE(h->context().state().put(DlqSource::kCursorKey, "2", 0ms));  // a previous run's place
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-3"}));
  EXPECT_EQ(cursor(*h), "3");
}

TEST(DlqSource, SavesTheCursorOnlyOnceTheEmitSucceeded) {
  // A pipeline that refuses (stopping, its journal full): the entry is tried again, and
  // until it is accepted the saved place stays before it.
  class Refusing final : public Emitter {
   public:
    void emit(std::unique_ptr<Event> event, EmitCallback done) override {
      if (refuse) return done(retryable("journal is full"));
      accepted.push_back(std::move(event));
      done({});
    }
    bool saturated() const override { return false; }
    void when_ready(std::function<void()>) override {}
    bool refuse = true;
    std::vector<std::unique_ptr<Event>> accepted;
  } emitter;
  auto h = harness();
  h->context().use_emitter(&emitter);
  ASSERT_TRUE(h->configure());
  fail(*h, "ci", "a");
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_TRUE(emitter.accepted.empty());
  EXPECT_EQ(cursor(*h), "0");
  EXPECT_TRUE(h->logs().contains("journal is full", LogLevel::warn));
  emitter.refuse = false;
  h->advance(1s);
  ASSERT_EQ(emitter.accepted.size(), 1u);
  EXPECT_EQ(emitter.accepted[0]->id, "dlq-1");
  EXPECT_EQ(cursor(*h), "1");
}

TEST(DlqSource, NeverTakesItsOwnPipelinesDeadLetters) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  fail(*h, "alerts", "own");  // the alert itself failed: alerting on it would loop
  fail(*h, "ci", "a");
  fail(*h, "alerts", "own-2");
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-2"}));
  EXPECT_EQ(cursor(*h), "3");  // skipped entries are passed for good

  Harness named(kDlqDecl, R"({"pipelines": ["ci", "alerts"]})", "alerts");
  auto s = named.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("own pipeline"), std::string::npos) << s.error().message;
  // A glob that matches it is fine: its own entries are skipped.
  Harness glob(kDlqDecl, R"({"pipelines": ["*"], "from": "all"})", "alerts");
  ASSERT_TRUE(glob.configure());
  fail(glob, "alerts", "own");
  fail(glob, "ci", "a");
  ASSERT_TRUE(glob.start());
  glob.executor().run_pending();
  EXPECT_EQ(ids(glob), (std::vector<std::string>{"dlq-2"}));
}

TEST(DlqSource, TakesOnlyTheListedPipelinesAndComponents) {
  auto h = harness(R"({"from": "all", "pipelines": ["ci-*"], "components": ["email", "transforms*"]})");
  ASSERT_TRUE(h->configure());
  fail(*h, "ci-alerts", "a", "email");
  fail(*h, "ci-alerts", "b", "slack");
  fail(*h, "teampulse", "c", "email");
  fail(*h, "ci-builds", "d", "transforms[1] 'map'");
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-1", "dlq-4"}));
  EXPECT_EQ(cursor(*h), "4");
}

TEST(DlqSource, FromNewTakesOnlyFailuresAfterItsFirstStart) {
  auto h = harness("{}");  // from: new, the default
  ASSERT_TRUE(h->configure());
  fail(*h, "ci", "old-1");
  fail(*h, "ci", "old-2");
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_TRUE(h->emitted().empty());
  EXPECT_EQ(cursor(*h), "2");  // kept: a restart does not skip what failed meanwhile
  fail(*h, "ci", "new");
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-3"}));
}

TEST(DlqSource, FromNewGoesOnFromTheSavedCursorOnLaterStarts) {
  auto h = harness("{}");
  ASSERT_TRUE(h->configure());
  fail(*h, "ci", "before-first-start");
  fail(*h, "ci", "while-it-was-down");
  ASSERT_TRUE(h->context().state().put(DlqSource::kCursorKey, "1", 0ms));
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-2"}));
}

TEST(DlqSource, RetriesAFailedReadWithATimer) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  auto& queue = h->context().recorded_dead_letters();
  fail(*h, "ci", "a");
  queue.fail_reads(retryable("journal read: disk I/O error"));
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_TRUE(h->emitted().empty());
  EXPECT_TRUE(h->logs().contains("disk I/O error", LogLevel::warn));
  const auto reads = queue.reads;
  h->advance(500ms);
  EXPECT_EQ(queue.reads, reads);  // not spinning
  queue.fail_reads(std::nullopt);
  h->advance(600ms);
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-1"}));
  EXPECT_TRUE(h->logs().contains("followed again", LogLevel::info));
}

TEST(DlqSource, WaitsWhileThePipelineIsSaturated) {
  auto h = harness(R"({"from": "all", "batch": 2})");
  ASSERT_TRUE(h->configure());
  h->emitter().capacity = 1;
  for (const char* id : {"a", "b", "c"}) fail(*h, "ci", id);
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-1"}));
  EXPECT_EQ(h->emitter().refused, 0u);  // it waits for room instead of being refused
  EXPECT_EQ(h->emitter().waiters.size(), 1u);
  EXPECT_EQ(cursor(*h), "1");
  auto first = h->emitter().take();
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-2"}));
  h->emitter().take();
  h->executor().run_pending();
  EXPECT_EQ(ids(*h), (std::vector<std::string>{"dlq-3"}));
  EXPECT_EQ(cursor(*h), "3");
}

TEST(DlqSource, ReadsInBatches) {
  auto h = harness(R"({"from": "all", "batch": 2})");
  ASSERT_TRUE(h->configure());
  for (const char* id : {"a", "b", "c", "d", "e"}) fail(*h, "ci", id);
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  EXPECT_EQ(h->emitted().size(), 5u);
  EXPECT_EQ(h->context().recorded_dead_letters().reads, 3u);
}

TEST(DlqSource, NothingRunsAfterStop) {
  auto h = harness();
  ASSERT_TRUE(h->configure());
  ASSERT_TRUE(h->start());
  h->executor().run_pending();
  h->stop();
  fail(*h, "ci", "a");
  h->executor().run_pending();
  EXPECT_TRUE(h->emitted().empty());
}

TEST(DlqSource, RejectsBadOptions) {
  for (const char* options : {R"({"batch": 0})", R"({"batch": 5000})", R"({"from": "oldest"})", R"({"components": [""]})"}) {
    Harness h(kDlqDecl, options, "alerts");
    EXPECT_FALSE(h.configure()) << options;
  }
}

TEST(DlqSource, GlobsMatchWholeNames) {
  EXPECT_TRUE(DlqSource::glob_match("ci-*", "ci-alerts"));
  EXPECT_TRUE(DlqSource::glob_match("*", ""));
  EXPECT_TRUE(DlqSource::glob_match("a*b*c", "axxbyyc"));
  EXPECT_TRUE(DlqSource::glob_match("transforms[?]", "transforms[0]"));
  EXPECT_FALSE(DlqSource::glob_match("ci-*", "xci-alerts"));
  EXPECT_FALSE(DlqSource::glob_match("ci", "ci-alerts"));
  EXPECT_FALSE(DlqSource::glob_match("a*b", "ab-"));
}

}  // namespace
}  // namespace switchyard::core
