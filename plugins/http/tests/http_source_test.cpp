// The http source run alone with the SDK's harness.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <switchyard/testing.hpp>

#include "common/signing.hpp"
#include "http_source.hpp"

namespace switchyard::http_plugin {
namespace {

using testing::Harness;

TEST(HttpSource, JsonBodyBecomesDataAndSelectedHeadersMeta) {
  Harness h(kHttpSourceDecl, R"({"path": "/in", "event_type": "deploy.requested",
                                 "headers": ["X-Team"], "id_header": "X-Request-Id"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  HttpHeaders headers;
  headers.add("X-Team", "infra");
  headers.add("X-Request-Id", "req-1");
  const auto r = h.request("POST", "/in", headers, R"({"service":"api","version":3})");
  EXPECT_EQ(r.status, 202);
  EXPECT_NE(r.body.find("req-1"), std::string::npos);
  ASSERT_EQ(h.emitted().size(), 1u);
  const Event& e = *h.emitted()[0];
  EXPECT_EQ(e.id, "req-1");
  EXPECT_EQ(e.type, "deploy.requested");
  EXPECT_EQ(e.source, "switchyard://http/in");
  EXPECT_EQ(e.data["version"].GetInt(), 3);
  EXPECT_STREQ(e.meta["x-team"].GetString(), "infra");
}

TEST(HttpSource, NonJsonBodyBecomesAString) {
  Harness h(kHttpSourceDecl, R"({"path": "/in"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_EQ(h.request("POST", "/in", {}, "plain text, not JSON").status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  ASSERT_TRUE(h.emitted()[0]->data.IsString());
  EXPECT_STREQ(h.emitted()[0]->data.GetString(), "plain text, not JSON");
  EXPECT_EQ(h.emitted()[0]->id.size(), 36u);
}

TEST(HttpSource, BytesThatAreNotUtf8AreRefusedNotPassedOnAsText) {
  // As a string payload they would make every CloudEvent, JSON line and WebSocket frame
  // written from the event invalid.
  Harness h(kHttpSourceDecl, R"({"path": "/in", "headers": ["X-Team"], "id_header": "X-Request-Id"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const auto bad = h.request("POST", "/in", {}, "caf\xe9");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("neither JSON nor UTF-8 text (byte 3)"), std::string::npos) << bad.body;
  HttpHeaders team;
  team.add("X-Team", "\xff");
  EXPECT_EQ(h.request("POST", "/in", team, "{}").status, 400);
  EXPECT_TRUE(h.emitted().empty());
  // UTF-8 text is fine; an id that is not printable ASCII is replaced by a fresh one.
  HttpHeaders id;
  id.add("X-Request-Id", "req\xc3\xa9");
  EXPECT_EQ(h.request("POST", "/in", id, "caf\xc3\xa9").status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_STREQ(h.emitted()[0]->data.GetString(), "caf\xc3\xa9");
  EXPECT_EQ(h.emitted()[0]->id.size(), 36u);
}

TEST(HttpSource, TokenAuthRefusesMissingAndWrongTokens) {
  Harness h(kHttpSourceDecl, R"({"path": "/in", "auth": "token", "secret": ["t0ken", "n3w"]})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_EQ(h.request("POST", "/in", {}, "{}").status, 401);
  HttpHeaders wrong;
  wrong.add("Authorization", "Bearer nope");
  EXPECT_EQ(h.request("POST", "/in", wrong, "{}").status, 401);
  HttpHeaders right;
  right.add("authorization", "Bearer n3w");
  EXPECT_EQ(h.request("POST", "/in", right, "{}").status, 202);
  EXPECT_EQ(h.emitted().size(), 1u);
}

TEST(HttpSource, HmacAuthChecksTheRawBody) {
  Harness h(kHttpSourceDecl, R"({"path": "/in", "auth": "hmac-sha256", "secret": "k",
                                 "signature_header": "X-Sig"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  HttpHeaders headers;
  headers.add("X-Sig", signing::sign("k", R"({"a":1})"));
  EXPECT_EQ(h.request("POST", "/in", headers, R"({"a":1})").status, 202);
  EXPECT_EQ(h.request("POST", "/in", headers, R"({"a":2})").status, 401);
  EXPECT_EQ(h.request("POST", "/in", {}, R"({"a":1})").status, 401);
  EXPECT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.metrics().value("switchyard_signature_failures_total"), 2);
}

TEST(HttpSource, SaturatedPipelineGets503) {
  Harness h(kHttpSourceDecl, R"({"path": "/in"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.emitter().capacity = 0;
  const auto r = h.request("POST", "/in", {}, "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.get("Retry-After"), std::optional<std::string_view>("1"));
}

TEST(HttpSource, DeeplyNestedJsonIs400) {
  Harness h(kHttpSourceDecl, R"({"path": "/in"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const auto r = h.request("POST", "/in", {}, std::string(50000, '[') + std::string(50000, ']'));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper"), std::string::npos);
  EXPECT_TRUE(h.emitted().empty());
}

TEST(HttpSource, AuthWithoutSecretIsAConfigError) {
  Harness h(kHttpSourceDecl, R"({"path": "/in", "auth": "token"})");
  EXPECT_FALSE(h.configure());
  Harness bad_path(kHttpSourceDecl, R"({"path": "in"})");
  EXPECT_FALSE(bad_path.configure());
}

TEST(HttpSource, AnEmptySecretIsAConfigError) {
  // Anyone can compute an HMAC under an empty key, or present an empty bearer token.
  for (const char* auth : {"hmac-sha256", "token"}) {
    Harness h(kHttpSourceDecl, std::string(R"({"path": "/in", "secret": ["ok", ""], "auth": ")") + auth + "\"}");
    const Status configured = h.configure();
    ASSERT_FALSE(configured) << auth;
    EXPECT_NE(configured.error().message.find("must not be empty"), std::string::npos) << configured.error().message;
  }
}

}  // namespace
}  // namespace switchyard::http_plugin

namespace switchyard::http_plugin {
namespace {

using testing::Harness;

// Calls POST /api and, while the request waits, lets `answer` act as the pipeline's reply
// sink would (nullopt: nobody answers); returns the HTTP answer.
HttpResponse call_parked(Harness& h, std::function<std::optional<Reply>()> answer) {
  bool answered = false;
  return h.routes().call("POST", "/api", {}, R"({"name": "Ada"})", [&] {
    if (!answered && h.replies().parked() == 1 && !h.emitted().empty()) {
      answered = true;
      if (auto reply = answer()) {
        EXPECT_TRUE(h.replies().answer(h.emitted()[0]->id, std::move(*reply)));
      }
    }
    h.advance(std::chrono::milliseconds(10));
  });
}

TEST(HttpSource, WithReplyWithinTheAnswerIsThePipelinesReply) {
  Harness h(kHttpSourceDecl, R"({"path": "/api", "reply_within": "2s"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const auto r = call_parked(h, [] {
    Reply reply{.status = 201, .body = R"({"created":true})"};
    reply.headers.add("X-Trace", "t-1");
    return reply;
  });
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"created":true})");
  EXPECT_EQ(r.headers.get("X-Trace").value_or(""), "t-1");
  EXPECT_EQ(r.headers.get("Content-Type").value_or(""), "application/json");
  EXPECT_EQ(h.replies().parked(), 0u);
}

TEST(HttpSource, WithoutAReplyInTimeTheAnswerIs202WithTheEventId) {
  Harness h(kHttpSourceDecl, R"({"path": "/api", "reply_within": "500ms"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const auto before = h.executor().now();
  const auto r = call_parked(h, [] { return std::nullopt; });
  EXPECT_EQ(r.status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_NE(r.body.find(h.emitted()[0]->id), std::string::npos);
  EXPECT_GE(h.executor().now() - before, std::chrono::milliseconds(500));
  // A reply that comes now finds nobody waiting.
  EXPECT_FALSE(h.replies().answer(h.emitted()[0]->id, Reply{}));
}

TEST(HttpSource, ASecondRequestWithTheIdOfOneWaitingForItsReplyIs409) {
  // The reply goes by event id: a second request parked under a client-chosen id would have
  // taken the first one's reply (and the first would have had a bare 202).
  Harness h(kHttpSourceDecl, R"({"path": "/api", "reply_within": "2s", "id_header": "X-Request-Id"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  HttpHeaders id;
  id.add("X-Request-Id", "abc");
  std::optional<HttpResponse> second;
  const auto first = h.routes().call("POST", "/api", id, R"({"who": "first"})", [&] {
    if (!second && h.replies().parked() == 1) {
      second = h.routes().call("POST", "/api", id, R"({"who": "second"})", [&] { h.advance(std::chrono::milliseconds(10)); });
      EXPECT_TRUE(h.replies().answer("abc", Reply{.status = 201, .body = R"({"for":"first"})"}));
    }
    h.advance(std::chrono::milliseconds(10));
  });
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(first.body, R"({"for":"first"})");
  ASSERT_EQ(h.emitted().size(), 1u);
  // Once answered, the id is free again.
  const auto third = h.routes().call("POST", "/api", id, "{}", [&] { h.advance(std::chrono::milliseconds(10)); });
  EXPECT_EQ(third.status, 202);
}

TEST(HttpSource, ASaturatedPipelineIsAnswered503BeforeAnythingIsParked) {
  Harness h(kHttpSourceDecl, R"({"path": "/api", "reply_within": "2s"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.emitter().capacity = 0;
  const auto r = h.request("POST", "/api", {}, "{}");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.headers.get("Retry-After").has_value());
  EXPECT_EQ(h.replies().parked(), 0u);
}

// A pipeline whose refusal() check blocks until released: a request stays inside the handler.
class BlockingEmitter final : public Emitter {
 public:
  void emit(std::unique_ptr<Event>, EmitCallback done) override {
    ++emitted;
    if (done) done({});
  }
  bool saturated() const override { return false; }
  std::optional<Error> refusal() const override {
    std::unique_lock lock(mutex_);
    inside_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
    return std::nullopt;
  }
  void when_ready(std::function<void()>) override {}
  void wait_until_inside() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return inside_; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  std::atomic<int> emitted{0};

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  mutable bool inside_ = false;
  bool released_ = false;
};

TEST(HttpSource, DrainWaitsForTheRequestsAlreadyInsideTheHandler) {
  Harness h(kHttpSourceDecl, R"({"path": "/slow"})");
  BlockingEmitter pipeline;
  h.context().use_emitter(&pipeline);
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());

  std::optional<HttpResponse> answer;
  std::thread request([&] { answer = h.routes().call("POST", "/slow", {}, "{}"); });
  pipeline.wait_until_inside();
  std::atomic<bool> drained{false};
  h.component<HttpSource>().drain([&] { drained = true; });
  EXPECT_FALSE(drained) << "drained while a request was still inside the handler";
  EXPECT_EQ(h.routes().call("POST", "/slow", {}, "{}").status, 503) << "new requests are turned away meanwhile";
  pipeline.release();
  request.join();
  EXPECT_TRUE(drained) << "the last request leaving the handler ends the drain";
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 202);
  EXPECT_EQ(pipeline.emitted, 1);
  h.component<HttpSource>().stop();
}

}  // namespace
}  // namespace switchyard::http_plugin
