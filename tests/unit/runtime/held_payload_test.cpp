// A waiting event keeps its payload as the received bytes only, and gets the same payload
// back when its turn comes (runtime/held_payload.hpp).
#include "runtime/held_payload.hpp"

#include <gtest/gtest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace switchyard::runtime {
namespace {

std::string compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

// A push-like payload of many small objects (its tree costs more than its text), as a
// source makes it: parsed, with the text kept.
std::unique_ptr<Event> push_event(int commits) {
  std::string text = R"({"ref": "refs/heads/main", "big": 123456789012345678, "commits": [)";
  for (int i = 0; i < commits; ++i) {
    if (i > 0) text += ", ";
    text += R"({"id": ")" + std::to_string(i) + R"(", "message": "Fix the \"flaky\" test \u00e9", "added": [], "n": )" +
            std::to_string(i) + ", \"ok\": true}";
  }
  text += "]}";
  auto event = std::make_unique<Event>();
  event->id = "d-1";
  event->type = "github.push";
  event->source = "https://github.com/octo-org/hello";
  event->data.Parse(text.data(), text.size());
  event->set_raw_data(text);
  event->set_meta("x-github-event", "push");
  event->set_secret("token", "s3cret");
  return event;
}

TEST(HeldPayload, AWaitingEventHoldsAboutItsBytesAndGetsTheSamePayloadBack) {
  EventPtr event = push_event(2000);
  const std::string before = compact(event->data);
  const std::size_t full = event->memory_size();
  const std::size_t bytes = event->raw_data().size();
  ASSERT_GT(full, 2 * bytes) << "the tree of many small objects costs more than the text";

  ASSERT_TRUE(shelve_payload(event));
  EXPECT_TRUE(event->data.IsNull());
  EXPECT_LT(event->memory_size(), bytes + 4096) << "the tree is still held";
  EXPECT_EQ(event->id, "d-1");
  EXPECT_EQ(event->secret("token"), "s3cret") << "a secret is kept in memory, never in the bytes";
  EXPECT_STREQ(event->meta["x-github-event"].GetString(), "push");

  ASSERT_TRUE(unshelve_payload(event));
  EXPECT_EQ(compact(event->data), before);
  EXPECT_EQ(event->data["big"].GetUint64(), 123456789012345678u);
  EXPECT_STREQ(event->meta["x-github-event"].GetString(), "push");
  EXPECT_EQ(event->raw_data().size(), bytes);
}

TEST(HeldPayload, AnEventAnotherHolderSharesKeepsItsTree) {
  EventPtr event = push_event(2000);
  EventPtr other = event;  // another sink has it too: freeing its tree would pull it away there
  EXPECT_FALSE(shelve_payload(event));
  EXPECT_TRUE(other->data.IsObject());
}

TEST(HeldPayload, APayloadWithoutItsBytesOrASmallOneIsKeptAsItIs) {
  EventPtr changed = [] {
    auto e = push_event(2000);
    e->clear_raw_data();  // a transform changed `data`: the bytes no longer say the same
    return e;
  }();
  EXPECT_FALSE(shelve_payload(changed));
  EXPECT_TRUE(changed->data.IsObject());

  EventPtr small = push_event(3);  // parsing it again would cost more than it holds
  EXPECT_FALSE(shelve_payload(small));
  EXPECT_TRUE(small->data.IsObject());
}

TEST(HeldPayload, BytesThatNoLongerParseAreAnErrorNotANullPayload) {
  auto e = push_event(2000);
  std::string cut(e->raw_data().substr(0, e->raw_data().size() / 2));
  e->set_raw_data(cut);
  EventPtr event = std::move(e);
  ASSERT_TRUE(shelve_payload(event));
  auto parsed = unshelve_payload(event);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("not valid JSON"), std::string::npos) << parsed.error().message;
  EXPECT_EQ(parsed.error().kind, ErrorKind::permanent);
}

}  // namespace
}  // namespace switchyard::runtime
