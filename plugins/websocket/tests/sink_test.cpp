// The websocket sink in the SDK harness, its clients faked (Harness::connect_websocket): the
// options checked at load, the protocol (subscribe, replay, resume, gap, unsubscribe, ping,
// errors), rooms from the template, a slow client closed with 1013 while the others keep
// receiving, replays fed in chunks as a client's queue drains, and who may connect (tokens,
// JWTs and their rooms, origins, limits). Real sockets: tests/e2e/websocket*.test.mjs.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "common/signing.hpp"
#include "jwt.hpp"
#include "received.hpp"
#include "websocket_sink.hpp"

namespace switchyard::websocket {
namespace {

using switchyard::testing::Harness;
using switchyard::testing::make_event;
using test::take;

constexpr const char* kRoomOf = R"("room": "${{ payload.repository.full_name }}")";
const std::string kJwtSecret = "an-hs256-key-of-at-least-32-bytes!";
const std::string kToken = "dashboard-token-0123456789";

std::string options(std::string_view extra = "") {
  std::string out = std::string(R"({"path": "/live", )") + kRoomOf;
  if (!extra.empty()) out += ", " + std::string(extra);
  return out + "}";
}

EventPtr push(const std::string& repo, const std::string& id, const std::string& message = "fix") {
  auto event = make_event("github.push", R"({"repository":{"full_name":")" + repo +
                                             R"("},"head_commit":{"message":")" + message + R"("}})");
  event->id = id;
  return EventPtr(std::move(event));
}

HttpHeaders headers(std::initializer_list<std::pair<std::string, std::string>> fields) {
  HttpHeaders h;
  for (const auto& [name, value] : fields) h.add(name, value);
  return h;
}

std::string jwt(const std::string& claims, const std::string& secret = kJwtSecret) {
  const std::string input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(claims);
  const auto mac = signing::hmac_sha256(secret, input);
  return input + "." + base64url_encode(std::string(reinterpret_cast<const char*>(mac->data()), mac->size()));
}

std::string configure_error(std::string_view json) {
  Harness h(kWebSocketSinkDecl, json);
  auto s = h.configure();
  return s ? "" : s.error().message;
}

struct Sink : ::testing::Test {
  explicit Sink(std::string json = options()) : h(kWebSocketSinkDecl, json) {}
  void SetUp() override {
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
  }
  void TearDown() override { h.stop(); }
  testing::FakeWebSocket connect(HttpHeaders headers = {}, std::string_view remote = "127.0.0.1:40000") {
    return h.connect_websocket("/live", headers, remote);
  }
  void say(const testing::FakeWebSocket& ws, const std::string& text) {
    ws->client_send(text);
    h.executor().run_pending();
  }
  void subscribe(const testing::FakeWebSocket& ws, const std::string& room, std::optional<std::uint64_t> after = {}) {
    say(ws, R"({"op":"subscribe","room":")" + room + "\"" +
                (after ? R"(,"after":)" + std::to_string(*after) : std::string()) + "}");
  }
  Harness h;
};

TEST(WebSocketSinkConfig, ReportsEveryProblemAtOnce) {
  const std::string error = configure_error(
      R"({"path": "/live", "room": "x", "replay_max": -1, "ping_interval": "10ms", "auth": "token",
          "tokens": ["short"], "jwt_secret": "k", "origins": ["dashboard.example.com"], "jwt_audience": "a",
          "jwt_issuer": "i", "jwt_require_exp": false,
          "max_connections": 0, "max_connections_per_client": 0, "send_queue": 100, "max_message": 10})");
  for (const char* expected : {"replay_max:", "ping_interval:", "tokens[0]:", "jwt_secret: only with auth: jwt",
                               "jwt_audience: only with auth: jwt", "jwt_issuer: only with auth: jwt",
                               "jwt_require_exp: only with auth: jwt",
                               "origins: 'dashboard.example.com'", "max_connections:", "max_connections_per_client:",
                               "send_queue:", "max_message:"}) {
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
  }
  EXPECT_EQ(error.find("short"), std::string::npos) << "a token is a secret: never in an error";
  // The path is a declared route: the SDK's option check refuses what is not a path.
  EXPECT_NE(configure_error(R"({"path": "live", "room": "x"})").find("path: expected a path starting with '/'"),
            std::string::npos);
  EXPECT_NE(configure_error(R"({"path": "/live", "room": "x", "auth": "token"})").find("tokens: auth: token needs"),
            std::string::npos);
  EXPECT_NE(configure_error(R"({"path": "/live", "room": "x", "auth": "jwt", "jwt_secret": "too short"})")
                .find("at least 32 bytes"),
            std::string::npos);
  EXPECT_EQ(configure_error(options()), "");
}

TEST_F(Sink, SubscribersGetEventsOfTheirRoomNumberedOneByOne) {
  auto ws = connect();
  ASSERT_TRUE(ws);
  subscribe(ws, "octo-org/hello-service");
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].op, "subscribed");
  EXPECT_EQ(got[0].seq, 0u) << "no event yet";

  ASSERT_TRUE(h.deliver(push("octo-org/hello-service", "d1")));
  ASSERT_TRUE(h.deliver(push("octo-org/other", "d2")));
  ASSERT_TRUE(h.deliver(push("octo-org/hello-service", "d3")));
  got = take(*ws.connection);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].op, "event");
  EXPECT_EQ(got[0].room, "octo-org/hello-service");
  EXPECT_EQ(got[0].event_id, "d1");
  EXPECT_EQ(got[1].event_id, "d3");
  EXPECT_EQ(got[1].seq, got[0].seq + 1);
  EXPECT_EQ(h.metrics().value(metrics::names::kWebsocketConnections), 1);
  EXPECT_EQ(h.metrics().value("switchyard_websocket_messages_sent_total"), 3);
}

TEST_F(Sink, ASubscriberGetsTheKeptEventsThenLiveOnesAndResumesWithoutGapOrDuplicate) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(h.deliver(push("r", "d" + std::to_string(i))));
  auto ws = connect();
  subscribe(ws, "r");
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].op, "subscribed");
  EXPECT_EQ(got[0].seq, got[3].seq) << "subscribed carries the room's last seq";
  EXPECT_EQ(got[1].event_id, "d1");
  EXPECT_EQ(got[3].event_id, "d3");
  EXPECT_EQ(h.metrics().value("switchyard_websocket_replayed_total"), 3);
  const std::uint64_t cursor = got[2].seq;  // the client saw d2, then lost its connection

  ws->client_close(websocket_close::kAbnormal, "");
  h.executor().run_pending();
  ws.connection.reset();  // the engine releases a connection once it is closed
  EXPECT_EQ(h.metrics().value(metrics::names::kWebsocketConnections), 0);
  ASSERT_TRUE(h.deliver(push("r", "d4")));  // while it is away

  auto back = connect();
  subscribe(back, "r", cursor);
  ASSERT_TRUE(h.deliver(push("r", "d5")));
  got = take(*back.connection);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].event_id, "d3");
  EXPECT_EQ(got[2].event_id, "d4");
  EXPECT_EQ(got[3].event_id, "d5");
  EXPECT_EQ(got[3].seq, cursor + 3);
}

struct SmallReplay : Sink {
  SmallReplay() : Sink(options(R"("replay_max": 2)")) {}
};

TEST_F(SmallReplay, AResumeFromFurtherBackThanWhatIsKeptGetsAGap) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(h.deliver(push("r", "d" + std::to_string(i))));
  auto probe = connect();
  subscribe(probe, "r");
  auto got = take(*probe.connection);
  ASSERT_EQ(got.size(), 3u) << "the last two are kept";
  const std::uint64_t last = got[0].seq;

  auto ws = connect();
  subscribe(ws, "r", last - 4);  // it had d1
  got = take(*ws.connection);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].op, "gap");
  EXPECT_EQ(got[1].from, last - 3);
  EXPECT_EQ(got[1].to, last - 2) << "d2 and d3 are lost to this client";
  EXPECT_EQ(got[2].event_id, "d4");
  EXPECT_EQ(got[3].event_id, "d5");
  EXPECT_EQ(h.metrics().value("switchyard_websocket_gaps_total"), 1);
}

TEST_F(Sink, UnsubscribePingAndBadMessages) {
  auto ws = connect();
  subscribe(ws, "a");
  subscribe(ws, "b");
  say(ws, R"({"op":"unsubscribe","room":"a"})");
  say(ws, R"({"op":"ping"})");
  say(ws, "not json");
  say(ws, R"({"op":"subscribe","room":""})");
  ASSERT_TRUE(h.deliver(push("a", "da")));
  ASSERT_TRUE(h.deliver(push("b", "db")));
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[2].op, "pong");
  EXPECT_EQ(got[3].op, "error");
  EXPECT_EQ(got[3].reason, "not a JSON object");
  EXPECT_EQ(got[4].op, "error");
  EXPECT_EQ(got[5].event_id, "db") << "nothing more from room a";
}

TEST_F(Sink, AConnectionSubscribesToAtMostItsLimitOfRooms) {
  auto ws = connect();
  for (int i = 0; i < 50; ++i) subscribe(ws, "room-" + std::to_string(i));
  take(*ws.connection);
  subscribe(ws, "one-too-many");
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].op, "error");
  EXPECT_EQ(got[0].room, "one-too-many");
  EXPECT_NE(got[0].reason.find("at most 50"), std::string::npos);
  subscribe(ws, "room-7", 0);
  EXPECT_EQ(take(*ws.connection)[0].op, "subscribed") << "subscribing again to a room is not one more";
}

struct TwoRooms : Sink {
  TwoRooms() : Sink(R"({"path": "/live", "room": ["all", "${{ payload.repository.full_name }}"],
                         "data": {"repo": "${{ payload.repository.full_name }}"}})") {}
};

TEST_F(TwoRooms, AListOfRoomsPublishesInEachWithItsOwnNumbersAndDataShapesTheEvent) {
  auto ws = connect();
  subscribe(ws, "all");
  subscribe(ws, "x/y");
  take(*ws.connection);
  ASSERT_TRUE(h.deliver(push("x/y", "d1")));
  ASSERT_TRUE(h.deliver(push("z/w", "d2")));
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].room, "all");
  EXPECT_EQ(got[1].room, "x/y");
  EXPECT_EQ(got[2].room, "all");
  EXPECT_EQ(got[2].seq, got[0].seq + 1);
  EXPECT_NE(got[0].text.find(R"("data":{"repo":"x/y"})"), std::string::npos) << got[0].text;
  EXPECT_EQ(got[0].text.find("head_commit"), std::string::npos) << "only what data says";
}

TEST_F(Sink, EventsWithoutARoomGoNowhereAndBadRoomsAreDeadLettered) {
  auto none = make_event("github.ping", R"({"zen":"hi"})");
  EXPECT_TRUE(h.deliver(EventPtr(std::move(none))));
  auto object = make_event("x", R"({"repository":{"full_name":{"a":1}}})");
  auto status = h.deliver(EventPtr(std::move(object)));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  auto control = push("a\\tb", "d1");  // a tab in the room
  EXPECT_FALSE(h.deliver(control));
}

struct SmallQueue : Sink {
  SmallQueue() : Sink(options(R"("send_queue": "4KiB")")) {}
};

TEST_F(SmallQueue, ASlowClientIsClosedWith1013WhileTheOthersKeepReceiving) {
  auto slow = connect();
  auto fast = connect();
  subscribe(slow, "r");
  subscribe(fast, "r");
  take(*fast.connection);
  slow->stall();
  int delivered = 0;
  while (!slow->closed()) {
    ASSERT_TRUE(h.deliver(push("r", "d" + std::to_string(++delivered), std::string(300, 'x'))))
        << "the pipeline never waits for a client";
    ASSERT_LT(delivered, 100);
  }
  EXPECT_EQ(slow->how()->code, websocket_close::kTryAgainLater);
  EXPECT_EQ(h.metrics().value("switchyard_websocket_slow_clients_total"), 1);
  ASSERT_TRUE(h.deliver(push("r", "after")));
  h.executor().run_pending();
  auto got = take(*fast.connection);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(delivered + 1));
  EXPECT_EQ(got.back().event_id, "after");
  EXPECT_EQ(h.component<WebSocketSink>().hub().clients(), 1u) << "the slow one is gone";
}

TEST_F(SmallQueue, AReplayIsFedAsTheClientReadsAndJoinsLiveEventsInOrder) {
  for (int i = 1; i <= 40; ++i) ASSERT_TRUE(h.deliver(push("r", "d" + std::to_string(i), std::string(300, 'x'))));
  auto ws = connect();
  ws->stall();
  subscribe(ws, "r");
  EXPECT_LE(ws->queued(), 2048u + 600u) << "a replay fills half the queue at a time";
  EXPECT_FALSE(ws->closed());
  // Live events arrive during the replay; the client reads on.
  ASSERT_TRUE(h.deliver(push("r", "d41")));
  std::vector<test::Msg> got;
  for (int round = 0; round < 100 && (got.empty() || got.back().event_id != "d42"); ++round) {
    ws->resume();
    ws->stall();
    h.executor().run_pending();
    if (round == 3) {
      ASSERT_TRUE(h.deliver(push("r", "d42")));
    }
    for (auto& m : take(*ws.connection)) got.push_back(m);
  }
  ws->resume();
  for (auto& m : take(*ws.connection)) got.push_back(m);
  ASSERT_EQ(got.size(), 43u);
  EXPECT_EQ(got[0].op, "subscribed");
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].event_id, "d" + std::to_string(i)) << "in order, none twice, none skipped";
  }
}

struct TokenAuth : Sink {
  TokenAuth() : Sink(options(R"("auth": "token", "tokens": [")" + kToken + R"("], "origins": ["https://dash.example.com"])")) {}
};

TEST_F(TokenAuth, ATokenInTheHeaderOrAsASubprotocolAndAnAllowedOrigin) {
  auto missing = connect();
  ASSERT_TRUE(missing.refusal);
  EXPECT_EQ(missing.refusal->status, 401);
  auto wrong = connect(headers({{"Authorization", "Bearer not-the-token-at-all"}}));
  ASSERT_TRUE(wrong.refusal);
  EXPECT_EQ(wrong.refusal->status, 401);
  EXPECT_EQ(h.metrics().value("switchyard_websocket_auth_failures_total"), 2);

  auto header = connect(headers({{"Authorization", "Bearer " + kToken}}));
  ASSERT_TRUE(header) << header.refusal->body;
  EXPECT_EQ(header->subprotocol(), "");
  // A browser: the token rides as a subprotocol next to ours, which is the one confirmed.
  auto browser = connect(headers({{"Origin", "https://DASH.example.com"},
                                  {"Sec-WebSocket-Protocol", "switchyard.v1, bearer." + kToken}}));
  ASSERT_TRUE(browser) << browser.refusal->body;
  EXPECT_EQ(browser->subprotocol(), "switchyard.v1");
  auto alone = connect(headers({{"Sec-WebSocket-Protocol", "bearer." + kToken}}));
  ASSERT_TRUE(alone.refusal);
  EXPECT_EQ(alone.refusal->status, 400);

  auto elsewhere = connect(headers({{"Origin", "https://evil.example.com"}, {"Authorization", "Bearer " + kToken}}));
  ASSERT_TRUE(elsewhere.refusal);
  EXPECT_EQ(elsewhere.refusal->status, 403);
  EXPECT_EQ(h.metrics().value("switchyard_websocket_refused_total", {{"reason", "origin"}}), 1);
  for (const auto& line : h.logs().lines) EXPECT_EQ(line.message.find(kToken), std::string::npos) << line.message;
}

struct JwtAuth : Sink {
  JwtAuth() : Sink(options(R"("auth": "jwt", "jwt_secret": ")" + kJwtSecret + R"(", "max_connections_per_client": 2)")) {}
};

TEST_F(JwtAuth, TheTokensRoomsLimitSubscriptionsAndItsSubjectCountsConnections) {
  const std::string alice = jwt(R"({"sub":"alice","exp":4102444800,"rooms":["octo-org/*"]})");
  auto ws = connect(headers({{"Authorization", "Bearer " + alice}}));
  ASSERT_TRUE(ws) << ws.refusal->body;
  subscribe(ws, "octo-org/hello-service");
  subscribe(ws, "acme/secret-project");
  auto got = take(*ws.connection);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].op, "subscribed");
  EXPECT_EQ(got[1].op, "error");
  EXPECT_EQ(got[1].room, "acme/secret-project");
  EXPECT_EQ(got[1].reason, "not allowed to read this room");
  ASSERT_TRUE(h.deliver(push("acme/secret-project", "secret")));
  EXPECT_TRUE(take(*ws.connection).empty());

  // Per client is per subject, whatever the address.
  EXPECT_TRUE(connect(headers({{"Authorization", "Bearer " + alice}}), "10.0.0.2:1"));
  auto third = connect(headers({{"Authorization", "Bearer " + alice}}), "10.0.0.3:1");
  ASSERT_TRUE(third.refusal);
  EXPECT_EQ(third.refusal->status, 429);
  EXPECT_TRUE(connect(headers({{"Authorization", "Bearer " + jwt(R"({"sub":"bob","exp":4102444800})")}})));

  for (const auto& [claims, secret] : {std::pair{std::string(R"({"sub":"x","exp":1000})"), kJwtSecret},
                                       std::pair{std::string(R"({"sub":"x","exp":4102444800})"),
                                                 std::string("another secret, also 32 bytes long")},
                                       std::pair{std::string(R"({"sub":"x"})"), kJwtSecret}}) {
    auto refused = connect(headers({{"Authorization", "Bearer " + jwt(claims, secret)}}));
    ASSERT_TRUE(refused.refusal) << claims;
    EXPECT_EQ(refused.refusal->status, 401);
  }
  EXPECT_EQ(h.metrics().value("switchyard_websocket_auth_failures_total"), 3);
}

TEST_F(JwtAuth, AConnectionEndsWhenItsTokenExpires) {
  // exp in the past but within the leeway: let in, and closed once the leeway is used up.
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  const auto exp = now.count() - kJwtLeeway.count() + 5;
  auto ws = connect(headers({{"Authorization", "Bearer " + jwt(R"({"sub":"ann","exp":)" + std::to_string(exp) + "}")}}));
  ASSERT_TRUE(ws) << ws.refusal->body;
  auto lasting = connect(headers({{"Authorization", "Bearer " + jwt(R"({"sub":"bo","exp":4102444800})")}}));
  ASSERT_TRUE(lasting);
  subscribe(ws, "octo-org/hello-service");
  h.advance(std::chrono::milliseconds(2'000));
  EXPECT_FALSE(ws->closed()) << "still valid";
  h.advance(std::chrono::milliseconds(5'000));
  ASSERT_TRUE(ws->closed());
  EXPECT_EQ(ws->how()->code, websocket_close::kPolicyViolation);
  EXPECT_EQ(ws->how()->reason, "token expired");
  EXPECT_FALSE(lasting->closed()) << "a token valid until 2100 keeps its connection";
}

struct JwtPolicyAuth : Sink {
  JwtPolicyAuth()
      : Sink(options(R"("auth": "jwt", "jwt_secret": ")" + kJwtSecret +
                     R"(", "jwt_audience": "dashboard", "jwt_issuer": "https://login.example.com", "jwt_require_exp": false)")) {}
};

TEST_F(JwtPolicyAuth, TokensForAnotherAudienceOrFromAnotherIssuerAreRefused) {
  const std::string iss = R"("iss":"https://login.example.com")";
  EXPECT_TRUE(connect(headers({{"Authorization", "Bearer " + jwt(R"({"aud":"dashboard",)" + iss + "}")}})))
      << "right audience and issuer; no exp, which this endpoint allows";
  for (const std::string& claims : {R"({"aud":"billing",)" + iss + "}", R"({)" + iss + "}",
                                    std::string(R"({"aud":"dashboard","iss":"https://evil.example.com"})")}) {
    auto refused = connect(headers({{"Authorization", "Bearer " + jwt(claims)}}));
    ASSERT_TRUE(refused.refusal) << claims;
    EXPECT_EQ(refused.refusal->status, 401);
  }
  EXPECT_EQ(h.metrics().value("switchyard_websocket_auth_failures_total"), 3);
}

struct FewConnections : Sink {
  FewConnections() : Sink(options(R"("max_connections": 2, "max_connections_per_client": 1)")) {}
};

TEST_F(FewConnections, LimitsPerAddressAndInTotalFreeUpWhenClientsLeave) {
  auto a = connect({}, "10.0.0.1:1000");
  ASSERT_TRUE(a);
  auto again = connect({}, "10.0.0.1:1001");
  ASSERT_TRUE(again.refusal);
  EXPECT_EQ(again.refusal->status, 429);
  ASSERT_TRUE(connect({}, "[2001:db8::1]:1000"));
  auto full = connect({}, "10.0.0.3:1000");
  ASSERT_TRUE(full.refusal);
  EXPECT_EQ(full.refusal->status, 503);
  // The first client leaves: its slot is free once its connection is released.
  a->client_close(1000, "bye");
  h.executor().run_pending();
  a.connection.reset();
  EXPECT_TRUE(connect({}, "10.0.0.1:1002"));
}

}  // namespace
}  // namespace switchyard::websocket
