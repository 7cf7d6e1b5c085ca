// discord.interactions: Ed25519 request signatures (RFC 8032's test vector, and keys made
// here), the replay window, PING, and what commands, components and modals become.
#include <gtest/gtest.h>
#include <sodium.h>

#include <switchyard/testing.hpp>

#include "interactions_source.hpp"
#include "webhook_sink.hpp"

namespace switchyard::discord {
namespace {

using namespace std::chrono_literals;
using testing::Harness;

std::string hex(const unsigned char* data, std::size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, size);
  out.pop_back();
  return out;
}

TEST(DiscordSignature, Rfc8032TestVectorTwoVerifies) {
  // RFC 8032, 7.1, TEST 2: the one-byte message 0x72 ("r").
  const auto key = parse_public_key("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  ASSERT_TRUE(key);
  const std::string signature =
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
  // Signed text = timestamp + body; split "r" as timestamp "r" and an empty body: the
  // signature holds, and only the timestamp (not a number) is refused.
  const auto why = refuse(*key, signature, "r", "", std::chrono::system_clock::now(), 5min);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("X-Signature-Timestamp"), std::string::npos) << *why;
  std::string wrong = signature;
  wrong[0] = '8';
  EXPECT_EQ(refuse(*key, wrong, "r", "", std::chrono::system_clock::now(), 5min), "invalid request signature");
}

struct Keys {
  Keys() {
    EXPECT_GE(sodium_init(), 0);
    crypto_sign_keypair(pk, sk);
  }
  std::string public_hex() const { return hex(pk, sizeof pk); }
  std::string sign(const std::string& message) const {
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(), sk);
    return hex(sig, sizeof sig);
  }
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
};

TEST(DiscordSignature, ATimestampBeyondTheClockIsRefusedNotTakenForNow) {
  // 2^55 + 1,700,000,000 seconds: counted in nanoseconds that overflows 64 bits and wraps to
  // exactly 1,700,000,000 s after the epoch, where a signed request would have looked fresh.
  const Keys keys;
  const std::string ts = "36028798718963968", body = R"({"type":1})";
  const auto key = parse_public_key(keys.public_hex());
  ASSERT_TRUE(key);
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const auto why = refuse(*key, keys.sign(ts + body), ts, body, now, 5min);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("max_age"), std::string::npos) << *why;
  const std::string fresh = "1700000000";
  EXPECT_EQ(refuse(*key, keys.sign(fresh + body), fresh, body, now, 5min), std::nullopt);
}

struct Source {
  explicit Source(std::string more = "")
      : h(kInteractionsSourceDecl, R"({"public_key": ")" + keys.public_hex() + "\"" + more + "}") {
    auto configured = h.configure();
    EXPECT_TRUE(configured) << (configured ? "" : configured.error().message);
    EXPECT_TRUE(h.start());
  }
  HttpResponse post(const std::string& body, std::chrono::seconds age = 0s, const Keys* signer = nullptr) {
    const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
        (std::chrono::system_clock::now() - age).time_since_epoch()).count());
    HttpHeaders headers;
    headers.set("Content-Type", "application/json");
    headers.set("X-Signature-Timestamp", ts);
    headers.set("X-Signature-Ed25519", (signer ? *signer : keys).sign(ts + body));
    return h.request("POST", "/discord/interactions", headers, body);
  }
  Keys keys;
  Harness h;
};

TEST(DiscordInteractions, PingIsAnsweredWithPong) {
  Source s;
  auto r = s.post(R"({"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"type":1})");
  EXPECT_TRUE(s.h.emitted().empty());
}

TEST(DiscordInteractions, SlashCommandsAreDeferredAndEmitted) {
  Source s(R"(, "ephemeral": true)");
  auto r = s.post(R"({"id": "1180000000000000001", "application_id": "9", "type": 2, "token": "itoken",
    "guild_id": "55", "channel_id": "66", "member": {"user": {"id": "7", "username": "mona"}},
    "data": {"id": "3", "name": "stats", "type": 1, "options": [{"name": "user", "type": 3, "value": "octocat"}]}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"type":5,"data":{"flags":64}})");
  ASSERT_EQ(s.h.emitted().size(), 1u);
  const auto& e = *s.h.emitted()[0];
  EXPECT_EQ(e.type, "discord.command.stats");
  EXPECT_EQ(e.subject, "mona") << "the command's user";
  EXPECT_EQ(e.id, "1180000000000000001");
  EXPECT_EQ(e.source, "https://discord.com/guilds/55");
  EXPECT_STREQ(e.data["data"]["options"][0]["value"].GetString(), "octocat");
  // The token answers the interaction for 15 minutes: kept with the event in memory, for
  // discord.reply, and out of the payload the journal, dead letters and sinks get.
  EXPECT_FALSE(e.data.HasMember("token"));
  ASSERT_TRUE(e.secret(kTokenSecret));
  EXPECT_EQ(*e.secret(kTokenSecret), "itoken");
  EXPECT_EQ(to_cloudevent_json(e).find("itoken"), std::string::npos);
  EXPECT_EQ(to_cloudevent_json(*e.clone()).find("itoken"), std::string::npos);
  EXPECT_EQ(*e.clone()->secret(kTokenSecret), "itoken");
}

TEST(DiscordInteractions, ACommandsTypeNamesItAndItsSubjectIsWhoRanIt) {
  Source s;
  int n = 0;
  auto command = [&](const std::string& name, const std::string& who) -> const Event* {
    const std::string id = "118000000000000010" + std::to_string(n++);
    EXPECT_EQ(s.post(R"({"id": ")" + id + R"(", "type": 2, "token": "t", )" + who + R"(, "data": {"name": )" + name + "}}").status,
              200);
    return s.h.emitted().back().get();
  };
  // In a direct message the user is `user`, not `member.user`; without a username, its id.
  auto dm = command(R"("deploy")", R"("user": {"id": "42", "username": "hubot"})");
  EXPECT_EQ(dm->type, "discord.command.deploy");
  EXPECT_EQ(dm->subject, "hubot");
  EXPECT_EQ(command(R"("état")", R"("member": {"user": {"id": "43"}})")->subject, "43");
  EXPECT_EQ(s.h.emitted().back()->type, "discord.command.état") << "names may be in any script";
  // A name that would add a dot-separated part to the type, or none, leaves discord.command.
  EXPECT_EQ(command(R"("a.b")", R"("user": {"id": "1"})")->type, "discord.command");
  EXPECT_EQ(command(R"("a b")", R"("user": {"id": "1"})")->type, "discord.command");
  EXPECT_EQ(command(R"("")", R"("user": {"id": "1"})")->type, "discord.command");
  EXPECT_EQ(command("7", R"("user": {"id": "1"})")->type, "discord.command");
}

TEST(DiscordInteractions, AnInteractionReplayedWithinMaxAgeRunsOnce) {
  // A captured request sent again: its signature and timestamp still hold.
  Source s;
  const std::string body = R"({"id": "1180000000000000009", "application_id": "9", "type": 3, "token": "t",
    "data": {"custom_id": "approve", "component_type": 2}})";
  EXPECT_EQ(s.post(body).status, 200);
  const auto again = s.post(body);
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("duplicate"), std::string::npos) << again.body;
  EXPECT_EQ(s.h.emitted().size(), 1u);
}

TEST(DiscordInteractions, ComponentsKeepTheirMessageAndModalsAreEmitted) {
  Source s(R"(, "ephemeral": true)");
  auto r = s.post(R"({"id": "11", "type": 3, "token": "t", "data": {"custom_id": "approve", "component_type": 2}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"type":6})");
  r = s.post(R"({"id": "12", "type": 5, "token": "t", "data": {"custom_id": "feedback", "components": []}})");
  EXPECT_EQ(r.body, R"({"type":5,"data":{"flags":64}})");
  ASSERT_EQ(s.h.emitted().size(), 2u);
  EXPECT_EQ(s.h.emitted()[0]->type, "discord.component");
  EXPECT_EQ(s.h.emitted()[0]->subject, "approve");
  EXPECT_EQ(s.h.emitted()[1]->type, "discord.modal");
  r = s.post(R"({"id": "13", "type": 4, "token": "t", "data": {"name": "stats"}})");
  EXPECT_EQ(r.body, R"({"type":8,"data":{"choices":[]}})");
  EXPECT_EQ(s.h.emitted().size(), 2u);
}

TEST(DiscordInteractions, ForgedStaleAndMalformedRequestsAreRefused) {
  Source s;
  const std::string ping = R"({"id": "1", "type": 1})";
  Keys other;
  EXPECT_EQ(s.post(ping, 0s, &other).status, 401);  // another application's key
  EXPECT_EQ(s.post(ping, 10min).status, 401);       // replayed
  HttpHeaders none;
  EXPECT_EQ(s.h.request("POST", "/discord/interactions", none, ping).status, 401);
  EXPECT_EQ(s.h.metrics().value("switchyard_signature_failures_total"), 3);
  EXPECT_EQ(s.post("{broken").status, 400);
  EXPECT_EQ(s.post(R"({"id": "1", "type": 99})").status, 400);
  EXPECT_EQ(s.post(R"({"type": 2, "data": {"name": "x"}})").status, 400);
  EXPECT_TRUE(s.h.emitted().empty());
}

// `switchyard send discord --secret test`: the published test key pair signs requests that
// only a source configured with its public key accepts.
HttpResponse post_signed(Harness& h, const std::string& private_key, const std::string& body) {
  HttpClientRequest request;
  request.body = body;
  const Status status = sign_interaction(private_key, "", request);
  EXPECT_TRUE(status) << (status ? "" : status.error().message);
  return h.request("POST", "/discord/interactions", request.headers, request.body);
}

TEST(DiscordSigner, TheTestKeyIsAcceptedOnlyWithItsPublicKeyConfigured) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  sodium_hex2bin(seed, sizeof seed, kTestSeed.data(), kTestSeed.size(), nullptr, nullptr, nullptr);
  crypto_sign_seed_keypair(pk, sk, seed);
  EXPECT_EQ(hex(pk, sizeof pk), kTestPublicKey) << "the published pair is a pair";

  const std::string ping = R"({"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1})";
  Harness test_key(kInteractionsSourceDecl, R"({"public_key": ")" + std::string(kTestPublicKey) + "\"}");
  ASSERT_TRUE(test_key.configure());
  EXPECT_TRUE(test_key.logs().contains("public_key is switchyard's published test key", LogLevel::warn));
  ASSERT_TRUE(test_key.start());
  auto r = post_signed(test_key, "test", ping);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"type":1})");

  Keys own;  // an application's own key: the test key's signature is refused
  Harness real(kInteractionsSourceDecl, R"({"public_key": ")" + own.public_hex() + "\"}");
  ASSERT_TRUE(real.configure());
  EXPECT_FALSE(real.logs().contains("test key"));
  ASSERT_TRUE(real.start());
  EXPECT_EQ(post_signed(real, "test", ping).status, 401);
  // Its own seed signs what it accepts.
  unsigned char own_seed[crypto_sign_SEEDBYTES];
  crypto_sign_ed25519_sk_to_seed(own_seed, own.sk);
  EXPECT_EQ(post_signed(real, hex(own_seed, sizeof own_seed), ping).status, 200);
}

TEST(DiscordSigner, APrivateKeyMustBeASeedOrTest) {
  HttpClientRequest request;
  request.body = "{}";
  const Status s = sign_interaction("not-a-key", "", request);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("64 hex digits, or 'test'"), std::string::npos) << s.error().message;
  EXPECT_NE(kInteractionsSourceDecl.signer, nullptr);
  EXPECT_STREQ(kInteractionsSourceDecl.signer->service, "discord");
}

TEST(DiscordInteractions, ThePublicKeyMustBeAKey) {
  Harness h(kInteractionsSourceDecl, R"({"public_key": "not-a-key"})");
  EXPECT_FALSE(h.configure());
  Harness short_key(kInteractionsSourceDecl, R"({"public_key": "3d4017c3e843895a92b70aa74d1b7ebc"})");
  EXPECT_FALSE(short_key.configure());
}

}  // namespace
}  // namespace switchyard::discord

namespace switchyard::discord {
namespace {

TEST(DiscordInteractions, ReplyWithinStaysInsideDiscordsThreeSeconds) {
  Keys keys;
  Harness too_long(kInteractionsSourceDecl, R"({"public_key": ")" + keys.public_hex() + R"(", "reply_within": "3s"})");
  EXPECT_FALSE(too_long.configure());
}

TEST(DiscordInteractions, ACommandNobodyAnswersIsDeferredWhenReplyWithinIsOver) {
  Source s(R"(, "reply_within": "500ms")");
  const auto before = s.h.executor().now();
  auto r = s.post(R"({"id": "21", "application_id": "9", "type": 2, "token": "t", "data": {"name": "stats"}})");
  EXPECT_EQ(r.body, R"({"type":5})");
  EXPECT_GE(s.h.executor().now() - before, std::chrono::milliseconds(500));
  ASSERT_EQ(s.h.emitted().size(), 1u);
  s.h.stop();
}

TEST(DiscordInteractions, ACommandThePipelineIsThroughWithUnansweredGetsTheFallbackAtOnce) {
  Source s(R"(, "reply_within": "2s", "fallback_reply": "Nothing to do for <@1>.")");
  const std::string body = R"({"id": "51", "application_id": "9", "type": 2, "token": "t", "data": {"name": "stats"}})";
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  HttpHeaders headers;
  headers.set("X-Signature-Timestamp", ts);
  headers.set("X-Signature-Ed25519", s.keys.sign(ts + body));
  const auto before = s.h.executor().now();
  // The pipeline drops the command (a filter): the engine answers the parked request unanswered.
  const auto r = s.h.routes().call("POST", "/discord/interactions", headers, body, [&] {
    if (!s.h.emitted().empty()) s.h.replies().answer("51", Reply{.unanswered = true});
    s.h.advance(10ms);
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"type":4,"data":{"content":"Nothing to do for <@1>.","flags":64,"allowed_mentions":{"parse":[]}}})");
  EXPECT_LT(s.h.executor().now() - before, std::chrono::milliseconds(100)) << "not held until reply_within";
  s.h.stop();
}

TEST(DiscordInteractions, WithoutAFallbackAnUnansweredCommandIsDeferred) {
  Source s(R"(, "reply_within": "2s", "fallback_reply": "")");
  const std::string body = R"({"id": "52", "application_id": "9", "type": 2, "token": "t", "data": {"name": "stats"}})";
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  HttpHeaders headers;
  headers.set("X-Signature-Timestamp", ts);
  headers.set("X-Signature-Ed25519", s.keys.sign(ts + body));
  const auto r = s.h.routes().call("POST", "/discord/interactions", headers, body, [&] {
    if (!s.h.emitted().empty()) s.h.replies().answer("52", Reply{.unanswered = true});
    s.h.advance(10ms);
  });
  EXPECT_EQ(r.body, R"({"type":5})");
  s.h.stop();
}

TEST(DiscordReply, AnswersACommandInTheHttpResponseWhileTheSourceHoldsIt) {
  Source s(R"(, "reply_within": "2s")");
  Harness reply(kReplySinkDecl, R"({"content": "Pong, ${{ payload.member.user.username }}!", "ephemeral": true})");
  reply.context().use_replies(s.h.context().manual_replies());  // one pipeline: one reply service
  ASSERT_TRUE(reply.configure());
  ASSERT_TRUE(reply.start());
  const std::string body = R"({"id": "41", "application_id": "9", "type": 2, "token": "t",
    "member": {"user": {"id": "7", "username": "mona"}}, "data": {"name": "ping"}})";
  const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch()).count());
  HttpHeaders headers;
  headers.set("X-Signature-Timestamp", ts);
  headers.set("X-Signature-Ed25519", s.keys.sign(ts + body));
  bool delivered = false;
  // The pipeline delivers the emitted command to discord.reply while the request waits.
  const auto r = s.h.routes().call("POST", "/discord/interactions", headers, body, [&] {
    if (!delivered && !s.h.emitted().empty()) {
      delivered = true;
      EXPECT_TRUE(reply.deliver(EventPtr(std::move(s.h.emitted()[0]))));
    }
    s.h.advance(10ms);
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"type":4,"data":{"content":"Pong, mona!","allowed_mentions":{"parse":[]},"flags":64}})");
  EXPECT_TRUE(reply.http_requests().empty()) << "no follow-up: the answer went in the response";
}

TEST(DiscordReply, RefusesEventsThatAreNotInteractions) {
  Harness h(kReplySinkDecl, R"({"content": "hi"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const Status status = h.deliver(testing::make_event("github.push", R"({"ref": "main"})"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  EXPECT_NE(status.error().message.find("not an interaction"), std::string::npos);
}

TEST(DiscordReply, WithoutAParkedInteractionTheAnswerIsAFollowUp) {
  Harness h(kReplySinkDecl, R"({"content": "Pong!", "ephemeral": true, "api_base": "https://discord.test/api/v10/"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) {
    HttpClientResponse r;
    r.status = 200;
    return r;
  });
  ASSERT_TRUE(h.deliver(testing::make_event("discord.command", R"({"id": "31", "application_id": "9", "token": "tk"})")));
  ASSERT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(h.http_requests()[0].url, "https://discord.test/api/v10/webhooks/9/tk");
  EXPECT_NE(h.http_requests()[0].body.find(R"("flags":64)"), std::string::npos) << h.http_requests()[0].body;
}

TEST(DiscordReply, TakesTheTokenFromTheEventsSecretAndFailsPlainlyWhenItIsGone) {
  Harness h(kReplySinkDecl, R"({"content": "Pong!", "api_base": "https://discord.test/api/v10"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) {
    HttpClientResponse r;
    r.status = 200;
    return r;
  });
  auto live = testing::make_event("discord.command", R"({"id": "32", "application_id": "9"})");
  live->set_secret(kTokenSecret, "secret-tk");
  ASSERT_TRUE(h.deliver(EventPtr(std::move(live))));
  ASSERT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(h.http_requests()[0].url, "https://discord.test/api/v10/webhooks/9/secret-tk");
  // Read back from the journal (a restart): the payload has no token and the secret is gone.
  const Status status = h.deliver(testing::make_event("discord.command", R"({"id": "33", "application_id": "9"})"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  EXPECT_NE(status.error().message.find("kept in memory only"), std::string::npos) << status.error().message;
  EXPECT_EQ(h.http_requests().size(), 1u);
}

}  // namespace
}  // namespace switchyard::discord
