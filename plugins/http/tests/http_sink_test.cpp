// The http sink run alone with the SDK's harness and a scripted client.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "http_sink.hpp"

namespace switchyard::http_plugin {
namespace {

using testing::Harness;

EventPtr sample() {
  auto e = std::make_shared<Event>();
  e->id = "ev-1";
  e->type = "github.push";
  e->source = "https://github.com/octo/app";
  e->data.Parse(R"({"ref":"refs/heads/main"})");
  return e;
}

HttpClientResponse answer(int status, std::string retry_after = {}) {
  HttpClientResponse r;
  r.status = status;
  if (!retry_after.empty()) r.headers.add("Retry-After", retry_after);
  return r;
}

TEST(HttpSink, PostsTheStructuredCloudEventByDefault) {
  Harness h(kHttpSinkDecl, R"({"url": "https://hooks.example.com/x", "headers": {"Authorization": "Bearer t"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  EXPECT_TRUE(h.deliver(sample()));
  ASSERT_EQ(h.http_requests().size(), 1u);
  const auto& req = h.http_requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://hooks.example.com/x");
  EXPECT_EQ(req.headers.get("Content-Type"), std::optional<std::string_view>("application/cloudevents+json"));
  EXPECT_EQ(req.headers.get("Authorization"), std::optional<std::string_view>("Bearer t"));
  EXPECT_EQ(req.headers.get("Idempotency-Key"), std::optional<std::string_view>("ev-1"));
  rapidjson::Document body;
  body.Parse(req.body.c_str());
  ASSERT_FALSE(body.HasParseError()) << req.body;
  EXPECT_STREQ(body["specversion"].GetString(), "1.0");
  EXPECT_STREQ(body["type"].GetString(), "github.push");
  EXPECT_STREQ(body["data"]["ref"].GetString(), "refs/heads/main");
}

TEST(HttpSink, FormatDataSendsThePayloadAlone) {
  Harness h(kHttpSinkDecl, R"({"url": "http://127.0.0.1:1/x", "format": "data", "method": "PUT"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200); });
  EXPECT_TRUE(h.deliver(sample()));
  EXPECT_EQ(h.http_requests()[0].method, "PUT");
  EXPECT_EQ(h.http_requests()[0].body, R"({"ref":"refs/heads/main"})");
}

TEST(HttpSink, ClassifiesAnswersForTheDeliveryLayer) {
  Harness h(kHttpSinkDecl, R"({"url": "https://x.example/y"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  int status = 429;
  h.respond_with([&](const HttpClientRequest&) { return answer(status, "7"); });
  Status s = h.deliver(sample());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::retryable);
  EXPECT_EQ(s.error().retry_after, std::chrono::milliseconds(7000));
  status = 503;
  EXPECT_EQ(h.deliver(sample()).error().kind, ErrorKind::retryable);
  status = 400;
  s = h.deliver(sample());
  EXPECT_EQ(s.error().kind, ErrorKind::permanent);
  EXPECT_NE(s.error().message.find("HTTP 400"), std::string::npos);
  h.respond_with([](const HttpClientRequest&) -> Result<HttpClientResponse> {
    return retryable("connection refused");
  });
  EXPECT_EQ(h.deliver(sample()).error().kind, ErrorKind::retryable);
}

TEST(HttpSink, ClientGetsTheConfiguredTlsAndTimeouts) {
  Harness h(kHttpSinkDecl, R"({"url": "https://x.example/y", "ca_file": "/etc/ca.pem", "timeout": "3s"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  ASSERT_EQ(h.context().client_options.size(), 1u);
  EXPECT_EQ(h.context().client_options[0].ca_file, "/etc/ca.pem");
  EXPECT_EQ(h.context().client_options[0].request_timeout, std::chrono::milliseconds(3000));
  EXPECT_FALSE(h.context().client_options[0].insecure_skip_verify);
}

TEST(HttpSink, RefusesANonHttpUrl) {
  Harness h(kHttpSinkDecl, R"({"url": "ftp://x/y"})");
  EXPECT_FALSE(h.configure());
}

TEST(RetryAfter, ParsesSecondsAndToleratesDates) {
  EXPECT_EQ(parse_retry_after("120"), std::chrono::milliseconds(120'000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::chrono::milliseconds(1000));
  EXPECT_EQ(parse_retry_after(std::nullopt), std::nullopt);
}

}  // namespace
}  // namespace switchyard::http_plugin

namespace switchyard::http_plugin {
namespace {

EventPtr repo_event(const std::string& repo) {
  auto e = std::make_shared<Event>();
  e->id = "ev-" + repo;
  e->data.SetObject();
  e->data.AddMember("repo", rapidjson::Value(repo.c_str(), e->data.GetAllocator()), e->data.GetAllocator());
  return e;
}

TEST(HttpSink, UrlAndHeaderValuesAreRenderedPerEvent) {
  Harness h(kHttpSinkDecl, R"({"url": "https://hooks.example.com/${{ payload.repo }}/notify",
                               "headers": {"X-Repo": "repo ${{ payload.repo }}", "X-Fixed": "yes"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  EXPECT_TRUE(h.deliver(repo_event("app")));
  EXPECT_TRUE(h.deliver(repo_event("docs")));
  ASSERT_EQ(h.http_requests().size(), 2u);
  EXPECT_EQ(h.http_requests()[0].url, "https://hooks.example.com/app/notify");
  EXPECT_EQ(h.http_requests()[1].url, "https://hooks.example.com/docs/notify");
  EXPECT_EQ(h.http_requests()[1].headers.get("X-Repo"), std::optional<std::string_view>("repo docs"));
  EXPECT_EQ(h.http_requests()[1].headers.get("X-Fixed"), std::optional<std::string_view>("yes"));
}

TEST(HttpSink, ARenderedUrlOrHeaderThatIsUnsafeFailsTheDeliveryNotTheProcess) {
  Harness h(kHttpSinkDecl, R"({"url": "${{ payload.repo }}", "headers": {"X-Repo": "${{ payload.repo }}"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  const Status not_a_url = h.deliver(repo_event("file:///etc/passwd"));
  ASSERT_FALSE(not_a_url);
  EXPECT_EQ(not_a_url.error().kind, ErrorKind::permanent);
  EXPECT_NE(not_a_url.error().message.find("no http:// or https:// URL"), std::string::npos);
  const Status smuggled = h.deliver(repo_event("https://ok.example.com/\r\nX-Evil: 1"));
  ASSERT_FALSE(smuggled);
  EXPECT_NE(smuggled.error().message.find("control character"), std::string::npos) << smuggled.error().message;
  EXPECT_TRUE(h.http_requests().empty()) << "nothing was sent";
  EXPECT_TRUE(h.deliver(repo_event("https://ok.example.com/hook")));
  EXPECT_EQ(h.http_requests().size(), 1u);
}

TEST(HttpSink, ARenderedHeaderValueCannotAddHeaders) {
  Harness h(kHttpSinkDecl, R"({"url": "https://hooks.example.com/x", "headers": {"X-Repo": "${{ payload.repo }}"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  const Status smuggled = h.deliver(repo_event("app\r\nX-Evil: 1"));
  ASSERT_FALSE(smuggled);
  EXPECT_NE(smuggled.error().message.find("line break"), std::string::npos);
  EXPECT_TRUE(h.http_requests().empty());
}

TEST(HttpSink, AUrlWhoseHostAnExpressionDecidesIsWarnedAbout) {
  Harness pinned(kHttpSinkDecl, R"({"url": "https://hooks.example.com/${{ payload.repo }}"})");
  ASSERT_TRUE(pinned.configure());
  EXPECT_FALSE(pinned.logs().contains("decides the host")) << "scheme and host are written out";
  Harness unpinned(kHttpSinkDecl, R"({"url": "https://hooks.example.com${{ payload.repo }}"})");
  ASSERT_TRUE(unpinned.configure());
  EXPECT_TRUE(unpinned.logs().contains("an expression decides the host", LogLevel::warn));
  Harness whole(kHttpSinkDecl, R"({"url": "${{ payload.url }}"})");
  ASSERT_TRUE(whole.configure());
  EXPECT_TRUE(whole.logs().contains("an expression decides the host", LogLevel::warn));
}

TEST(HttpSink, AConstantUrlIsStillCheckedAtConfigure) {
  Harness h(kHttpSinkDecl, R"({"url": "ftp://example.com/${{ payload.repo }}"})");
  EXPECT_FALSE(h.configure());
}

}  // namespace
}  // namespace switchyard::http_plugin

namespace switchyard::http_plugin {
namespace {

// Sink::render: what `switchyard test` checks under rendered: and `switchyard render` prints.
TEST(HttpSinkRender, RendersTheRequestDeliverWouldSendAndSendsNothing) {
  Harness h(kHttpSinkDecl, R"({"url": "https://hooks.example.com/${{ payload.repo }}", "method": "PUT",
    "headers": {"Authorization": "Bearer t", "X-Ref": "${{ payload.ref }}"},
    "body": {"text": "${{ event.type }} to ${{ payload.ref }}", "n": "${{ payload.n }}"}})");
  ASSERT_TRUE(h.configure());
  auto e = testing::make_event("github.push", R"({"ref": "refs/heads/main", "repo": "app", "n": 3})");
  e->id = "ev-1";
  auto rendered = h.render(*e);
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "PUT");
  EXPECT_EQ(r.url, "https://hooks.example.com/app");
  EXPECT_EQ(r.headers.get("Authorization"), std::optional<std::string_view>("Bearer t"));
  EXPECT_EQ(r.headers.get("X-Ref"), std::optional<std::string_view>("refs/heads/main"));
  EXPECT_EQ(r.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  EXPECT_EQ(r.headers.get("Idempotency-Key"), std::optional<std::string_view>("ev-1"));
  EXPECT_EQ(r.body, R"({"text":"github.push to refs/heads/main","n":3})");
  EXPECT_TRUE(h.http_requests().empty());
}

TEST(HttpSinkRender, AUrlTemplateThatGivesNoUrlFailsAsDeliverWould) {
  Harness h(kHttpSinkDecl, R"({"url": "${{ payload.ref }}"})");
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*sample());
  ASSERT_FALSE(rendered);
  EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  EXPECT_EQ(rendered.error().message, "url: the url template gave no http:// or https:// URL for this event");
}

TEST(HttpSinkRender, AnEventCannotClimbOutOfThePathTheUrlWasWrittenFor) {
  Harness h(kHttpSinkDecl, R"({"url": "https://api.example.com/tenants/${{ payload.title }}/notify?k=${{ payload.title }}"})");
  ASSERT_TRUE(h.configure());
  for (const char* title : {"..", ".", "%2e%2E", "a\\b"}) {
    auto event = testing::make_event("github.issues", std::string(R"({"title": ")") + title + "\"}");
    auto rendered = h.render(*event);
    ASSERT_FALSE(rendered) << title << " gave " << (*rendered)->url;
    EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  }
  // In the query, dots are just text.
  auto fine = h.render(*testing::make_event("github.issues", R"({"title": "v1..2"})"));
  ASSERT_TRUE(fine) << fine.error().message;
  ASSERT_TRUE(fine->has_value());
  EXPECT_EQ((*fine)->url, "https://api.example.com/tenants/v1..2/notify?k=v1..2");
}

TEST(HttpSinkRender, AUrlTemplateErrorShowsNoPathOrQueryWhereTokensLive) {
  for (const char* url : {"${{ payload.ref }}/SECRETTOKEN?api_key=SECRETKEY", "https://h.example/SECRETTOKEN/${{ payload.ref }} x"}) {
    Harness h(kHttpSinkDecl, std::string(R"({"url": ")") + url + "\"}");
    ASSERT_TRUE(h.configure());
    auto rendered = h.render(*sample());
    ASSERT_FALSE(rendered) << url;
    EXPECT_EQ(rendered.error().message.find("SECRET"), std::string::npos) << rendered.error().message;
  }
}

}  // namespace
}  // namespace switchyard::http_plugin
