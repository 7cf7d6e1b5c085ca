// Rooms, numbering and replay (Hub) with fake connections and the harness's state store:
// seq per room, what survives a restart, the replay window and memory bound, redeliveries,
// and a room whose state was lost numbering above its old seqs.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <switchyard/testing.hpp>

#include "hub.hpp"
#include "protocol.hpp"
#include "received.hpp"

namespace switchyard::websocket {
namespace {

using testing::FakeWebSocketConnection;
using test::take;

struct Ignore final : WebSocketHandler {
  WebSocketUpgrade upgrade(const WebSocketRequest&) override { return WebSocketUpgrade::accept(); }
  void opened(const std::shared_ptr<WebSocketConnection>&) override {}
  void message(const std::shared_ptr<WebSocketConnection>&, std::string) override {}
  void closed(const std::shared_ptr<WebSocketConnection>&, const WebSocketClosed&) override {}
};

struct HubTest : ::testing::Test {
  std::shared_ptr<Hub> make_hub(ReplaySettings settings = {}) {
    auto hub = std::make_shared<Hub>([this] { return now; });
    hub->configure(settings);
    return hub;
  }
  std::shared_ptr<FakeWebSocketConnection> connect(Hub& hub) {
    auto c = std::make_shared<FakeWebSocketConnection>(executor, handler, WebSocketOptions{}, ++next_id,
                                                       "127.0.0.1:1", WebSocketUpgrade::accept());
    hub.join(c, nullptr, this);
    return c;
  }
  Status publish(Hub& hub, const std::vector<std::string>& rooms, const std::string& id, testing::MemoryStateStore& s) {
    return hub.publish(rooms, R"({"id":")" + id + R"("})", id, s, telemetry);
  }
  testing::ManualExecutor executor;
  testing::MemoryStateStore state{executor};
  std::int64_t now = 1'700'000'000'000;
  std::shared_ptr<Ignore> handler = std::make_shared<Ignore>();
  std::uint64_t next_id = 0;
  Telemetry telemetry;
};

TEST(HubRegistry, EachSinkHasItsOwnHubWhateverSlashesItsNamesHold) {
  // Pipeline "a/b" with sink "c" and pipeline "a" with sink "b/c": two endpoints, whose
  // clients must not see each other's events.
  const auto one = Hub::shared("a/b", "c");
  const auto other = Hub::shared("a", "b/c");
  EXPECT_NE(one, other);
  EXPECT_EQ(Hub::shared("a/b", "c"), one) << "a reloaded version of the sink shares its hub";
}

TEST_F(HubTest, EachRoomNumbersItsEventsFromItsFirstMillisecond) {
  auto hub = make_hub();
  ASSERT_TRUE(publish(*hub, {"a"}, "e1", state));
  now += 5;
  ASSERT_TRUE(publish(*hub, {"a", "b"}, "e2", state));
  auto c = connect(*hub);
  hub->subscribe(c->id(), "a", std::nullopt, state, telemetry);
  hub->subscribe(c->id(), "b", std::nullopt, state, telemetry);
  const auto got = take(*c);
  ASSERT_EQ(got.size(), 5u);
  const std::uint64_t a0 = 1'700'000'000'000, b0 = 1'700'000'000'005;
  EXPECT_EQ(got[0].op, "subscribed");
  EXPECT_EQ(got[0].seq, a0 + 1) << "the room's last seq";
  EXPECT_EQ(got[1].seq, a0);
  EXPECT_EQ(got[1].event_id, "e1");
  EXPECT_EQ(got[2].seq, a0 + 1);
  EXPECT_EQ(got[2].event_id, "e2");
  EXPECT_EQ(got[3].op, "subscribed");
  EXPECT_EQ(got[3].room, "b");
  EXPECT_EQ(got[4].seq, b0) << "each room has its own numbering";
}

TEST_F(HubTest, NumberingAndKeptEventsSurviveARestart) {
  {
    auto hub = make_hub();
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(publish(*hub, {"r"}, "e" + std::to_string(i), state));
  }
  // A new process: nothing in memory, the same state store (the journal's).
  auto hub = make_hub();
  auto c = connect(*hub);
  const std::uint64_t first = static_cast<std::uint64_t>(now);
  hub->subscribe(c->id(), "r", first, state, telemetry);
  auto got = take(*c);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, first + 2);
  EXPECT_EQ(got[1].event_id, "e2");
  EXPECT_EQ(got[2].event_id, "e3");
  ASSERT_TRUE(publish(*hub, {"r"}, "e4", state));
  got = take(*c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, first + 3) << "numbering continues";
}

TEST_F(HubTest, EventsPastTheWindowAreGoneAndAResumeSeesTheGap) {
  auto hub = make_hub(ReplaySettings{.window = std::chrono::minutes(30)});
  ASSERT_TRUE(publish(*hub, {"r"}, "old", state));
  now += 31 * 60 * 1000;
  ASSERT_TRUE(publish(*hub, {"r"}, "new", state));
  EXPECT_EQ(hub->kept_events("r"), 1u);
  auto c = connect(*hub);
  const std::uint64_t first = 1'700'000'000'000;
  hub->subscribe(c->id(), "r", 0, state, telemetry);
  auto got = take(*c);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].op, "gap");
  EXPECT_EQ(got[1].from, first);
  EXPECT_EQ(got[1].to, first);
  EXPECT_EQ(got[2].event_id, "new");
}

TEST_F(HubTest, TheMemoryBoundDropsTheOldestEventsWhateverTheirRoom) {
  auto hub = make_hub(ReplaySettings{.total_bytes = 1000});
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(publish(*hub, {i % 2 == 0 ? "even" : "odd"}, "e" + std::to_string(i), state));
    EXPECT_LE(hub->kept_bytes(), 1000u);
  }
  EXPECT_GT(hub->kept_events("even"), 0u);
  EXPECT_GT(hub->kept_events("odd"), 0u);
  auto c = connect(*hub);
  hub->subscribe(c->id(), "odd", std::nullopt, state, telemetry);
  auto got = take(*c);
  EXPECT_EQ(got.back().event_id, "e19");
  EXPECT_EQ(got.size(), 1 + hub->kept_events("odd"));
}

TEST_F(HubTest, ARedeliveredEventIsNotPublishedTwice) {
  auto hub = make_hub();
  auto c = connect(*hub);
  hub->subscribe(c->id(), "r", std::nullopt, state, telemetry);
  take(*c);
  ASSERT_TRUE(publish(*hub, {"r"}, "same", state));
  ASSERT_TRUE(publish(*hub, {"r"}, "same", state));
  EXPECT_EQ(take(*c).size(), 1u);
  EXPECT_EQ(hub->kept_events("r"), 1u);
}

TEST_F(HubTest, ARoomWhoseStateWasLostNumbersAboveItsOldSeqs) {
  auto hub = make_hub();
  ASSERT_TRUE(publish(*hub, {"r"}, "e1", state));
  const std::uint64_t old_seq = 1'700'000'000'000;
  // durability: memory, restarted an hour later: nothing kept.
  testing::MemoryStateStore fresh{executor};
  hub = make_hub();
  now += 3'600'000;
  ASSERT_TRUE(publish(*hub, {"r"}, "e2", fresh));
  auto c = connect(*hub);
  hub->subscribe(c->id(), "r", old_seq, fresh, telemetry);
  auto got = take(*c);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].seq, old_seq + 3'600'000);
  EXPECT_EQ(got[1].op, "gap") << "the old cursor learns it may have missed events";
  EXPECT_EQ(got[1].from, old_seq + 1);
  EXPECT_EQ(got[1].to, old_seq + 3'600'000 - 1);
  EXPECT_EQ(got[2].event_id, "e2");
}

TEST_F(HubTest, NothingIsKeptWithAZeroWindow) {
  auto hub = make_hub(ReplaySettings{.window = std::chrono::milliseconds(0)});
  ASSERT_TRUE(publish(*hub, {"r"}, "e1", state));
  EXPECT_EQ(hub->kept_events("r"), 0u);
  auto c = connect(*hub);
  hub->subscribe(c->id(), "r", std::nullopt, state, telemetry);
  ASSERT_TRUE(publish(*hub, {"r"}, "e2", state));
  auto got = take(*c);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].event_id, "e2") << "live events still flow";
}

}  // namespace
}  // namespace switchyard::websocket
