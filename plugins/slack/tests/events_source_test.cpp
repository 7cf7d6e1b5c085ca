// slack.events: Slack's request signing (checked against Slack's published example), the
// replay window, url_verification, and what events, slash commands and interactions become.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "events_source.hpp"

namespace switchyard::slack {
namespace {

using namespace std::chrono_literals;
using testing::Harness;

// The worked example of "Verifying requests from Slack" (api.slack.com).
constexpr const char* kDocSecret = "8f742231b10e8888abcd99yyyzzz85a5";
constexpr const char* kDocTimestamp = "1531420618";
constexpr const char* kDocBody =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
constexpr const char* kDocSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

std::chrono::system_clock::time_point at(const char* seconds, std::chrono::seconds later = 0s) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(std::stoll(seconds))) + later;
}

TEST(SlackSigning, SlacksPublishedExampleSignsAndVerifies) {
  EXPECT_EQ(sign(kDocSecret, kDocTimestamp, kDocBody), kDocSignature);
  const signing::Keys keys({kDocSecret});
  EXPECT_EQ(refuse(keys, kDocSignature, kDocTimestamp, kDocBody, at(kDocTimestamp, 60s), 5min), std::nullopt);
}

TEST(SlackSigning, WrongSignaturesBodiesSecretsAndStaleRequestsAreRefused) {
  const signing::Keys keys({kDocSecret});
  const auto now = at(kDocTimestamp, 10s);
  std::string body = kDocBody;
  body.back() = 'd';  // one byte changed
  EXPECT_NE(refuse(keys, kDocSignature, kDocTimestamp, body, now, 5min), std::nullopt);
  EXPECT_NE(refuse(signing::Keys({"another-secret"}), kDocSignature, kDocTimestamp, kDocBody, now, 5min), std::nullopt);
  EXPECT_NE(refuse(keys, std::nullopt, kDocTimestamp, kDocBody, now, 5min), std::nullopt);
  EXPECT_NE(refuse(keys, kDocSignature, std::nullopt, kDocBody, now, 5min), std::nullopt);
  EXPECT_NE(refuse(keys, kDocSignature, "1531420618x", kDocBody, now, 5min), std::nullopt);
  EXPECT_NE(refuse(keys, "sha256=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", kDocTimestamp,
                   kDocBody, now, 5min), std::nullopt);
  // Another timestamp with the same signature: the timestamp is signed too.
  EXPECT_NE(refuse(keys, kDocSignature, "1531420619", kDocBody, at("1531420619"), 5min), std::nullopt);
  // A valid signature five minutes and a second later, or as far ahead: a replay.
  const auto stale = refuse(keys, kDocSignature, kDocTimestamp, kDocBody, at(kDocTimestamp, 301s), 5min);
  ASSERT_NE(stale, std::nullopt);
  EXPECT_NE(stale->find("replay"), std::string::npos);
  EXPECT_NE(refuse(keys, kDocSignature, kDocTimestamp, kDocBody, at(kDocTimestamp, -301s), 5min), std::nullopt);
  // Rotation: either secret of the list.
  EXPECT_EQ(refuse(signing::Keys({"new-secret", kDocSecret}), kDocSignature, kDocTimestamp, kDocBody, now, 5min),
            std::nullopt);
}

constexpr const char* kSecret = "slack-signing-secret";

TEST(SlackSigning, ATimestampBeyondTheClockIsARefusedReplayNotNow) {
  // 2^55 + 1,700,000,000 seconds: counted in nanoseconds that overflows 64 bits and wraps to
  // exactly 1,700,000,000 s after the epoch, where a signed request would have looked fresh.
  const std::string ts = "36028798718963968";
  const auto why = refuse(signing::Keys({kSecret}), sign(kSecret, ts, kDocBody), ts, kDocBody, at("1700000000"), 5min);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("replay"), std::string::npos) << *why;
}

struct Source {
  explicit Source(std::string more = "") : h(kEventsSourceDecl, R"({"secret": ")" + std::string(kSecret) + "\"" + more + "}") {
    auto configured = h.configure();
    EXPECT_TRUE(configured) << (configured ? "" : configured.error().message);
    EXPECT_TRUE(h.start());
  }
  HttpResponse post(const std::string& body, std::string content_type = "application/json",
                    std::chrono::seconds skew = 0s, std::string secret = kSecret) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
        (std::chrono::system_clock::now() - skew).time_since_epoch()).count();
    const std::string ts = std::to_string(now);
    HttpHeaders headers;
    headers.set("Content-Type", content_type);
    headers.set("X-Slack-Request-Timestamp", ts);
    headers.set("X-Slack-Signature", sign(secret, ts, body));
    return h.request("POST", "/slack/events", headers, body);
  }
  Harness h;
};

TEST(SlackEvents, AnswersUrlVerificationWithTheChallenge) {
  Source s;
  auto r = s.post(R"({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})");
  EXPECT_TRUE(s.h.emitted().empty());
}

TEST(SlackEvents, EventCallbacksBecomeEventsOnceEvenWhenSlackRetries) {
  Source s;
  const std::string body = R"({"token": "x", "team_id": "T061EG9R6", "api_app_id": "A0PNCHHK2", "type": "event_callback",
    "event_id": "Ev0PV52K25", "event_time": 1355517523,
    "event": {"type": "app_mention", "user": "U061F7AUR", "text": "<@U0LAN0Z89> is it everything a river should be?",
              "ts": "1515449522.000016", "channel": "C0LAN2Q65", "event_ts": "1515449522000016"}})";
  auto r = s.post(body);
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(s.h.emitted().size(), 1u);
  const auto& e = *s.h.emitted()[0];
  EXPECT_EQ(e.type, "slack.app_mention");
  EXPECT_EQ(e.id, "Ev0PV52K25");
  EXPECT_EQ(e.subject, "C0LAN2Q65");
  EXPECT_EQ(e.source, "https://slack.com/T061EG9R6");
  EXPECT_STREQ(e.data["event"]["text"].GetString(), "<@U0LAN0Z89> is it everything a river should be?");
  // Slack's retry of the same event: answered, not emitted again.
  r = s.post(body);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("duplicate"), std::string::npos);
  EXPECT_EQ(s.h.emitted().size(), 1u);
}

TEST(SlackEvents, EventTypesNotListedAreAnsweredAndNotEmitted) {
  Source s(R"(, "events": ["app_mention"])");
  auto r = s.post(R"({"type": "event_callback", "event_id": "Ev1", "event": {"type": "reaction_added"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("ignored"), std::string::npos);
  EXPECT_TRUE(s.h.emitted().empty());
}

TEST(SlackEvents, SlashCommandsBecomeEventsAndGetTheImmediateReply) {
  Source s(R"(, "command_reply": "On it")");
  auto r = s.post("command=%2Fdeploy&text=api+to+prod&user_name=mona&team_id=T1&channel_id=C9&"
                  "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1%2F2%2F3&trigger_id=13345224609.738474920.8088930838d88f008e0",
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"response_type":"ephemeral","text":"On it"})");
  ASSERT_EQ(s.h.emitted().size(), 1u);
  const auto& e = *s.h.emitted()[0];
  EXPECT_EQ(e.type, "slack.command");
  EXPECT_EQ(e.subject, "/deploy");
  EXPECT_EQ(e.id, "13345224609.738474920.8088930838d88f008e0");
  EXPECT_STREQ(e.data["text"].GetString(), "api to prod");
  EXPECT_STREQ(e.data["response_url"].GetString(), "https://hooks.slack.com/commands/1/2/3");
}

TEST(SlackEvents, ARepeatedFormFieldCountsOnceWithItsFirstValue) {
  Source s;
  auto r = s.post("command=%2Fdeploy&text=first&trigger_id=t-2&text=second&text=third&user_name=mona",
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(s.h.emitted().size(), 1u);
  const auto& data = s.h.emitted()[0]->data;
  EXPECT_EQ(data.MemberCount(), 4u);
  EXPECT_STREQ(data["text"].GetString(), "first");
}

TEST(SlackEvents, ACommandOrInteractionReplayedWithinMaxAgeRunsOnce) {
  // Slack never repeats these (unlike event callbacks): a repeat is a captured request.
  Source s;
  const std::string command = "command=%2Fdeploy&text=prod&trigger_id=t-42";
  const std::string click = "payload=%7B%22type%22%3A%22block_actions%22%2C%22trigger_id%22%3A%22t-43%22%7D";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(s.post(command, "application/x-www-form-urlencoded").status, 200);
    EXPECT_EQ(s.post(click, "application/x-www-form-urlencoded").status, 200);
  }
  ASSERT_EQ(s.h.emitted().size(), 2u);
  EXPECT_EQ(s.h.emitted()[0]->id, "t-42");
  EXPECT_EQ(s.h.emitted()[1]->id, "t-43");
}

TEST(SlackEvents, InteractionPayloadsBecomeEvents) {
  Source s;
  auto r = s.post("payload=%7B%22type%22%3A%22block_actions%22%2C%22trigger_id%22%3A%22t-1%22%2C%22team%22%3A%7B%22id%22%3A%22T9%22%7D"
                  "%2C%22channel%22%3A%7B%22id%22%3A%22C7%22%7D%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22approve%22%7D%5D%7D",
                  "application/x-www-form-urlencoded");
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(s.h.emitted().size(), 1u);
  const auto& e = *s.h.emitted()[0];
  EXPECT_EQ(e.type, "slack.interaction.block_actions");
  EXPECT_EQ(e.subject, "C7");
  EXPECT_EQ(e.source, "https://slack.com/T9");
  EXPECT_STREQ(e.data["actions"][0]["action_id"].GetString(), "approve");
}

TEST(SlackEvents, UnsignedStaleOrMalformedRequestsAreRefusedAndCounted) {
  Source s;
  const std::string body = R"({"type": "event_callback", "event_id": "Ev2", "event": {"type": "message"}})";
  EXPECT_EQ(s.post(body, "application/json", 0s, "wrong-secret").status, 401);
  EXPECT_EQ(s.post(body, "application/json", 10min).status, 401);                      // replayed
  EXPECT_EQ(s.post(body, "application/json", std::chrono::seconds(-400)).status, 401);  // from the future
  HttpHeaders none;
  none.set("Content-Type", "application/json");
  EXPECT_EQ(s.h.request("POST", "/slack/events", none, body).status, 401);
  EXPECT_EQ(s.h.metrics().value("switchyard_signature_failures_total"), 4);
  EXPECT_EQ(s.post("{not json").status, 400);
  EXPECT_EQ(s.post(R"({"type": "event_callback", "event": {}})").status, 400);
  EXPECT_EQ(s.post("text=x%zz", "application/x-www-form-urlencoded").status, 400);
  EXPECT_EQ(s.post("text=no+command", "application/x-www-form-urlencoded").status, 400);
  EXPECT_TRUE(s.h.emitted().empty());
}

TEST(SlackEvents, ConfigurationIsChecked) {
  Harness empty(kEventsSourceDecl, R"({"secret": ""})");
  EXPECT_FALSE(empty.configure());
  Harness wide(kEventsSourceDecl, R"({"secret": "s", "max_age": "2h"})");
  EXPECT_FALSE(wide.configure());
  Harness path(kEventsSourceDecl, R"({"secret": "s", "path": "slack"})");
  EXPECT_FALSE(path.configure());
}

}  // namespace
}  // namespace switchyard::slack
