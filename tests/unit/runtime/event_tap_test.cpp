// The console's event tap: a bounded ring of envelopes with each sink's outcome.
#include "runtime/event_tap.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "switchyard/event.hpp"

namespace switchyard::runtime {
namespace {

std::unique_ptr<Event> event(const std::string& id) {
  auto e = std::make_unique<Event>();
  e->id = id;
  e->type = "test.type";
  e->source = "switchyard://test";
  e->subject = "main";
  e->time = std::chrono::system_clock::now();
  e->data.SetObject();
  e->data.AddMember("password", "hunter2", e->data.GetAllocator());
  return e;
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

TEST(EventTapTest, KeepsTheLastEventsWithTheirSinksOutcomesAndNoPayload) {
  EventTap tap(3);
  for (int i = 1; i <= 4; ++i) tap.accepted("p", *event("e" + std::to_string(i)));
  auto e4 = event("e4");
  tap.outcome("p", "good", *e4, EventTap::Outcome::delivered, 1);
  tap.outcome("p", "bad", *e4, EventTap::Outcome::failed, 1, "HTTP 500");
  tap.outcome("p", "bad", *e4, EventTap::Outcome::dead_lettered, 2, "HTTP 500 again");
  tap.outcome("p", "good", *event("e1"), EventTap::Outcome::delivered, 1);  // fell out: ignored
  tap.outcome("other", "good", *event("e2"), EventTap::Outcome::delivered, 1);  // another pipeline's e2

  const std::string text = tap.changes(0);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  auto d = parse(text);
  const auto& events = d["events"];
  ASSERT_EQ(events.Size(), 3u);
  EXPECT_STREQ(events[0]["id"].GetString(), "e2");  // oldest first
  EXPECT_STREQ(events[2]["id"].GetString(), "e4");
  EXPECT_STREQ(events[2]["subject"].GetString(), "main");
  EXPECT_EQ(events[0]["sinks"].Size(), 0u);
  const auto& sinks = events[2]["sinks"];
  ASSERT_EQ(sinks.Size(), 2u);
  EXPECT_STREQ(sinks[0]["outcome"].GetString(), "delivered");
  EXPECT_STREQ(sinks[1]["outcome"].GetString(), "dead_lettered");
  EXPECT_EQ(sinks[1]["attempt"].GetUint(), 2u);
  EXPECT_STREQ(sinks[1]["error"].GetString(), "HTTP 500 again");

  // Only what changed after a version is sent again.
  const auto version = tap.version();
  EXPECT_EQ(parse(tap.changes(version))["events"].Size(), 0u);
  tap.outcome("p", "good", *event("e3"), EventTap::Outcome::delivered, 1);
  auto later = parse(tap.changes(version));
  ASSERT_EQ(later["events"].Size(), 1u);
  EXPECT_STREQ(later["events"][0]["id"].GetString(), "e3");
}

TEST(EventTapTest, KeepsPayloadsOnlyWhileWatchedAndOnlyUpToItsLimit) {
  EventTap tap(10);
  tap.accepted("p", *event("unwatched"));
  tap.watch_payloads(1);
  tap.accepted("p", *event("watched"));
  auto raw = event("raw");
  raw->set_raw_data(R"({"n":12345678901234567890})");  // the received bytes win over data
  tap.accepted("p", *raw);
  auto big = event("big");
  big->data.AddMember("blob", rapidjson::Value(std::string(EventTap::kMaxPayload, 'x').c_str(), big->data.GetAllocator()),
                      big->data.GetAllocator());
  tap.accepted("p", *big);
  tap.watch_payloads(-1);
  tap.accepted("p", *event("after"));

  EXPECT_EQ(tap.changes(0).find("hunter2"), std::string::npos) << "no payloads unless asked for";
  auto d = parse(tap.changes(0, true));
  const auto& events = d["events"];
  ASSERT_EQ(events.Size(), 5u);
  EXPECT_FALSE(events[0].HasMember("data")) << "recorded before anyone watched";
  EXPECT_STREQ(events[1]["data"]["password"].GetString(), "hunter2");
  EXPECT_NE(tap.changes(0, true).find("12345678901234567890"), std::string::npos);
  EXPECT_FALSE(events[3].HasMember("data"));
  EXPECT_GT(events[3]["data_size"].GetUint64(), EventTap::kMaxPayload);
  EXPECT_FALSE(events[4].HasMember("data")) << "recorded after the last watcher left";
}

TEST(EventTapTest, RecordsAtMostItsRateAndCountsTheRest) {
  EventTap tap(100, /*max_per_second=*/10);
  for (int i = 0; i < 50; ++i) tap.accepted("p", *event("e" + std::to_string(i)));
  auto d = parse(tap.changes(0));
  // A second boundary may fall inside the loop: at most two windows' worth.
  EXPECT_GE(d["events"].Size(), 10u);
  EXPECT_LE(d["events"].Size(), 20u);
  EXPECT_EQ(d["events"].Size() + d["skipped"].GetUint64(), 50u);
}

}  // namespace
}  // namespace switchyard::runtime
