// Events as NATS messages and back: both CloudEvents modes survive the round trip with
// their id, and a redelivered message keeps its event id whatever form it came in.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "message/mapping.hpp"
#include "switchyard/time.hpp"

namespace switchyard::nats {
namespace {

using testing::make_event;

std::unique_ptr<Event> sample() {
  auto event = make_event("github.push", R"({"ref": "refs/heads/main", "commits": [1, 2]})",
                          "https://github.com/acme/api");
  event->id = "5f1c6a00-delivery";
  event->subject = "main";
  event->set_meta("x-github-event", "push");
  return event;
}

// The message as the source reads it back: the payload followed by a NUL, as libnats gives it.
struct Received {
  std::string payload;
  IncomingMessage message;
  Received(const OutgoingMessage& out, std::uint64_t sequence = 7, std::uint64_t delivered = 1)
      : payload(out.payload) {
    message.subject = out.subject;
    message.headers = &out.headers;
    message.payload = std::string_view(payload.c_str(), payload.size());
    message.stream = "EVENTS";
    message.stream_sequence = sequence;
    message.delivered = delivered;
  }
};

void expect_same_event(const Event& original, const Event& decoded) {
  EXPECT_EQ(decoded.id, original.id);
  EXPECT_EQ(decoded.type, original.type);
  EXPECT_EQ(decoded.source, original.source);
  EXPECT_EQ(decoded.subject, original.subject);
  EXPECT_EQ(format_rfc3339(decoded.time), format_rfc3339(original.time));
  EXPECT_TRUE(decoded.data == original.data);
  ASSERT_TRUE(decoded.meta.HasMember("x-github-event"));
  EXPECT_STREQ(decoded.meta["x-github-event"].GetString(), "push");
}

TEST(NatsMapping, StructuredModeIsTheCloudEventJsonWithTheIdAsMessageId) {
  auto event = sample();
  auto out = encode(*event, Mode::structured, "github.push");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(header(out->headers, "nats-msg-id").value_or(""), event->id);
  EXPECT_EQ(header(out->headers, "Content-Type").value_or(""), "application/cloudevents+json");
  EXPECT_EQ(out->payload, to_cloudevent_json(*event));

  Received in(*out);
  auto decoded = decode(in.message);
  ASSERT_TRUE(decoded) << decoded.error().message;
  expect_same_event(*event, **decoded);
}

TEST(NatsMapping, BinaryModeCarriesTheDataAsPayloadAndAttributesAsHeaders) {
  auto event = sample();
  auto out = encode(*event, Mode::binary, "github.push");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->payload, R"({"ref":"refs/heads/main","commits":[1,2]})");
  EXPECT_EQ(header(out->headers, "ce-id").value_or(""), event->id);
  EXPECT_EQ(header(out->headers, "ce-type").value_or(""), "github.push");
  EXPECT_EQ(header(out->headers, "ce-source").value_or(""), "https://github.com/acme/api");
  EXPECT_EQ(header(out->headers, "Nats-Msg-Id").value_or(""), event->id);

  Received in(*out);
  auto decoded = decode(in.message);
  ASSERT_TRUE(decoded) << decoded.error().message;
  expect_same_event(*event, **decoded);
  EXPECT_FALSE(header(out->headers, "ce-attempt")) << "a first delivery says nothing";

  // A retry says which attempt it is, in either mode; an engine reading it counts its own.
  event->attempt = 3;
  auto retry = encode(*event, Mode::binary, "github.push");
  ASSERT_TRUE(retry);
  EXPECT_EQ(header(retry->headers, "ce-attempt").value_or(""), "3");
  auto structured = encode(*event, Mode::structured, "github.push");
  ASSERT_TRUE(structured);
  EXPECT_NE(structured->payload.find(R"("attempt":3)"), std::string::npos) << structured->payload;
  Received again(*retry);
  auto redecoded = decode(again.message);
  ASSERT_TRUE(redecoded);
  EXPECT_EQ((*redecoded)->attempt, 0u);
}

TEST(NatsMapping, DecodedEventsCarryWhereTheyCameFrom) {
  auto out = encode(*sample(), Mode::structured, "github.push");
  Received in(*out, 42, 3);
  auto decoded = decode(in.message);
  ASSERT_TRUE(decoded);
  const auto& meta = (*decoded)->meta;
  EXPECT_STREQ(meta["nats-subject"].GetString(), "github.push");
  EXPECT_STREQ(meta["nats-stream"].GetString(), "EVENTS");
  EXPECT_STREQ(meta["nats-sequence"].GetString(), "42");
  EXPECT_STREQ(meta["nats-delivered"].GetString(), "3");
}

TEST(NatsMapping, PlainJsonFromOtherPublishersKeepsItsIdOnEveryDelivery) {
  OutgoingMessage out{"orders.created", {{"Nats-Msg-Id", "order-17"}}, R"({"order": 17})"};
  Received first(out, 9, 1), again(out, 9, 2);
  auto a = decode(first.message), b = decode(again.message);
  ASSERT_TRUE(a && b);
  EXPECT_EQ((*a)->id, "order-17");
  EXPECT_EQ((*b)->id, "order-17");
  EXPECT_EQ((*a)->type, "nats.message");
  EXPECT_EQ((*a)->subject, "orders.created");
  EXPECT_EQ((*a)->data["order"].GetInt(), 17);

  // Without a message id, the stream and sequence are the same on every delivery.
  OutgoingMessage bare{"orders.created", {}, R"({"order": 18})"};
  Received c(bare, 10, 1), d(bare, 10, 4);
  EXPECT_EQ((*decode(c.message))->id, "nats:EVENTS:10");
  EXPECT_EQ((*decode(d.message))->id, "nats:EVENTS:10");
}

TEST(NatsMapping, MessagesThatAreNoEventArePermanentFailures) {
  const std::pair<OutgoingMessage, const char*> cases[] = {
      {{"a", {}, "not json"}, "not JSON"},
      {{"a", {{"Content-Type", "application/cloudevents+json"}}, R"({"specversion": "1.0", "type": "t", "source": "s"})"}, "id"},
      {{"a", {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-type", "t"}}, "{}"}, "ce-source"},
      {{"a", {{"ce-specversion", "1.0"}, {"ce-id", "1"}, {"ce-type", "t"}, {"ce-source", "s"}, {"Content-Type", "image/png"}}, "x"},
       "not supported"},
      {{"a", {}, std::string(200, '[') + std::string(200, ']')}, "deeper"},
  };
  for (const auto& [message, expected] : cases) {
    Received in(message);
    auto decoded = decode(in.message);
    ASSERT_FALSE(decoded) << message.payload;
    EXPECT_EQ(decoded.error().kind, ErrorKind::permanent);
    EXPECT_NE(decoded.error().message.find(expected), std::string::npos) << decoded.error().message;
  }
}

TEST(NatsMapping, AnAttributeWithALineBreakCannotBeAHeader) {
  auto event = sample();
  event->subject = "main\r\nNats-Msg-Id: other";
  auto out = encode(*event, Mode::binary, "github.push");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind, ErrorKind::permanent);
}

TEST(NatsMapping, ParsesRfc3339Times) {
  const auto utc = parse_rfc3339("2024-05-01T12:34:56.789Z");
  const auto offset = parse_rfc3339("2024-05-01T14:34:56.789+02:00");
  ASSERT_TRUE(utc && offset);
  EXPECT_EQ(*utc, *offset);
  EXPECT_EQ(format_rfc3339(*utc).substr(0, 19), "2024-05-01T12:34:56");
  EXPECT_FALSE(parse_rfc3339("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
}

TEST(NatsMapping, ATimeTheClockCannotHoldBecomesTheTimeTheStreamStoredIt) {
  auto event = sample();
  auto out = encode(*event, Mode::structured, "github.push");
  ASSERT_TRUE(out) << out.error().message;
  const auto at = out->payload.find("\"time\":\"");
  ASSERT_NE(at, std::string::npos);
  // A producer's "forever": in nanoseconds since 1970 it overflows 64 bits.
  out->payload.replace(at + 8, kRfc3339Size, "9999-12-31T23:59:59.000Z");
  Received in(*out);
  in.message.stored = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auto decoded = decode(in.message);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(format_rfc3339((*decoded)->time), "2023-11-14T22:13:20.000Z");
}

}  // namespace
}  // namespace switchyard::nats
