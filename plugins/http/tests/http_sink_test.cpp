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
