// The http source run alone with the SDK's harness.
#include <gtest/gtest.h>

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
