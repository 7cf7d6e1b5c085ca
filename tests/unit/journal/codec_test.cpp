// The stored form of an event (journal/codec.hpp): envelope, meta and payload round trip,
// the received payload kept as it came, the pieces the journal writes, the envelope written
// as RapidJSON's writer writes it, and malformed bodies.
#include "journal/codec.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "support/random_event.hpp"

namespace switchyard::journal {
namespace {

TEST(Codec, RoundTripKeepsEnvelopeMetaAndPayload) {
  Event e;
  e.id = "d-1";
  e.source = "https://github.com/o/r";
  e.type = "github.push";
  e.subject = "main";
  e.pipeline = "p";
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  e.set_meta("x-github-delivery", "d-1");
  e.data.Parse(R"({"ref":"refs/heads/main","commits":[{"id":"abc","message":"ünïcode \"q\"\n"}],"n":1.5})");
  auto back = decode_event(encode_event(e));
  ASSERT_TRUE(back) << back.error().message;
  const Event& b = **back;
  EXPECT_EQ(b.id, e.id);
  EXPECT_EQ(b.source, e.source);
  EXPECT_EQ(b.type, e.type);
  EXPECT_EQ(b.subject, e.subject);
  EXPECT_EQ(b.pipeline, e.pipeline);
  EXPECT_EQ(b.time, e.time);
  EXPECT_EQ(b.not_before, std::chrono::system_clock::time_point{}) << "no delay stays no delay";
  EXPECT_EQ(to_cloudevent_json(b), to_cloudevent_json(e));
}

TEST(Codec, ThePayloadAsReceivedIsStoredAsItCameAndReadBackWithIt) {
  // Pretty-printed, with an escape, a number spelled with an exponent and an integer past
  // 64 bits: stored as received (without the line breaks and indentation), not as
  // RapidJSON would write it ("é", 100.0, a rounded double).
  const std::string pretty = "\xEF\xBB\xBF{\n  \"name\": \"caf\\u00e9  \\\"x\\\"\",\n  \"n\": 1e2,\n  \"big\": 123456789012345678901234567890\n}\n";
  const std::string compact = R"({"name":"caf\u00e9  \"x\"","n":1e2,"big":123456789012345678901234567890})";
  Event e;
  e.id = "d-raw";
  e.data.Parse(pretty.data() + 3, pretty.size() - 3);
  ASSERT_FALSE(e.data.HasParseError());
  e.set_raw_data(pretty);
  EXPECT_EQ(e.raw_data(), compact);
  const std::string body = encode_event(e);
  EXPECT_EQ(body.substr(body.find('\n') + 1), compact);
  auto back = decode_event(body);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)->raw_data(), compact);
  EXPECT_NE(to_cloudevent_json(**back).find(R"("data":)" + compact + "}"), std::string::npos) << to_cloudevent_json(**back);
  EXPECT_EQ((*back)->data["n"].GetDouble(), 100.0);
  (*back)->clear_raw_data();
  EXPECT_NE(to_cloudevent_json(**back).find(R"("data":{"name":"café  \"x\"","n":100.0,)"), std::string::npos)
      << "without the received bytes the payload is written from data: " << to_cloudevent_json(**back);
}

// The pieces the journal writes (the payload not copied) are the stored form, whole.
TEST(Codec, ThePiecesOfAnEncodingAreTheEncoding) {
  Event e;
  e.id = "d-pieces";
  e.set_meta("x-github-event", "push");
  e.data.Parse(R"({"a":[1,2],"b":"x"})");
  EncodedEvent parsed = encode_event_pieces(e);
  EXPECT_TRUE(parsed.payload.empty()) << "serialised from data: all in the head";
  EXPECT_EQ(parsed.head, encode_event(e));
  e.set_raw_data(R"({"a":[1,2],"b":"x"})");
  EncodedEvent raw = encode_event_pieces(e);
  EXPECT_EQ(raw.payload.data(), e.raw_data().data()) << "the received bytes themselves, not a copy";
  EXPECT_EQ(raw.head + std::string(raw.payload), encode_event(e));
  EXPECT_EQ(raw.head.back(), '\n');
  auto back = decode_event(raw.head + std::string(raw.payload));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)->raw_data(), e.raw_data());
  EXPECT_EQ((*back)->meta["x-github-event"].GetString(), std::string("push"));
}

// The reference: the envelope line as RapidJSON's writer writes it (how the codec wrote it
// until it wrote the line itself).
std::string envelope_by_a_writer(const Event& event) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  w.StartObject();
  w.Key("sy1");
  w.Int(1);
  str("id", event.id);
  str("source", event.source);
  str("type", event.type);
  if (!event.subject.empty()) str("subject", event.subject);
  w.Key("time");
  w.Int64(ms(event.time));
  if (!event.pipeline.empty()) str("pipeline", event.pipeline);
  if (event.not_before != std::chrono::system_clock::time_point{}) {
    w.Key("not_before");
    w.Int64(ms(event.not_before));
  }
  if (event.meta.IsObject() && event.meta.MemberCount() > 0) {
    w.Key("meta");
    event.meta.Accept(w);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

TEST(Codec, TheEnvelopeIsWhatAWriterWritesAndReadsBack) {
  std::mt19937_64 random(3);
  for (int i = 0; i < 3000; ++i) {
    auto event = test::random_event(random);
    if (i % 2) event->set_raw_data(R"({"n":1})");
    const EncodedEvent encoded = encode_event_pieces(*event);
    const std::string expected = envelope_by_a_writer(*event);
    ASSERT_EQ(encoded.head.substr(0, expected.size()), expected) << "event " << i;
    auto back = decode_event(encoded.head + std::string(encoded.payload));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ((*back)->id, event->id);
    EXPECT_EQ((*back)->subject, event->subject);
    EXPECT_EQ(encode_event(**back), encoded.head + std::string(encoded.payload)) << "read back, it encodes the same: event " << i;
  }
}

TEST(Codec, ADelayedEventKeepsItsNotBefore) {
  Event e;
  e.id = "d-2";
  e.data.Parse("{}");
  e.not_before = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'456));
  auto back = decode_event(encode_event(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ((*back)->not_before, e.not_before);
}

TEST(Codec, MalformedBodiesAreErrorsNotCrashes) {
  for (std::string_view bad : {"", "{}", "no newline", "{\"sy1\":1}\n{", "{\"sy1\":2}\n{}", "[1]\n{}",
                               "{\"sy1\":1}\n"}) {
    EXPECT_FALSE(decode_event(bad)) << bad;
  }
}

// A state write is a put, an erase or a remembered key, and reads back as what it was;
// a kind this build does not know is an error, not a put.
TEST(Codec, StateWritesOfEachKindReadBackAsThatKind) {
  const StateWrites writes{{.key = "p/c/k", .value = "v", .expires_ms = 5},
                           {.key = "p/c/gone", .erase = true},
                           {.key = std::string(16, 'f'), .expires_ms = 7, .remember = true}};
  auto back = decode_state_writes(encode_state_writes(writes));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 3u);
  EXPECT_TRUE(!(*back)[0].erase && !(*back)[0].remember);
  EXPECT_EQ((*back)[0].value, "v");
  EXPECT_TRUE((*back)[1].erase && !(*back)[1].remember);
  EXPECT_TRUE((*back)[2].remember && !(*back)[2].erase);
  EXPECT_EQ((*back)[2].key, std::string(16, 'f'));
  EXPECT_EQ((*back)[2].expires_ms, 7);
  std::string unknown = encode_state_writes({writes[0]});
  unknown[0] = 3;
  EXPECT_FALSE(decode_state_writes(unknown));
}

}  // namespace
}  // namespace switchyard::journal
