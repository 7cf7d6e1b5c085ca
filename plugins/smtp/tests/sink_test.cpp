// The smtp sink in the SDK harness: its options checked at load, events rendered into
// messages (recipients, Bcc, injection), and recipients that already have a message skipped.
// Sending to a real server is tested end to end (tests/e2e/smtp.test.mjs, aiosmtpd).
#include <gtest/gtest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <switchyard/testing.hpp>

#include "client.hpp"
#include "smtp_sink.hpp"

namespace switchyard::smtp {
namespace {

using testing::Harness;
using testing::make_event;

// A working configuration with the members of `extra` (JSON members) added or replaced.
std::string options(std::string_view extra = "") {
  rapidjson::Document base;
  base.Parse(R"({"host": "127.0.0.1", "port": 2525, "tls": "none", "allow_plaintext": true,
                 "from": "CI <ci@example.com>", "to": "ops@example.com", "text": "hello"})");
  rapidjson::Document more;
  more.Parse(("{" + std::string(extra) + "}").c_str());
  EXPECT_FALSE(more.HasParseError()) << extra;
  for (auto& m : more.GetObject()) {
    base.RemoveMember(m.name.GetString());
    base.AddMember(rapidjson::Value(m.name, base.GetAllocator()), rapidjson::Value(m.value, base.GetAllocator()),
                   base.GetAllocator());
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  base.Accept(writer);
  return buffer.GetString();
}

std::string configure_error(std::string_view json) {
  Harness h(kSmtpSinkDecl, json);
  auto s = h.configure();
  return s ? "" : s.error().message;
}

TEST(SmtpSink, RefusesPlaintextUnlessAllowed) {
  EXPECT_EQ(configure_error(options()), "");
  const std::string error = configure_error(
      R"({"host": "mail.example.com", "tls": "none", "from": "a@example.com", "to": "b@example.com", "text": "x"})");
  EXPECT_NE(error.find("allow_plaintext"), std::string::npos) << error;
}

TEST(SmtpSink, ReportsEveryConfigurationErrorAtOnce) {
  const std::string error = configure_error(
      R"({"host": "mail example", "port": 70000, "username": "u", "from": "not an address",
          "to": "ops@example.com\r\nBcc: x@evil.example", "headers": {"Bcc": "x", "X Bad": "y"},
          "timeout": "200ms", "pool_size": 0})");
  for (const char* expected : {"host:", "port:", "username and password", "from:", "to:", "line break",
                               "Bcc is set by the sink", "\"X Bad\" is not a header name", "timeout:",
                               "pool_size:"}) {
    EXPECT_NE(error.find(expected), std::string::npos) << expected << " in: " << error;
  }
}

TEST(SmtpSink, NeedsARecipient) {
  EXPECT_NE(configure_error(R"({"host": "h", "from": "a@example.com", "to": [], "text": "x"})").find("recipient"),
            std::string::npos);
  EXPECT_NE(configure_error(R"({"host": "h", "from": "a@example.com", "text": "x"})").find("to:"), std::string::npos);
  EXPECT_EQ(configure_error(R"({"host": "h", "from": "a@example.com", "to": [], "bcc": "b@example.com", "html": "<p>x</p>"})"),
            "");
  EXPECT_EQ(configure_error(R"({"host": "h", "from": "a@example.com", "to": "b@example.com"})"), "")
      << "a message without text or html has an empty body";
}

TEST(SmtpSink, RefusesAnUnreadableCaFile) {
  EXPECT_NE(configure_error(options(R"("ca_file": "/nonexistent/ca.pem")")).find("ca_file"), std::string::npos);
}

TEST(SmtpSink, RendersRecipientsWithBccInTheEnvelopeOnly) {
  Harness h(kSmtpSinkDecl, options(R"("to": ["ops@example.com", "${{ payload.author }}"],
                                      "cc": "${{ payload.watchers }}", "bcc": "audit@example.com, ops@EXAMPLE.com",
                                      "subject": "${{ payload.title }}")"));
  ASSERT_TRUE(h.configure());
  auto event = make_event("ci.failed", R"({"author": "Dev <dev@example.com>", "title": "Build 7 failed",
                                          "watchers": ["a@example.com", "b@example.com, c@example.com"]})");
  auto rendered = h.component<SmtpSink>().message_for(*event);
  ASSERT_TRUE(rendered) << rendered.error().message;
  std::vector<std::string> mailboxes;
  for (const auto& a : rendered->recipients) mailboxes.push_back(a.mailbox);
  EXPECT_EQ(mailboxes, (std::vector<std::string>{"ops@example.com", "dev@example.com", "a@example.com", "b@example.com",
                                                 "c@example.com", "audit@example.com"}))
      << "each mailbox once, the duplicate in bcc dropped";
  const std::string message = build_message(rendered->spec);
  EXPECT_NE(message.find("To: ops@example.com, Dev <dev@example.com>\r\n"), std::string::npos) << message;
  EXPECT_NE(message.find("Cc: a@example.com, b@example.com, c@example.com\r\n"), std::string::npos);
  EXPECT_EQ(message.find("audit@"), std::string::npos) << "Bcc recipients appear in no header";
  EXPECT_NE(message.find("Subject: Build 7 failed\r\n"), std::string::npos);
  EXPECT_NE(message.find("Message-ID: <" + std::string(event->id) + ".test=2Esmtp@example.com>"), std::string::npos)
      << message;
}

TEST(SmtpSink, AHostileCommitMessageInjectsNothing) {
  Harness h(kSmtpSinkDecl, options(R"("subject": "Build failed: ${{ payload.message }}")"));
  ASSERT_TRUE(h.configure());
  auto event = make_event("ci.failed", R"({"message": "Fix parser\r\nBcc: attacker@example.com"})");
  auto rendered = h.component<SmtpSink>().message_for(*event);
  ASSERT_TRUE(rendered);
  ASSERT_EQ(rendered->recipients.size(), 1u);
  const std::string message = build_message(rendered->spec);
  EXPECT_EQ(message.find("\r\nBcc:"), std::string::npos);
  EXPECT_NE(message.find("Subject: Build failed: Fix parser Bcc: attacker@example.com\r\n"), std::string::npos);
}

TEST(SmtpSink, EventDataCannotAddRecipientsToATemplateOfOneAddress) {
  // Git keeps a comma in an author's e-mail; a name may hold one and an '@'. Each would have
  // been split into recipients of the sender's choosing (Bcc ones too).
  Harness h(kSmtpSinkDecl, options(R"("to": ["ops@example.com", "${{ payload.email }}", "${{ payload.name }} <dev@example.com>"],
                                      "bcc": "${{ payload.email }}", "reply_to": "${{ payload.email }}")"));
  ASSERT_TRUE(h.configure());
  for (const char* payload : {R"({"email": "dev@example.com, victim@example.org", "name": "Dev"})",
                              R"({"email": "[\"v1@example.org\",\"v2@example.org\"]", "name": "Dev"})"}) {
    auto rendered = h.component<SmtpSink>().message_for(*make_event("ci.failed", payload));
    ASSERT_FALSE(rendered) << payload << ": " << rendered->recipients.size() << " recipients";
    EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  }
  // The name stays a name, whatever it holds.
  auto rendered = h.component<SmtpSink>().message_for(
      *make_event("ci.failed", R"({"email": "dev@example.com", "name": "x@example.org, Bob"})"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  std::vector<std::string> mailboxes;
  for (const auto& a : rendered->recipients) mailboxes.push_back(a.mailbox);
  EXPECT_EQ(mailboxes, (std::vector<std::string>{"ops@example.com", "dev@example.com"}));
}

TEST(SmtpSink, ARenderedAddressWithALineBreakFailsPermanently) {
  Harness h(kSmtpSinkDecl, options(R"("to": "${{ payload.email }}")"));
  ASSERT_TRUE(h.configure());
  auto event = make_event("x", R"({"email": "dev@example.com\r\nBcc: attacker@example.com"})");
  auto rendered = h.component<SmtpSink>().message_for(*event);
  ASSERT_FALSE(rendered);
  EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  EXPECT_NE(rendered.error().message.find("to: address"), std::string::npos) << rendered.error().message;
  ASSERT_TRUE(h.start());
  const Status delivered = h.deliver(std::move(event));
  ASSERT_FALSE(delivered);
  EXPECT_EQ(delivered.error().kind, ErrorKind::permanent);
  h.stop();
}

TEST(SmtpSink, AnEventWithoutRecipientsFailsPermanently) {
  Harness h(kSmtpSinkDecl, options(R"("to": "${{ payload.nobody }}")"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.component<SmtpSink>().message_for(*make_event("x", "{}"));
  ASSERT_FALSE(rendered);
  EXPECT_NE(rendered.error().message.find("no recipient"), std::string::npos);
}

TEST(SmtpSink, RecipientsThatHaveTheMessageAreNotSentItAgain) {
  // Port 9 (discard) on loopback: had the sink tried to send, the delivery would fail.
  Harness h(kSmtpSinkDecl, options(R"("port": 9, "to": "a@example.com, b@example.com")"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("x", "{}");
  ASSERT_TRUE(h.context().state().put(SmtpSink::sent_key(event->id), "a@example.com\nb@example.com\n",
                                      std::chrono::hours(1)));
  EXPECT_TRUE(h.deliver(std::move(event)));
  h.stop();
}

TEST(SmtpSink, OverMaxSizeFailsPermanently) {
  Harness h(kSmtpSinkDecl, options(R"("max_size": "1KiB", "text": "${{ payload.log }}")"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const Status s = h.deliver(make_event("x", R"({"log": ")" + std::string(4000, 'x') + R"("})"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::permanent);
  EXPECT_NE(s.error().message.find("max_size"), std::string::npos);
  h.stop();
}

// judge() decides from what the server said; these outcomes are what curl and the dialogue
// reported for each case against a real server.
Outcome replied(std::vector<std::pair<std::string, int>> rcpts, int curl_code = 0) {
  Outcome o;
  o.curl_code = curl_code;
  for (auto& [r, code] : rcpts) o.recipients.emplace_back(r, Reply{code, code < 300 ? "OK" : "mailbox unavailable"});
  return o;
}

TEST(SmtpJudge, PartialAcceptanceIsRetryableWhileATemporaryRefusalIsLeft) {
  const Envelope env{"ci@example.com", {"a@example.com", "b@example.com", "c@example.com"}, {}};
  Verdict v = judge(replied({{"a@example.com", 250}, {"b@example.com", 451}, {"c@example.com", 550}}), env, false);
  EXPECT_EQ(v.accepted, (std::vector<std::string>{"a@example.com"}));
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->kind, ErrorKind::retryable);
  EXPECT_NE(v.error->message.find("b@example.com: 451"), std::string::npos) << v.error->message;
  EXPECT_NE(v.error->message.find("c@example.com: 550"), std::string::npos);

  v = judge(replied({{"a@example.com", 250}, {"b@example.com", 550}, {"c@example.com", 250}}), env, false);
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->kind, ErrorKind::permanent);
  EXPECT_EQ(v.accepted.size(), 2u);
  EXPECT_EQ(v.failure_class, "5xx");
}

TEST(SmtpJudge, RepliesDecideRetryOrDeadLetter) {
  const Envelope env{"ci@example.com", {"a@example.com"}, {}};
  Outcome o = replied({{"a@example.com", 250}}, 56);
  o.failed_step = "end of data";
  o.failed_reply = {451, "4.3.0 try again later"};
  Verdict v = judge(o, env, false);
  EXPECT_TRUE(v.accepted.empty());
  EXPECT_EQ(v.error->kind, ErrorKind::retryable);
  EXPECT_EQ(v.error->message, "the server refused the message: 451 4.3.0 try again later");

  o.failed_step = "AUTH";
  o.failed_reply = {535, "5.7.8 Authentication credentials invalid"};
  v = judge(o, env, false);
  EXPECT_EQ(v.error->kind, ErrorKind::permanent);
  EXPECT_NE(v.error->message.find("authentication failed: 535"), std::string::npos);

  o = replied({{"a@example.com", 550}}, 55);
  v = judge(o, env, false);
  EXPECT_EQ(v.error->kind, ErrorKind::permanent);
  EXPECT_EQ(v.error->message, "every recipient was refused: a@example.com: 550 mailbox unavailable");

  o = Outcome{};
  o.curl_code = 60;  // CURLE_PEER_FAILED_VERIFICATION
  o.curl_error = "SSL certificate problem: unable to get local issuer certificate";
  v = judge(o, env, false);
  EXPECT_EQ(v.error->kind, ErrorKind::permanent);
  EXPECT_EQ(v.failure_class, "tls");

  o.curl_code = 7;  // CURLE_COULDNT_CONNECT
  v = judge(o, env, false);
  EXPECT_EQ(v.error->kind, ErrorKind::retryable);
  EXPECT_EQ(v.failure_class, "network");
}

TEST(SmtpJudge, SaysWhenTheServerLacksSmtputf8) {
  Outcome o = replied({{"jörg@example.com", 553}}, 55);
  o.capabilities.known = true;
  const Verdict v = judge(o, {"ci@example.com", {"jörg@example.com"}, {}}, true);
  EXPECT_NE(v.error->message.find("SMTPUTF8"), std::string::npos) << v.error->message;
}

}  // namespace
}  // namespace switchyard::smtp

namespace switchyard::smtp {
namespace {

// Sink::render: what `switchyard test` checks under rendered: and `switchyard render` prints.
TEST(SmtpSinkRender, RendersTheMessageAsItsReaderSeesItWithoutConnecting) {
  Harness h(kSmtpSinkDecl, options(R"("to": "Ops <ops@example.com>", "bcc": "audit@example.com",
    "subject": "[${{ payload.repo }}] CI failed: ${{ payload.message }}",
    "text": "Run ${{ payload.run }} failed.\n", "html": "<p>Run <b>${{ payload.run }}</b> failed.</p>",
    "headers": {"X-Run-Id": "${{ payload.run }}"})"));
  ASSERT_TRUE(h.configure());
  auto event = make_event("ci.failed", R"({"repo": "octo/app", "run": 7, "message": "Fix \u00e9l\u00e8ve\r\nBcc: x@evil.example"})");
  auto rendered = h.render(*event);
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "SMTP");
  EXPECT_EQ(r.url, "smtp://127.0.0.1:2525");
  EXPECT_EQ(r.headers.get("From"), std::optional<std::string_view>("CI <ci@example.com>"));
  EXPECT_EQ(r.headers.get("To"), std::optional<std::string_view>("Ops <ops@example.com>"));
  EXPECT_EQ(r.headers.get("Bcc"), std::optional<std::string_view>("audit@example.com"));
  // Unencoded (no =?UTF-8?B?...?=), and the line break a header may not hold is a space.
  EXPECT_EQ(r.headers.get("Subject"),
            std::optional<std::string_view>("[octo/app] CI failed: Fix \u00e9l\u00e8ve Bcc: x@evil.example"));
  EXPECT_EQ(r.headers.get("X-Run-Id"), std::optional<std::string_view>("7"));
  EXPECT_EQ(r.headers.get("Content-Type"), std::optional<std::string_view>("multipart/alternative"));
  EXPECT_EQ(r.headers.get("Message-ID"),
            std::optional<std::string_view>("<" + event->id + ".test=2Esmtp@example.com>"));
  EXPECT_EQ(r.body, "Run 7 failed.\n--- text/html ---\n<p>Run <b>7</b> failed.</p>");
}

TEST(SmtpSinkRender, AnAddressTemplateThatGivesNoRecipientFailsAsDeliverWould) {
  Harness h(kSmtpSinkDecl, options(R"("to": "${{ payload.nobody }}")"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*make_event("x", "{}"));
  ASSERT_FALSE(rendered);
  EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  EXPECT_NE(rendered.error().message.find("no recipient"), std::string::npos) << rendered.error().message;
}

}  // namespace
}  // namespace switchyard::smtp
