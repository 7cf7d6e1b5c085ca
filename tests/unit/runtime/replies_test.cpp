// The engine's reply service: requests a source parked, answered by a sink or timed out on
// the engine's clock.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "runtime/io.hpp"
#include "runtime/replies.hpp"

namespace switchyard::runtime {
namespace {

using namespace std::chrono_literals;

class RepliesTest : public ::testing::Test {
 protected:
  RepliesTest() { io_.start(); }
  ~RepliesTest() override { io_.stop(); }

  // Parks `id` and returns a future of what its handler gets.
  std::future<std::optional<Reply>> park(PipelineReplies& replies, const std::string& id, std::chrono::milliseconds within) {
    auto promise = std::make_shared<std::promise<std::optional<Reply>>>();
    auto future = promise->get_future();
    replies.park(id, within, [promise](std::optional<Reply> r) { promise->set_value(std::move(r)); });
    return future;
  }

  Io io_{2};
};

TEST_F(RepliesTest, AnAnswerReachesTheParkedRequestOnce) {
  PipelineReplies replies(io_.make_strand());
  auto got = park(replies, "ev-1", 5s);
  EXPECT_TRUE(replies.answer("ev-1", Reply{.status = 201, .body = "{\"ok\":true}"}));
  ASSERT_EQ(got.wait_for(1s), std::future_status::ready);
  const auto reply = got.get();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 201);
  EXPECT_EQ(reply->body, "{\"ok\":true}");
  EXPECT_FALSE(replies.answer("ev-1", Reply{})) << "a second answer finds nobody waiting";
  EXPECT_FALSE(replies.answer("never-parked", Reply{}));
  EXPECT_EQ(replies.parked(), 0u);
}

TEST_F(RepliesTest, ARequestThePipelineIsThroughWithGetsUnansweredAtOnceAndOnlyIfStillWaiting) {
  PipelineReplies replies(io_.make_strand());
  EXPECT_FALSE(replies.waiting("ev-1"));
  EXPECT_FALSE(replies.unanswered("ev-1")) << "nothing parked: nothing to tell";
  auto got = park(replies, "ev-1", 5s);
  EXPECT_TRUE(replies.waiting("ev-1"));
  EXPECT_FALSE(replies.waiting("ev-2"));
  EXPECT_TRUE(replies.unanswered("ev-1"));
  ASSERT_EQ(got.wait_for(1s), std::future_status::ready);
  const auto reply = got.get();
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->unanswered);
  EXPECT_FALSE(replies.waiting("ev-1"));
  // Answered by a sink first: the pipeline's later "unanswered" changes nothing.
  auto answered = park(replies, "ev-3", 5s);
  EXPECT_TRUE(replies.answer("ev-3", Reply{.status = 200, .body = "hi"}));
  EXPECT_FALSE(replies.unanswered("ev-3"));
  ASSERT_EQ(answered.wait_for(1s), std::future_status::ready);
  EXPECT_FALSE(answered.get()->unanswered);
}

TEST_F(RepliesTest, ARequestNobodyAnswersTimesOutWithNoReply) {
  PipelineReplies replies(io_.make_strand());
  const auto start = std::chrono::steady_clock::now();
  auto late = park(replies, "late", 150ms);
  auto later = park(replies, "later", 300ms);
  ASSERT_EQ(late.wait_for(2s), std::future_status::ready);
  EXPECT_FALSE(late.get());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  EXPECT_EQ(later.wait_for(0ms), std::future_status::timeout) << "each request keeps its own deadline";
  ASSERT_EQ(later.wait_for(2s), std::future_status::ready);
  EXPECT_FALSE(later.get());
  EXPECT_FALSE(replies.answer("late", Reply{}));
}

TEST_F(RepliesTest, AnEarlierDeadlineParkedLaterStillFiresFirst) {
  PipelineReplies replies(io_.make_strand());
  auto slow = park(replies, "slow", 10s);
  auto quick = park(replies, "quick", 100ms);
  ASSERT_EQ(quick.wait_for(2s), std::future_status::ready);
  EXPECT_FALSE(quick.get());
  EXPECT_EQ(replies.parked(), 1u);
  EXPECT_TRUE(replies.answer("slow", Reply{}));
}

TEST_F(RepliesTest, WithdrawTakesTheRequestBackWithoutCallingIt) {
  PipelineReplies replies(io_.make_strand());
  std::atomic<int> calls{0};
  replies.park("ev", 100ms, [&](std::optional<Reply>) { ++calls; });
  EXPECT_TRUE(replies.withdraw("ev"));
  EXPECT_FALSE(replies.withdraw("ev"));
  std::this_thread::sleep_for(300ms);  // past the deadline: the handler must stay uncalled
  EXPECT_EQ(calls, 0);
}

TEST_F(RepliesTest, ParkingAnIdAgainReleasesTheEarlierRequest) {
  PipelineReplies replies(io_.make_strand());
  auto first = park(replies, "dup", 5s);
  auto second = park(replies, "dup", 5s);
  ASSERT_EQ(first.wait_for(1s), std::future_status::ready);
  EXPECT_FALSE(first.get());
  EXPECT_TRUE(replies.answer("dup", Reply{.body = "x"}));
  EXPECT_EQ(second.get()->body, "x");
}

TEST_F(RepliesTest, CloseReleasesEveryRequestAndLaterParksAtOnce) {
  auto replies = std::make_unique<PipelineReplies>(io_.make_strand());
  auto a = park(*replies, "a", 10s);
  auto b = park(*replies, "b", 10s);
  replies->close();
  ASSERT_EQ(a.wait_for(0ms), std::future_status::ready);
  ASSERT_EQ(b.wait_for(0ms), std::future_status::ready);
  EXPECT_FALSE(a.get());
  auto c = park(*replies, "c", 10s);
  ASSERT_EQ(c.wait_for(0ms), std::future_status::ready) << "a stopped pipeline answers nothing";
  EXPECT_FALSE(replies->answer("c", Reply{}));
  replies.reset();  // destroyed with its timer pending: no handler runs on freed memory
}

}  // namespace
}  // namespace switchyard::runtime
