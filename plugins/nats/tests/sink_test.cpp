// The nats sink in the SDK harness: its options checked at load (all errors at once,
// secrets never quoted) and events rendered into messages. Publishing to a real JetStream
// cluster is tested end to end (tests/e2e/nats.test.mjs).
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "message/mapping.hpp"
#include "sink/sink.hpp"

namespace switchyard::nats {
namespace {

using testing::Harness;
using testing::make_event;

std::string configure_error(std::string_view json) {
  Harness h(kSinkDecl, json);
  auto s = h.configure();
  return s ? "" : s.error().message;
}

TEST(NatsSink, AcceptsAMinimalConfiguration) {
  EXPECT_EQ(configure_error(R"({"subject": "github.push", "stream": "EVENTS"})"), "");
  EXPECT_EQ(configure_error(R"({"subject": "github.${{ event.type }}", "stream": "EVENTS", "mode": "binary",
                                "servers": ["n1:4222", "tls://n2:4222,nats://n3:4222"],
                                "create_stream": {"subjects": ["github.>"], "replicas": 3, "max_age": "7d"}})"),
            "");
}

TEST(NatsSink, ReportsEveryConfigurationErrorAtOnce) {
  const std::string error = configure_error(
      R"({"subject": "github push", "stream": "EV.ENTS", "servers": ["http://n1:4222", ""],
          "create_stream": {"subjects": ["other.>"], "replicas": 7},
          "token": "t", "username": "u", "timeout": "10ms", "reconnect": {"initial": "5s", "max": "1s"}})");
  for (const char* expected : {"subject:", "stream:", "servers: 'http://n1:4222'", "servers: an entry is empty",
                               "create_stream.replicas", "give one way to authenticate", "timeout:", "reconnect.max"}) {
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
  }
}

TEST(NatsSink, RefusesASubjectTheCreatedStreamWouldNotStore) {
  const std::string error = configure_error(
      R"({"subject": "orders.new", "stream": "EVENTS", "create_stream": {"subjects": ["github.>"]}})");
  EXPECT_NE(error.find("not one of create_stream.subjects"), std::string::npos) << error;
}

TEST(NatsSink, NeverQuotesCredentials) {
  const std::string error = configure_error(
      R"({"subject": "a", "stream": "S", "servers": ["nats://alice:hunter2@n1:4222"], "nkey_seed": "SUxhunter3"})");
  EXPECT_NE(error.find("credentials in a URL"), std::string::npos) << error;
  EXPECT_NE(error.find("nkey_seed: not a user NKey seed"), std::string::npos) << error;
  EXPECT_EQ(error.find("hunter"), std::string::npos) << error;
}

TEST(NatsSink, DeclaresItsSecrets) {
  for (const auto& option : kSinkDecl.options) {
    const std::string name = option.name;
    EXPECT_EQ(option.secret, name == "token" || name == "password" || name == "nkey_seed") << name;
  }
}

TEST(NatsSink, RendersTheSubjectPerEvent) {
  Harness h(kSinkDecl, R"({"subject": "github.${{ event.type }}", "stream": "EVENTS", "mode": "binary"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("pull_request", R"({"number": 5})");
  auto message = h.component<NatsSink>().message_for(*event);
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(message->subject, "github.pull_request");
  EXPECT_EQ(header(message->headers, "Nats-Msg-Id").value_or(""), event->id);
  EXPECT_EQ(message->payload, R"({"number":5})");

  // A rendered subject that is no subject is this event's failure, not a retry.
  auto odd = make_event("pull request", "{}");
  auto refused = h.component<NatsSink>().message_for(*odd);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::permanent);
}

}  // namespace
}  // namespace switchyard::nats

namespace switchyard::nats {
namespace {

// Sink::render: what `switchyard test` checks under rendered: and `switchyard render` prints.
TEST(NatsSinkRender, RendersThePublishWithItsCloudEventsHeadersWithoutConnecting) {
  Harness h(kSinkDecl, R"({"subject": "github.${{ payload.repo }}", "stream": "EVENTS", "mode": "binary"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("github.push", R"({"repo": "app", "ref": "main"})");
  auto rendered = h.render(*event);
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "PUBLISH");
  EXPECT_EQ(r.url, "github.app");
  EXPECT_EQ(r.headers.get("Nats-Msg-Id"), std::optional<std::string_view>(event->id));
  EXPECT_EQ(r.headers.get("ce-type"), std::optional<std::string_view>("github.push"));
  EXPECT_EQ(r.body, R"({"repo":"app","ref":"main"})");

  auto bad = h.render(*make_event("github.push", R"({"repo": "two words"})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("is not a NATS subject"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace switchyard::nats
