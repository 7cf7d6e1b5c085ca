// The websocket sink's JSON protocol: what clients may send, what they get back, and that
// room names and event text from outside cannot break out of their JSON strings.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <switchyard/testing.hpp>

#include "protocol.hpp"

namespace switchyard::websocket {
namespace {

std::string reason(const std::string& text) {
  auto m = parse_client_message(text);
  return m ? "" : m.error().message;
}

TEST(Protocol, ReadsTheClientMessages) {
  auto sub = parse_client_message(R"({"op":"subscribe","room":"octo-org/hello-service"})");
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->op, ClientMessage::Op::subscribe);
  EXPECT_EQ(sub->room, "octo-org/hello-service");
  EXPECT_FALSE(sub->after);

  auto resume = parse_client_message(R"({"op":"subscribe","room":"r","after":1732521600042})");
  ASSERT_TRUE(resume);
  EXPECT_EQ(resume->after, 1732521600042u);
  EXPECT_EQ(parse_client_message(R"({"op":"subscribe","room":"r","after":12.0})")->after, 12u);
  EXPECT_EQ(parse_client_message(R"({"op":"subscribe","room":"r","after":null})")->after, std::nullopt);

  EXPECT_EQ(parse_client_message(R"({"op":"unsubscribe","room":"r"})")->op, ClientMessage::Op::unsubscribe);
  EXPECT_EQ(parse_client_message(R"({"op":"ping"})")->op, ClientMessage::Op::ping);
}

TEST(Protocol, SaysWhatIsWrongWithAMessage) {
  EXPECT_EQ(reason("hello"), "not a JSON object");
  EXPECT_EQ(reason("[1]"), "not a JSON object");
  EXPECT_EQ(reason(R"({"room":"r"})"), "op missing");
  EXPECT_EQ(reason(R"({"op":"publish","room":"r"})"), "unknown op (subscribe, unsubscribe, ping)");
  EXPECT_EQ(reason(R"({"op":"subscribe"})"), "room missing");
  EXPECT_EQ(reason(R"({"op":"subscribe","room":""})"), "room must be a string of 1 to 256 bytes");
  EXPECT_EQ(reason(R"({"op":"subscribe","room":")" + std::string(257, 'x') + "\"}"),
            "room must be a string of 1 to 256 bytes");
  EXPECT_EQ(reason(R"({"op":"subscribe","room":"a\nb"})"), "room must not hold control characters");
  for (const char* after : {"-1", "1.5", "\"7\"", "9007199254740992", "1e300"}) {
    EXPECT_EQ(reason(std::string(R"({"op":"subscribe","room":"r","after":)") + after + "}"),
              "after must be a whole number from 0 to 2^53-1")
        << after;
  }
  EXPECT_EQ(reason(std::string(200, '[')), "not a JSON object") << "nesting is bounded";
}

TEST(Protocol, WritesTheServerMessages) {
  EXPECT_EQ(subscribed_message("octo-org/hello", 41), R"({"op":"subscribed","room":"octo-org/hello","seq":41})");
  EXPECT_EQ(gap_message("r", 3, 9), R"({"op":"gap","room":"r","from":3,"to":9})");
  EXPECT_EQ(error_message("room missing"), R"({"op":"error","reason":"room missing"})");
  EXPECT_EQ(error_message("not allowed", "r"), R"({"op":"error","reason":"not allowed","room":"r"})");
  EXPECT_EQ(std::string(kPongMessage), R"({"op":"pong"})");
  // A hostile room name stays inside its string.
  const std::string message = event_message("a\",\"op\":\"x", 5, R"({"id":"e1"})");
  rapidjson::Document doc;
  doc.Parse(message.c_str());
  ASSERT_FALSE(doc.HasParseError()) << message;
  EXPECT_STREQ(doc["op"].GetString(), "event");
  EXPECT_STREQ(doc["room"].GetString(), "a\",\"op\":\"x");
  EXPECT_EQ(doc["seq"].GetUint64(), 5u);
  EXPECT_STREQ(doc["event"]["id"].GetString(), "e1");
}

TEST(Protocol, SendsTheCloudEventWithoutTheSourcesMeta) {
  auto event = testing::make_event("github.push", R"({"head_commit":{"message":"<img src=x onerror=alert(1)>"}})");
  event->id = "delivery-1";
  event->subject = "main";
  event->set_meta("x-forwarded-for", "10.0.0.1");
  event->attempt = 3;
  rapidjson::Document doc;
  const std::string json = cloudevent_json(*event);
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_STREQ(doc["specversion"].GetString(), "1.0");
  EXPECT_STREQ(doc["id"].GetString(), "delivery-1");
  EXPECT_STREQ(doc["type"].GetString(), "github.push");
  EXPECT_STREQ(doc["subject"].GetString(), "main");
  EXPECT_STREQ(doc["data"]["head_commit"]["message"].GetString(), "<img src=x onerror=alert(1)>")
      << "JSON text as it is: the page must render it as text";
  EXPECT_FALSE(doc.HasMember("meta"));
  EXPECT_FALSE(doc.HasMember("attempt"));

  rapidjson::Document data;
  data.Parse(R"({"status":"completed"})");
  doc.Parse(cloudevent_json(*event, &data).c_str());
  EXPECT_STREQ(doc["data"]["status"].GetString(), "completed");
  EXPECT_STREQ(doc["id"].GetString(), "delivery-1");
}

}  // namespace
}  // namespace switchyard::websocket
