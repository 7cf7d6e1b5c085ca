// The http.request transform run alone with the SDK's harness and a scripted client.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "http_request.hpp"

namespace switchyard::http_plugin {
namespace {

using testing::Harness;
using std::chrono::milliseconds;

std::unique_ptr<Event> push(std::string_view login = "octocat") {
  auto e = std::make_unique<Event>();
  e->id = "ev-1";
  e->type = "github.push";
  e->data.Parse((R"({"sender":{"login":")" + std::string(login) + R"("},"ref":"refs/heads/main"})").c_str());
  return e;
}

HttpClientResponse answer(int status, std::string body = {}) {
  HttpClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

TEST(HttpRequest, GetsTheRenderedUrlAndAttachesTheJsonAnswerToMeta) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/users/${{ urlencode(payload.sender.login) }}",
                                  "headers": {"Authorization": "Bearer t"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200, R"({"name":"The Octocat","id":583231})"); });
  auto event = push();
  auto verdict = h.apply(*event);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_EQ(*verdict, Verdict::keep);
  ASSERT_EQ(h.http_requests().size(), 1u);
  const auto& req = h.http_requests()[0];
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.url, "https://api.example.com/users/octocat");
  EXPECT_EQ(req.headers.get("Authorization"), std::optional<std::string_view>("Bearer t"));
  EXPECT_EQ(req.headers.get("Accept"), std::optional<std::string_view>("application/json"));
  EXPECT_EQ(json(event->meta["response"]), R"({"name":"The Octocat","id":583231})");
  EXPECT_STREQ(event->data["ref"].GetString(), "refs/heads/main");  // the payload is untouched
  h.stop();
}

TEST(HttpRequest, PostsABodyTemplateAndAttachesIntoThePayload) {
  Harness h(kHttpRequestDecl, R"({"url": "http://127.0.0.1:1/lookup", "method": "POST",
                                  "body": {"login": "${{ payload.sender.login }}"}, "into": "payload.enrichment.user"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200, R"(["admin"])"); });
  auto event = push();
  ASSERT_EQ(*h.apply(*event), Verdict::keep);
  const auto& req = h.http_requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.body, R"({"login":"octocat"})");
  EXPECT_EQ(req.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  EXPECT_EQ(json(event->data["enrichment"]["user"]), R"(["admin"])");
}

TEST(HttpRequest, RefusesAUrlWhoseHostAnExpressionDecides) {
  for (const char* url : {"${{ payload.url }}", "https://${{ payload.host }}/x", "https://api.example.com${{ payload.path }}",
                          "ftp://example.com/x"}) {
    Harness h(kHttpRequestDecl, std::string(R"({"url": ")") + url + R"("})");
    Status s = h.configure();
    ASSERT_FALSE(s) << url;
    EXPECT_EQ(s.error().kind, ErrorKind::invalid_config);
    EXPECT_NE(s.error().message.find("url:"), std::string::npos) << s.error().message;
  }
}

TEST(HttpRequest, AnEventCannotClimbOutOfThePinnedPath) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/users/${{ payload.sender.login }}", "on_error": "fail"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200, "{}"); });
  for (std::string_view login : {"../admin", "%2e%2E/admin", "a b", R"(x\\y)"}) {
    auto event = push(login);
    auto verdict = h.apply(*event);
    ASSERT_FALSE(verdict) << login;
    EXPECT_EQ(verdict.error().kind, ErrorKind::permanent);
  }
  EXPECT_TRUE(h.http_requests().empty());
  auto event = push("..dots-are-fine..");
  EXPECT_TRUE(h.apply(*event));
}

TEST(HttpRequest, OnErrorFailDropOrPass) {
  struct Case {
    const char* on_error;
    bool ok;
    Verdict verdict;
  };
  for (const Case& c : {Case{"fail", false, Verdict::keep}, Case{"drop", true, Verdict::drop}, Case{"pass", true, Verdict::keep}}) {
    Harness h(kHttpRequestDecl, std::string(R"({"url": "https://api.example.com/x", "on_error": ")") + c.on_error + "\"}");
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    h.respond_with([](const HttpClientRequest&) { return answer(404, R"({"message":"Not Found"})"); });
    auto event = push();
    auto verdict = h.apply(*event);
    ASSERT_EQ(bool(verdict), c.ok) << c.on_error;
    if (!c.ok) {
      EXPECT_NE(verdict.error().message.find("HTTP 404"), std::string::npos) << verdict.error().message;
      continue;
    }
    EXPECT_EQ(*verdict, c.verdict) << c.on_error;
    if (c.verdict == Verdict::keep) {
      ASSERT_TRUE(event->meta.HasMember("response"));
      EXPECT_TRUE(event->meta["response"].IsNull());
    }
    EXPECT_TRUE(h.logs().contains("HTTP 404", LogLevel::warn)) << c.on_error;
    EXPECT_EQ(h.metrics().value("switchyard_http_request_failures_total"), 1);
  }
}

TEST(HttpRequest, AnAnswerThatIsNotJsonOrIsEmpty) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/x", "on_error": "fail"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200, "<html>hi</html>"); });
  auto event = push();
  auto verdict = h.apply(*event);
  ASSERT_FALSE(verdict);
  EXPECT_NE(verdict.error().message.find("not JSON"), std::string::npos);
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  event = push();
  ASSERT_TRUE(h.apply(*event));
  EXPECT_TRUE(event->meta["response"].IsNull());
}

TEST(HttpRequest, HoldsAtMostConcurrencyRequestsOut) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/x", "concurrency": 1, "timeout": "2s",
                                  "max_response": "64KiB", "ca_file": "/etc/ssl/private-ca.pem"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  ASSERT_EQ(h.context().client_options.size(), 1u);
  EXPECT_EQ(h.context().client_options[0].request_timeout, milliseconds(2000));
  EXPECT_EQ(h.context().client_options[0].max_response_bytes, 64u * 1024);
  EXPECT_EQ(h.context().client_options[0].ca_file, "/etc/ssl/private-ca.pem");
  EXPECT_FALSE(h.context().client_options[0].insecure_skip_verify);
  h.respond_with([](const HttpClientRequest&) { return answer(200, "{}"); });
  auto& transform = h.component<HttpRequestTransform>();
  auto first = push(), second = push();
  std::optional<Result<Verdict>> a, b;
  transform.process(*first, [&](Result<Verdict> v) { a = std::move(v); });
  transform.process(*second, [&](Result<Verdict> v) { b = std::move(v); });
  EXPECT_EQ(h.http_requests().size(), 1u);  // the second waits for the slot
  h.advance(milliseconds(10));
  ASSERT_TRUE(a && *a);
  ASSERT_TRUE(b && *b);
  EXPECT_EQ(h.http_requests().size(), 2u);
}

TEST(HttpRequest, CachesAGetForItsTtlAndSharesOneRequest) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/users/${{ payload.sender.login }}", "cache_ttl": "1m"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  int served = 0;
  h.respond_with([&](const HttpClientRequest&) { return answer(200, R"({"n":)" + std::to_string(++served) + "}"); });
  // Two events at once for the same user share one request.
  auto& transform = h.component<HttpRequestTransform>();
  auto e1 = push(), e2 = push();
  std::optional<Result<Verdict>> v1, v2;
  transform.process(*e1, [&](Result<Verdict> v) { v1 = std::move(v); });
  transform.process(*e2, [&](Result<Verdict> v) { v2 = std::move(v); });
  h.advance(milliseconds(10));
  ASSERT_TRUE(v1 && *v1 && v2 && *v2);
  EXPECT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(json(e2->meta["response"]), R"({"n":1})");
  // Later, within the TTL: from the cache.
  h.advance(milliseconds(30'000));
  auto e3 = push();
  ASSERT_TRUE(h.apply(*e3));
  EXPECT_EQ(json(e3->meta["response"]), R"({"n":1})");
  EXPECT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(h.metrics().value("switchyard_http_request_cache_hits_total"), 1);
  // Another user: its own request.
  auto other = push("hubot");
  ASSERT_TRUE(h.apply(*other));
  EXPECT_EQ(h.http_requests().size(), 2u);
  // Past the TTL: asked again.
  h.advance(milliseconds(31'000));
  auto e4 = push();
  ASSERT_TRUE(h.apply(*e4));
  EXPECT_EQ(json(e4->meta["response"]), R"({"n":3})");
  EXPECT_EQ(h.http_requests().size(), 3u);
  h.stop();
}

TEST(HttpRequest, FailuresAreNotCached) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/x", "cache_ttl": "1m", "on_error": "pass"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  int status = 503;
  h.respond_with([&](const HttpClientRequest&) { return answer(status, R"({"ok":true})"); });
  auto e1 = push();
  ASSERT_TRUE(h.apply(*e1));
  EXPECT_TRUE(e1->meta["response"].IsNull());
  status = 200;
  auto e2 = push();
  ASSERT_TRUE(h.apply(*e2));
  EXPECT_EQ(json(e2->meta["response"]), R"({"ok":true})");
  EXPECT_EQ(h.http_requests().size(), 2u);
}

TEST(HttpRequest, ByDefaultAFailedCallPassesTheEventOnWithinFiveSeconds) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/x"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_EQ(h.context().client_options[0].request_timeout, milliseconds(5000));
  h.respond_with([](const HttpClientRequest&) -> Result<HttpClientResponse> { return retryable("connection refused"); });
  auto event = push();
  auto verdict = h.apply(*event);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(*verdict, Verdict::keep);
  EXPECT_TRUE(event->meta["response"].IsNull());
  EXPECT_TRUE(h.logs().contains("connection refused", LogLevel::warn));
}

TEST(HttpRequest, RefusesInconsistentOptions) {
  for (const char* options : {R"({"url": "https://a.example/x", "body": {"a": 1}})",
                              R"({"url": "https://a.example/x", "method": "POST", "cache_ttl": "1m"})",
                              R"({"url": "https://a.example/x", "into": "response"})",
                              R"({"url": "https://a.example/x", "concurrency": 0})"}) {
    Harness h(kHttpRequestDecl, options);
    EXPECT_FALSE(h.configure()) << options;
  }
}

TEST(HttpRequest, StopDecidesTheEventsStillWaiting) {
  Harness h(kHttpRequestDecl, R"({"url": "https://api.example.com/x"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200, "{}"); });
  auto event = push();
  std::optional<Result<Verdict>> verdict;
  h.component<HttpRequestTransform>().process(*event, [&](Result<Verdict> v) { verdict = std::move(v); });
  h.component<HttpRequestTransform>().stop();  // before the executor delivers the answer
  ASSERT_TRUE(verdict);
  ASSERT_FALSE(*verdict);
  EXPECT_EQ(verdict->error().kind, ErrorKind::retryable);
  h.advance(milliseconds(100));  // the client's late answer goes nowhere
}

TEST(ResponseCache, EvictsTheLeastRecentlyUsedPastItsSizeAndExpiresOnTime) {
  testing::ManualExecutor executor;
  ResponseCache cache(executor, milliseconds(1000), 100);
  auto doc = std::make_shared<const rapidjson::Document>();
  cache.put("a", doc, 40);
  cache.put("b", doc, 40);
  ASSERT_TRUE(cache.find("a"));  // a is now the most recent
  cache.put("c", doc, 40);       // 120 > 100: b goes
  EXPECT_TRUE(cache.find("a"));
  EXPECT_FALSE(cache.find("b"));
  EXPECT_TRUE(cache.find("c"));
  EXPECT_EQ(cache.bytes(), 80u);
  cache.put("huge", doc, 101);  // larger than the whole cache: not kept, nothing evicted
  EXPECT_FALSE(cache.find("huge"));
  EXPECT_EQ(cache.entries(), 2u);
  executor.advance(milliseconds(999));
  EXPECT_TRUE(cache.find("a"));
  executor.advance(milliseconds(1));
  EXPECT_FALSE(cache.find("a"));
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace switchyard::http_plugin
