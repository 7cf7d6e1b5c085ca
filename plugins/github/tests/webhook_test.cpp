// github.webhook run alone with the SDK's harness: routes are called directly.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "common/signing.hpp"
#include "github_event.hpp"
#include "webhook.hpp"

namespace switchyard::github {
namespace {

using testing::Harness;
using namespace std::chrono_literals;

constexpr const char* kPath = "/github/webhook";
const std::string kPush = R"({"ref":"refs/heads/main","repository":{"full_name":"octo/app","html_url":"https://github.com/octo/app"}})";
const std::string kRun = R"({"action":"completed","workflow_run":{"id":7,"head_branch":"release/1.2","conclusion":"failure"},"repository":{"html_url":"https://github.com/octo/app"}})";

HttpHeaders signed_headers(const std::string& secret, const std::string& body, const std::string& event,
                           const std::string& delivery = "d-1") {
  HttpHeaders h;
  h.add("Content-Type", "application/json");
  h.add("X-GitHub-Event", event);
  h.add("X-GitHub-Delivery", delivery);
  h.add("X-Hub-Signature-256", signing::sign(secret, body));
  return h;
}

struct Webhook : ::testing::Test {
  Harness h{kWebhookDecl, R"({"secret": ["old-secret", "s3cret"], "dedup_window": "1h"})"};
  void SetUp() override {
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
  }
  HttpResponse post(const HttpHeaders& headers, const std::string& body) {
    return h.request("POST", kPath, headers, body);
  }
};

TEST_F(Webhook, AcceptsASignedPushAndMapsTheEnvelope) {
  const auto r = post(signed_headers("s3cret", kPush, "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), kPush);
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(h.emitted().size(), 1u);
  const Event& e = *h.emitted()[0];
  EXPECT_EQ(e.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_EQ(e.type, "github.push");
  EXPECT_EQ(e.source, "https://github.com/octo/app");
  EXPECT_EQ(e.subject, "main");
  EXPECT_STREQ(e.data["repository"]["full_name"].GetString(), "octo/app");
  EXPECT_STREQ(e.meta["x-github-event"].GetString(), "push");
  EXPECT_EQ(e.raw_data(), kPush);
  EXPECT_EQ(h.emitter().deferred, 0u) << "the pipeline reads payloads: the source builds the tree";
}

// When nothing in the pipeline reads payloads (Emitter::payload_read), the body is checked
// as a parse would check it and kept as the payload, with no tree built (the harness builds
// it afterwards, as the engine would for a reader, and counts the event as deferred).
TEST(WebhookDeferred, APayloadNothingReadsIsCheckedAndKeptAsItsBytes) {
  Harness h(kWebhookDecl, R"({"secret": "s3cret"})");
  h.emitter().reads_payload = false;
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  ASSERT_EQ(h.request("POST", kPath, signed_headers("s3cret", kRun, "workflow_run"), kRun).status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.emitter().deferred, 1u) << "the source built a tree nothing reads";
  const Event& e = *h.emitted()[0];
  EXPECT_EQ(e.type, "github.workflow_run.completed");
  EXPECT_EQ(e.source, "https://github.com/octo/app");
  EXPECT_EQ(e.subject, "release/1.2");
  EXPECT_EQ(e.raw_data(), kRun);
  EXPECT_EQ(e.data["workflow_run"]["id"].GetInt(), 7);
  // Refused as a parse refuses.
  const std::string twice = R"({"ref":"refs/heads/main","ref":"evil"})";
  const auto r = h.request("POST", kPath, signed_headers("s3cret", twice, "push", "d-2"), twice);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("names the key 'ref' twice"), std::string::npos) << r.body;
  const std::string broken = R"({"ref":)";
  EXPECT_EQ(h.request("POST", kPath, signed_headers("s3cret", broken, "push", "d-3"), broken).status, 400);
  // A decimal number: parsed at the source all the same (a later parse could read it as
  // another double), still kept as received.
  const std::string scored = R"({"ref":"refs/heads/main","score":0.1})";
  ASSERT_EQ(h.request("POST", kPath, signed_headers("s3cret", scored, "push", "d-4"), scored).status, 202);
  ASSERT_EQ(h.emitted().size(), 2u);
  EXPECT_EQ(h.emitter().deferred, 1u);
  EXPECT_EQ(h.emitted()[1]->subject, "main");
  EXPECT_DOUBLE_EQ(h.emitted()[1]->data["score"].GetDouble(), 0.1);
  EXPECT_EQ(h.emitted()[1]->raw_data(), scored);
}

TEST_F(Webhook, TypeCarriesTheActionAndSubjectTheBranch) {
  ASSERT_EQ(post(signed_headers("s3cret", kRun, "workflow_run"), kRun).status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.emitted()[0]->type, "github.workflow_run.completed");
  EXPECT_EQ(h.emitted()[0]->subject, "release/1.2");
}

TEST_F(Webhook, RefusesMissingAndWrongSignaturesWith401) {
  HttpHeaders none = signed_headers("s3cret", kPush, "push");
  none.erase("X-Hub-Signature-256");
  auto r = post(none, kPush);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("missing X-Hub-Signature-256"), std::string::npos);
  EXPECT_EQ(post(signed_headers("wrong", kPush, "push"), kPush).status, 401);
  std::string tampered = kPush;
  tampered[10] = 'X';  // one byte changed after signing
  EXPECT_EQ(post(signed_headers("s3cret", kPush, "push"), tampered).status, 401);
  EXPECT_TRUE(h.emitted().empty());
  EXPECT_EQ(h.metrics().value("switchyard_signature_failures_total"), 3);
  EXPECT_TRUE(h.logs().contains("X-Hub-Signature-256", LogLevel::warn));
}

TEST_F(Webhook, EitherSecretOfARotationIsAccepted) {
  EXPECT_EQ(post(signed_headers("old-secret", kPush, "push", "a"), kPush).status, 202);
  EXPECT_EQ(post(signed_headers("s3cret", kPush, "push", "b"), kPush).status, 202);
  EXPECT_EQ(h.emitted().size(), 2u);
}

TEST_F(Webhook, HeaderNamesAreCaseInsensitive) {
  HttpHeaders lower;
  lower.add("x-github-event", "push");
  lower.add("x-github-delivery", "lc");
  lower.add("x-hub-signature-256", signing::sign("s3cret", kPush));
  EXPECT_EQ(post(lower, kPush).status, 202);
}

TEST_F(Webhook, AnswersPingWithoutEmitting) {
  const std::string ping = R"({"zen":"Keep it logically awesome.","hook_id":1})";
  const auto r = post(signed_headers("s3cret", ping, "ping"), ping);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("pong"), std::string::npos);
  EXPECT_TRUE(h.emitted().empty());
}

TEST_F(Webhook, MalformedJsonIs400) {
  const std::string bad = R"({"ref": )";
  const auto r = post(signed_headers("s3cret", bad, "push"), bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(post(signed_headers("s3cret", "[1]", "push"), "[1]").status, 400);
}

TEST_F(Webhook, DeeplyNestedPayloadIs400NotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto r = post(signed_headers("s3cret", deep, "push"), deep);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("deeper"), std::string::npos);
  const std::string in_string = R"({"text":")" + std::string(1000, '[') + R"("})";
  EXPECT_EQ(post(signed_headers("s3cret", in_string, "push", "str"), in_string).status, 202)
      << "brackets inside strings do not count";
}

TEST_F(Webhook, DrainingAnswers503WithRetryAfterInsteadOf404) {
  h.component<WebhookSource>().drain([] {});
  const auto r = post(signed_headers("s3cret", kPush, "push"), kPush);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.headers.get("Retry-After").has_value());
  EXPECT_TRUE(h.emitted().empty());
}

TEST_F(Webhook, MissingEventOrDeliveryHeaderIs400) {
  HttpHeaders h1 = signed_headers("s3cret", kPush, "push");
  h1.erase("X-GitHub-Event");
  EXPECT_EQ(post(h1, kPush).status, 400);
  HttpHeaders h2 = signed_headers("s3cret", kPush, "push");
  h2.erase("X-GitHub-Delivery");
  EXPECT_EQ(post(h2, kPush).status, 400);
}

TEST_F(Webhook, HeadersTheSignatureDoesNotCoverAreHeldToWhatGitHubSends) {
  // A captured delivery replayed with headers of the replayer's choosing: the event's type
  // and id come from them.
  for (const char* event : {"Push", "push.evil", "push release", "p\xc3\xbcsh"}) {
    EXPECT_EQ(post(signed_headers("s3cret", kPush, event), kPush).status, 400) << event;
  }
  for (const char* delivery : {"d 1", "d-\xc3\xa9", "d-\x7f"}) {
    EXPECT_EQ(post(signed_headers("s3cret", kPush, "push", delivery), kPush).status, 400) << delivery;
  }
  EXPECT_TRUE(h.emitted().empty());
  EXPECT_EQ(post(signed_headers("s3cret", kRun, "workflow_run", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), kRun).status, 202);
}

TEST_F(Webhook, RedeliveryIsAnswered200AndNotEmittedAgain) {
  EXPECT_EQ(post(signed_headers("s3cret", kPush, "push", "same"), kPush).status, 202);
  const auto again = post(signed_headers("s3cret", kPush, "push", "same"), kPush);
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("duplicate"), std::string::npos);
  EXPECT_EQ(h.emitted().size(), 1u);
  h.advance(61min);  // past dedup_window
  EXPECT_EQ(post(signed_headers("s3cret", kPush, "push", "same"), kPush).status, 202);
  EXPECT_EQ(h.emitted().size(), 2u);
}

TEST_F(Webhook, SaturatedPipelineGets503WithRetryAfterAndIsNotRememberedAsSeen) {
  h.emitter().capacity = 0;
  const auto r = post(signed_headers("s3cret", kPush, "push", "later"), kPush);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.headers.get("Retry-After").has_value());
  h.emitter().capacity = 10;
  EXPECT_EQ(post(signed_headers("s3cret", kPush, "push", "later"), kPush).status, 202)
      << "a refused delivery must not count as seen";
}

TEST_F(Webhook, FormEncodedPayloadsAreAccepted) {
  const std::string form = "payload=%7B%22ref%22%3A%22refs%2Ftags%2Fv1.0%22%7D";
  HttpHeaders headers = signed_headers("s3cret", form, "push");
  headers.set("Content-Type", "application/x-www-form-urlencoded");
  EXPECT_EQ(post(headers, form).status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.emitted()[0]->subject, "v1.0");
}

TEST(WebhookFilters, EventsAndActionsNotListedAreAcknowledgedButNotEmitted) {
  Harness h(kWebhookDecl, R"({"secret": "s", "events": ["workflow_run"], "actions": ["completed"]})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_EQ(h.request("POST", kPath, signed_headers("s", kPush, "push"), kPush).status, 200);
  const std::string requested = R"({"action":"requested","workflow_run":{"id":1}})";
  EXPECT_EQ(h.request("POST", kPath, signed_headers("s", requested, "workflow_run", "2"), requested).status, 200);
  EXPECT_EQ(h.request("POST", kPath, signed_headers("s", kRun, "workflow_run", "3"), kRun).status, 202);
  ASSERT_EQ(h.emitted().size(), 1u);
  EXPECT_EQ(h.emitted()[0]->type, "github.workflow_run.completed");
}

TEST(WebhookConfig, AnEmptySecretIsRefused) {
  Harness h(kWebhookDecl, R"({"secret": ""})");
  const Status s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("secret"), std::string::npos);
  Harness missing(kWebhookDecl, R"({})");
  EXPECT_FALSE(missing.configure());
}

TEST(WebhookConfig, ThePublishedDevelopmentSecretIsWarnedAbout) {
  Harness dev(kWebhookDecl, R"({"secret": ["switchyard-dev-secret"]})");
  ASSERT_TRUE(dev.configure());
  EXPECT_TRUE(dev.logs().contains("published development secret", LogLevel::warn));
  Harness own(kWebhookDecl, R"({"secret": ["s3cret"]})");
  ASSERT_TRUE(own.configure());
  EXPECT_FALSE(own.logs().contains("development secret", LogLevel::warn));
}

TEST(WebhookLifecycle, StopRemovesTheRoute) {
  Harness h(kWebhookDecl, R"({"secret": "s", "path": "/gh"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_TRUE(h.routes().has("POST", "/gh"));
  h.stop();
  EXPECT_FALSE(h.routes().has("POST", "/gh"));
  EXPECT_EQ(h.request("POST", "/gh", signed_headers("s", kPush, "push"), kPush).status, 404);
}

TEST(GithubEvent, SubjectsOfCommonEvents) {
  // The same envelope from a parsed tree (the Actions poller) and from the check of a body
  // whose tree was never built (the webhook source).
  for (const bool from_tree : {true, false}) {
    SCOPED_TRACE(from_tree ? "from a tree" : "from a check");
    auto read = [&](const char* json, auto what) {
      rapidjson::Document d;
      if (from_tree) {
        d.Parse(json);
        return what(PayloadFields(d));
      }
      auto checked = json_limits::check(d, json, json_limits::Tree::if_needed);
      EXPECT_TRUE(checked) << json;
      EXPECT_TRUE(d.IsNull()) << "a tree was built for " << json;
      return what(*checked);
    };
    auto subject = [&](std::string_view event, const char* json) {
      return read(json, [&](const PayloadFields& p) { return event_subject(event, p); });
    };
    EXPECT_EQ(subject("pull_request", R"({"pull_request":{"number":42}})"), "42");
    EXPECT_EQ(subject("issues", R"({"issue":{"number":7}})"), "7");
    EXPECT_EQ(subject("release", R"({"release":{"tag_name":"v2.0.0"}})"), "v2.0.0");
    EXPECT_EQ(subject("check_run", R"({"check_run":{"check_suite":{"head_branch":"dev"}}})"), "dev");
    EXPECT_EQ(subject("push", R"({"ref":"refs/heads/main"})"), "main");
    EXPECT_EQ(subject("create", R"({"ref":"refs/tags/v1"})"), "v1");
    EXPECT_EQ(subject("issues", R"({"issue":{"number":18446744073709551615}})"), "18446744073709551615");
    EXPECT_EQ(subject("issues", R"({"issue":{"number":true}})"), "");
    EXPECT_EQ(subject("star", R"({"action":"created"})"), "");
    const auto source = [&](const char* json) { return read(json, [](const PayloadFields& p) { return event_source(p); }); };
    EXPECT_EQ(source(R"({"organization":{"login":"octo-org"}})"), "https://github.com/octo-org");
    EXPECT_EQ(source(R"({"repository":{"html_url":"https://github.com/o/r"},"organization":{"login":"o"}})"),
              "https://github.com/o/r");
    EXPECT_EQ(source(R"({"repository":"o/r"})"), "https://github.com");
    const auto type = [&](const char* json) { return read(json, [](const PayloadFields& p) { return event_type("issues", p); }); };
    EXPECT_EQ(type(R"({"action":"opened"})"), "github.issues.opened");
    EXPECT_EQ(type(R"({"action":7})"), "github.issues");  // an action is a string
  }
}

}  // namespace
}  // namespace switchyard::github
