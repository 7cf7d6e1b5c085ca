// filter, map, dedup and rate_limit with the harness and the engine's expressions.
#include <gtest/gtest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <switchyard/testing.hpp>

#include "dedup.hpp"
#include "filter.hpp"
#include "map.hpp"
#include "rate_limit.hpp"

namespace switchyard::core {
namespace {

using testing::Harness;
using testing::make_event;
using namespace std::chrono_literals;

std::string json(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return b.GetString();
}

constexpr const char* kRun = R"({"action": "completed",
  "workflow_run": {"id": 30433642, "name": "CI", "head_branch": "main", "conclusion": "failure",
                   "html_url": "https://github.com/octo/hello/actions/runs/30433642"},
  "repository": {"full_name": "octo/hello", "owner": {"login": "octo"}},
  "sender": {"login": "mona"}})";

TEST(Filter, KeepsOnlyEventsWhereTheConditionHolds) {
  Harness h(kFilterDecl, R"({"if": "${{ payload.action == 'completed' && payload.workflow_run.conclusion == 'failure' }}"})");
  ASSERT_TRUE(h.configure());
  auto failed = make_event("github.workflow_run.completed", kRun);
  EXPECT_EQ(*h.apply(*failed), Verdict::keep);
  auto ok = make_event("github.workflow_run.completed",
                       R"({"action": "completed", "workflow_run": {"conclusion": "success"}})");
  EXPECT_EQ(*h.apply(*ok), Verdict::drop);
  auto odd = make_event("x", "[1, 2, 3]");
  EXPECT_EQ(*h.apply(*odd), Verdict::drop) << "missing fields are null, not a crash";
}

TEST(Filter, ComparesStringsCaseInsensitivelyLikeGitHub) {
  Harness h(kFilterDecl, R"({"if": "${{ payload.workflow_run.conclusion == 'FAILURE' }}"})");
  ASSERT_TRUE(h.configure());
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::keep);
}

TEST(Filter, SyntaxErrorsAreReportedAtConfigure) {
  Harness h(kFilterDecl, R"({"if": "${{ payload.action == }}"})");
  auto s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("if: "), std::string::npos) << s.error().message;
}

TEST(Filter, PlainStringsAreNotConditions) {
  Harness h(kFilterDecl, R"({"if": "payload.action == 'completed'"})");
  auto s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("expected a condition: true, false or ${{ expression }}"), std::string::npos);
}

TEST(Filter, EnvContextSeesOnlyAllowedVariables) {
  ::setenv("SY_TEST_STAGE", "prod", 1);
  ::setenv("SY_TEST_SECRET", "hunter2", 1);
  testing::allow_env({"SY_TEST_STAGE"});
  Harness h(kFilterDecl, R"({"if": "${{ env.SY_TEST_STAGE == 'prod' }}"})");
  ASSERT_TRUE(h.configure());
  EXPECT_EQ(*h.apply(*make_event("x", "{}")), Verdict::keep);
  // A variable outside env.allow is a configuration error, not a silent null.
  Harness secret(kFilterDecl, R"({"if": "${{ env.SY_TEST_SECRET == null }}"})");
  const auto s = secret.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("env.SY_TEST_SECRET is not in the engine configuration's env.allow"),
            std::string::npos) << s.error().message;
  testing::allow_env({});
  EXPECT_EQ(*h.apply(*make_event("x", "{}")), Verdict::drop);
}

TEST(Map, BuildsANewTypedPayload) {
  Harness h(kMapDecl, R"({"payload": {"external_id": "${{ payload.workflow_run.id }}",
                                       "status": "${{ payload.workflow_run.conclusion }}",
                                       "title": "Build ${{ payload.workflow_run.name }} on ${{ payload.repository.full_name }}",
                                       "failed": "${{ payload.workflow_run.conclusion == 'failure' }}"},
                          "event_type": "ci.build.${{ payload.workflow_run.conclusion }}",
                          "subject": "${{ payload.workflow_run.head_branch }}"})");
  ASSERT_TRUE(h.configure());
  auto e = make_event("github.workflow_run.completed", kRun);
  ASSERT_EQ(*h.apply(*e), Verdict::keep);
  EXPECT_EQ(json(e->data),
            R"({"external_id":30433642,"status":"failure","title":"Build CI on octo/hello","failed":true})");
  EXPECT_EQ(e->type, "ci.build.failure");
  EXPECT_EQ(e->subject, "main");
}

TEST(Map, SetsAndDropsFieldsEvaluatedOnTheIncomingEvent) {
  Harness h(kMapDecl, R"({"set": {"repo": "${{ payload.repository.full_name }}",
                                   "meta.by": "${{ payload.sender.login }}",
                                   "sender": "${{ payload.workflow_run.id }}"},
                           "drop": ["workflow_run", "repository.owner"]})");
  ASSERT_TRUE(h.configure());
  auto e = make_event("x", kRun);
  ASSERT_TRUE(h.apply(*e));
  EXPECT_EQ(json(e->data),
            R"({"action":"completed","repository":{"full_name":"octo/hello"},"sender":30433642,)"
            R"("repo":"octo/hello","meta":{"by":"mona"}})");
}

TEST(Dedup, DropsRepeatsWithinTheWindowOnly) {
  Harness h(kDedupDecl, R"({"key": "${{ payload.workflow_run.id }}", "window": "1h"})");
  ASSERT_TRUE(h.configure());
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::keep);
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::drop);
  EXPECT_EQ(*h.apply(*make_event("x", R"({"workflow_run": {"id": 2}})")), Verdict::keep);
  h.advance(61min);
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::keep) << "the window has passed";
}

// Keys are remembered (StateStore::remember), not stored as entries; a key an earlier
// version stored as an entry still counts as seen.
TEST(Dedup, RemembersItsKeysAndHonoursOnesStoredAsEntries) {
  Harness h(kDedupDecl, R"({"key": "${{ payload.workflow_run.id }}", "window": "1h"})");
  ASSERT_TRUE(h.configure());
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::keep);
  auto& state = h.context().state();
  EXPECT_TRUE(state.remembers("k:30433642"));
  EXPECT_FALSE(state.get("k:30433642")) << "stored as an entry";
  ASSERT_TRUE(state.put("k:7", "1", 1h));  // as the version before wrote it
  EXPECT_EQ(*h.apply(*make_event("x", R"({"workflow_run": {"id": 7}})")), Verdict::drop);
}

TEST(RateLimit, AllowsTheBurstThenRefillsAtTheRate) {
  Harness h(kRateLimitDecl, R"({"rate": 60, "per": "1m", "burst": 3})");
  ASSERT_TRUE(h.configure());
  auto& t = h.component<RateLimitTransform>();
  const auto t0 = RateLimitTransform::Clock::now();
  EXPECT_EQ(t.admit("", t0).verdict, Verdict::keep);
  EXPECT_EQ(t.admit("", t0).verdict, Verdict::keep);
  EXPECT_EQ(t.admit("", t0).verdict, Verdict::keep);
  EXPECT_EQ(t.admit("", t0).verdict, Verdict::drop);
  EXPECT_EQ(t.admit("", t0 + 999ms).verdict, Verdict::drop);
  EXPECT_EQ(t.admit("", t0 + 1001ms).verdict, Verdict::keep) << "one token per second at 60/min";
  EXPECT_EQ(t.admit("", t0 + 1002ms).verdict, Verdict::drop);
}

TEST(RateLimit, KeysHaveSeparateBuckets) {
  Harness h(kRateLimitDecl, R"({"rate": 1, "per": "1h", "key": "${{ payload.repository.full_name }}"})");
  ASSERT_TRUE(h.configure());
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::keep);
  EXPECT_EQ(*h.apply(*make_event("x", kRun)), Verdict::drop);
  EXPECT_EQ(*h.apply(*make_event("x", R"({"repository": {"full_name": "octo/other"}})")), Verdict::keep);
}

TEST(RateLimit, DelayModeSpacesEventsOverTheLimitAtTheRate) {
  Harness h(kRateLimitDecl, R"({"rate": 60, "per": "1m", "burst": 2, "over_limit": "delay", "max_delay": "3s"})");
  ASSERT_TRUE(h.configure());
  auto& t = h.component<RateLimitTransform>();
  const auto t0 = RateLimitTransform::Clock::now();
  EXPECT_EQ(t.admit("", t0).delay, 0ms);
  EXPECT_EQ(t.admit("", t0).delay, 0ms) << "the burst goes at once";
  const auto third = t.admit("", t0);
  EXPECT_EQ(third.verdict, Verdict::keep);
  EXPECT_EQ(third.delay, 1000ms) << "one token per second: the next is a second away";
  EXPECT_EQ(t.admit("", t0).delay, 2000ms);
  EXPECT_EQ(t.admit("", t0).delay, 3000ms);
  EXPECT_EQ(t.admit("", t0).verdict, Verdict::drop) << "4 s would exceed max_delay";
  EXPECT_EQ(t.admit("", t0 + 1000ms).delay, 3000ms) << "a second later the queue is a second shorter";
  EXPECT_EQ(t.admit("", t0 + 10s).verdict, Verdict::keep);
}

TEST(RateLimit, DelayModeSetsNotBeforeOnTheEvent) {
  Harness h(kRateLimitDecl, R"({"rate": 1, "per": "1h", "over_limit": "delay", "max_delay": "2h"})");
  ASSERT_TRUE(h.configure());
  auto first = make_event("x", kRun);
  EXPECT_EQ(*h.apply(*first), Verdict::keep);
  EXPECT_EQ(first->not_before, std::chrono::system_clock::time_point{}) << "within the limit: no delay";
  auto second = make_event("x", kRun);
  const auto before = std::chrono::system_clock::now();
  EXPECT_EQ(*h.apply(*second), Verdict::keep);
  EXPECT_GE(second->not_before, before + 59min);
  EXPECT_LE(second->not_before, std::chrono::system_clock::now() + 61min);
}

TEST(RateLimit, RejectsAnUnknownOverLimitMode) {
  Harness h(kRateLimitDecl, R"({"rate": 1, "over_limit": "queue"})");
  EXPECT_FALSE(h.configure());
}

TEST(RateLimit, RejectsAZeroRate) {
  Harness h(kRateLimitDecl, R"({"rate": 0})");
  auto s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "rate: must be at least 1");
}

}  // namespace
}  // namespace switchyard::core
