// The `reply` sink with the SDK's harness: what it hands to the request its event came from.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "reply.hpp"

namespace switchyard::core {
namespace {

using testing::Harness;
using testing::make_event;
using namespace std::chrono_literals;

// Parks a request for `event` as a source would; the handler records what it got.
struct Parked {
  std::optional<std::optional<Reply>> got;
  Parked(Harness& h, const Event& event) {
    h.replies().park(event.id, 5s, [this](std::optional<Reply> r) { got = std::move(r); });
  }
};

TEST(Reply, AnswersTheParkedRequestWithTheRenderedBodyStatusAndHeaders) {
  Harness h(kReplyDecl, R"({"body": {"text": "Deploying ${{ payload.text }}", "count": "${{ payload.n }}"},
                            "status": "${{ payload.n > 1 && 201 || 200 }}",
                            "headers": {"X-Command": "${{ event.subject }}"}})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("slack.command", R"({"text": "api", "n": 2})");
  event->subject = "/deploy";
  Parked parked(h, *event);
  ASSERT_TRUE(h.deliver(std::move(event)));
  ASSERT_TRUE(parked.got && *parked.got);
  const Reply& r = **parked.got;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"text":"Deploying api","count":2})");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.headers.get("X-Command").value_or(""), "/deploy");
}

TEST(Reply, TextAnswersArePlainText) {
  Harness h(kReplyDecl, R"({"text": "hello ${{ payload.who }}"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("http.request", R"({"who": "Ada"})");
  Parked parked(h, *event);
  ASSERT_TRUE(h.deliver(std::move(event)));
  EXPECT_EQ((*parked.got)->body, "hello Ada");
  EXPECT_EQ((*parked.got)->content_type, "text/plain; charset=utf-8");
}

TEST(Reply, ANobodyWaitingIsIgnoredByDefaultAndDeadLetteredWithLateFail) {
  Harness ignore(kReplyDecl, R"({"text": "x"})");
  ASSERT_TRUE(ignore.configure());
  EXPECT_TRUE(ignore.deliver(make_event("t", "{}")));
  EXPECT_TRUE(ignore.logs().contains("no request waits for event", LogLevel::info));

  Harness fail(kReplyDecl, R"({"text": "x", "late": "fail"})");
  ASSERT_TRUE(fail.configure());
  const Status s = fail.deliver(make_event("t", "{}"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::permanent);
  EXPECT_NE(s.error().message.find("no request waits for event"), std::string::npos);
}

TEST(Reply, AStatusThatIsNoHttpStatusOrAHeaderWithALineBreakFailsTheEventAndAnswersNothing) {
  Harness h(kReplyDecl, R"({"text": "x", "status": "${{ payload.code }}", "headers": {"X-A": "${{ payload.a }}"}})");
  ASSERT_TRUE(h.configure());
  auto bad_status = make_event("t", R"({"code": "abc", "a": "fine"})");
  Parked p1(h, *bad_status);
  Status s = h.deliver(std::move(bad_status));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not an HTTP status"), std::string::npos);
  EXPECT_FALSE(p1.got) << "the request still waits (and gets its source's own answer in time)";

  auto injected = make_event("t", R"({"code": 200, "a": "v\r\nSet-Cookie: x=1"})");
  Parked p2(h, *injected);
  s = h.deliver(std::move(injected));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("line break"), std::string::npos);
  EXPECT_FALSE(p2.got);
}

TEST(Reply, BodyAndTextTogetherAreAConfigurationError) {
  Harness h(kReplyDecl, R"({"text": "x", "body": {"a": 1}})");
  const Status s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not both"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::core
