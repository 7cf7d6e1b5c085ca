// discord.webhook run alone with the SDK's harness and a scripted client that answers as
// Discord does.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "common/text_limits.hpp"
#include "webhook_sink.hpp"

namespace switchyard::discord {
namespace {

using std::chrono::milliseconds;
using testing::Harness;

constexpr const char* kUrl = "https://discord.com/api/webhooks/123/tok3n-SECRET";

EventPtr push_event(std::string message = "Fix the flaky retry test") {
  rapidjson::Document payload(rapidjson::kObjectType);
  auto& a = payload.GetAllocator();
  payload.AddMember("ref", "refs/heads/main", a);
  payload.AddMember("compare", "https://github.com/octo/app/compare/a...b", a);
  rapidjson::Value commit(rapidjson::kObjectType);
  commit.AddMember("message", rapidjson::Value(message.c_str(), a), a);
  payload.AddMember("head_commit", commit, a);
  payload.AddMember("sender", rapidjson::Value(rapidjson::kObjectType).AddMember("login", "mona", a), a);
  payload.AddMember("number", 42, a);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  payload.Accept(writer);
  EventPtr e = testing::make_event("github.push", buffer.GetString());
  return e;
}

HttpClientResponse answer(int status, std::string body = {}) {
  HttpClientResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

rapidjson::Document json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

struct Sink {
  explicit Sink(std::string options) : h(kWebhookSinkDecl, options) {
    auto configured = h.configure();
    EXPECT_TRUE(configured) << (configured ? "" : configured.error().message);
    EXPECT_TRUE(h.start());
    h.respond_with([](const HttpClientRequest&) { return answer(204); });
  }
  std::vector<rapidjson::Document> bodies() {
    std::vector<rapidjson::Document> out;
    for (const auto& r : h.http_requests()) out.push_back(json(r.body));
    return out;
  }
  Harness h;
};

std::string options(std::string more) {
  return std::string(R"({"url": ")") + kUrl + "\"" + (more.empty() ? "" : ", " + more) + "}";
}

TEST(DiscordWebhook, PostsContentAndEmbedsBuiltFromTheEvent) {
  Sink s(options(R"("content": "**${{ payload.sender.login }}** pushed", "username": "Switchyard",
    "embeds": {"title": "${{ payload.head_commit.message }}", "url": "${{ payload.compare }}",
               "color": "#0077FF", "footer": {"text": "PR ${{ payload.number }}"},
               "fields": [{"name": "Number", "value": "${{ payload.number }}", "inline": true}]})"));
  ASSERT_TRUE(s.h.deliver(push_event()));
  ASSERT_EQ(s.h.http_requests().size(), 1u);
  const auto& request = s.h.http_requests()[0];
  EXPECT_EQ(request.url, kUrl);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  auto body = json(request.body);
  EXPECT_STREQ(body["content"].GetString(), "**mona** pushed");
  EXPECT_STREQ(body["username"].GetString(), "Switchyard");
  const auto& embed = body["embeds"][0];
  EXPECT_STREQ(embed["title"].GetString(), "Fix the flaky retry test");
  EXPECT_EQ(embed["color"].GetInt(), 0x0077FF);
  EXPECT_STREQ(embed["footer"]["text"].GetString(), "PR 42");
  EXPECT_STREQ(embed["fields"][0]["value"].GetString(), "42");  // a number became text
  EXPECT_TRUE(embed["fields"][0]["inline"].GetBool());
  // Nobody is pinged unless the pipeline allows it: "@everyone" in a commit stays text.
  EXPECT_TRUE(body["allowed_mentions"]["parse"].IsArray());
  EXPECT_EQ(body["allowed_mentions"]["parse"].Size(), 0u);
}

TEST(DiscordWebhook, LongTextIsSplitAtLineBreaksIntoMessagesDiscordAccepts) {
  std::string message;
  for (int i = 0; text::length(message) < 4500; ++i) message += "line " + std::to_string(i) + " \u00e9\u00e9\u00e9\n";
  Sink s(options(R"("content": "${{ payload.head_commit.message }}", "embeds": {"title": "after the text"})"));
  ASSERT_TRUE(s.h.deliver(push_event(message)));
  auto bodies = s.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  std::string joined;
  for (auto& b : bodies) {
    const std::string content = b["content"].GetString();
    EXPECT_LE(text::length(content), Limits::content);
    EXPECT_TRUE(content.ends_with("\n") || &b == &bodies.back()) << "cut inside a line";
    joined += content;
  }
  EXPECT_EQ(joined, message);
  EXPECT_FALSE(bodies[0].HasMember("embeds"));
  EXPECT_STREQ(bodies[2]["embeds"][0]["title"].GetString(), "after the text");  // with the last piece
}

TEST(DiscordWebhook, EmbedTextsAreCutToDiscordsLimits) {
  Sink s(options(R"("embeds": {"title": "${{ payload.head_commit.message }}",
    "description": "${{ payload.head_commit.message }}",
    "author": {"name": "${{ payload.head_commit.message }}"}, "footer": {"text": ""}})"));
  ASSERT_TRUE(s.h.deliver(push_event(std::string(5000, 'x'))));
  auto body = json(s.h.http_requests().at(0).body);
  const auto& embed = body["embeds"][0];
  EXPECT_EQ(text::length(embed["title"].GetString()), Limits::title);
  EXPECT_TRUE(std::string(embed["title"].GetString()).ends_with("\u2026"));
  EXPECT_EQ(text::length(embed["author"]["name"].GetString()), Limits::author_name);
  // title + author + description must stay within 6,000 for the whole message.
  EXPECT_LE(text::length(embed["title"].GetString()) + text::length(embed["author"]["name"].GetString()) +
                text::length(embed["description"].GetString()),
            Limits::embed_total);
  EXPECT_FALSE(embed.HasMember("footer")) << "an empty footer is refused by Discord: left out";
}

TEST(DiscordWebhook, FieldsBeyondTwentyFiveAreDroppedAndEmptyOnesFilled) {
  std::string fields;
  for (int i = 0; i < 30; ++i) fields += std::string(i ? "," : "") + R"({"name": "f)" + std::to_string(i) + R"(", "value": ""})";
  Sink s(options(R"("embeds": {"title": "t", "fields": [)" + fields + "]}"));
  ASSERT_TRUE(s.h.deliver(push_event()));
  auto body = json(s.h.http_requests().at(0).body);
  const auto& list = body["embeds"][0]["fields"];
  ASSERT_EQ(list.Size(), Limits::fields);
  EXPECT_STREQ(list[0]["value"].GetString(), "\u200b");
}

TEST(DiscordWebhook, MoreThanTenEmbedsOrSixThousandCharactersGoOnInFurtherMessages) {
  std::string many;
  for (int i = 0; i < 12; ++i) many += std::string(i ? "," : "") + R"({"title": "e)" + std::to_string(i) + "\"}";
  Sink s(options(R"("content": "twelve", "embeds": [)" + many + "]"));
  ASSERT_TRUE(s.h.deliver(push_event()));
  auto bodies = s.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0]["embeds"].Size(), 10u);
  EXPECT_STREQ(bodies[0]["content"].GetString(), "twelve");
  EXPECT_EQ(bodies[1]["embeds"].Size(), 2u);
  EXPECT_STREQ(bodies[1]["embeds"][1]["title"].GetString(), "e11");
  EXPECT_FALSE(bodies[1].HasMember("content"));

  // Three embeds of 2,500 characters each: two messages (5,000 + 2,500).
  Sink big(options(R"("embeds": [{"description": "${{ payload.head_commit.message }}"},
    {"description": "${{ payload.head_commit.message }}"}, {"description": "${{ payload.head_commit.message }}"}])"));
  ASSERT_TRUE(big.h.deliver(push_event(std::string(2500, 'y'))));
  bodies = big.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0]["embeds"].Size(), 2u);
  EXPECT_EQ(bodies[1]["embeds"].Size(), 1u);
}

TEST(DiscordWebhook, SplitFalseSendsOneMessageCutToFit) {
  std::string many;
  for (int i = 0; i < 12; ++i) many += std::string(i ? "," : "") + R"({"title": "e)" + std::to_string(i) + "\"}";
  Sink s(options(R"("split": false, "content": "${{ payload.head_commit.message }}", "embeds": [)" + many + "]"));
  ASSERT_TRUE(s.h.deliver(push_event(std::string(3000, 'z'))));
  auto bodies = s.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(text::length(bodies[0]["content"].GetString()), Limits::content);
  EXPECT_EQ(bodies[0]["embeds"].Size(), 10u);
}

TEST(DiscordWebhook, A429WaitsForRetryAfterAndARetrySendsOnlyTheMessagesNotYetAccepted) {
  std::string message;
  for (int i = 0; message.size() < 5000; ++i) message += "line " + std::to_string(i) + "\n";
  Sink s(options(R"("content": "${{ payload.head_commit.message }}")"));
  int calls = 0;
  s.h.respond_with([&](const HttpClientRequest&) {
    // The second message meets the rate limit, as Discord answers it.
    return ++calls == 2 ? answer(429, R"({"message": "You are being rate limited.", "retry_after": 1.25, "global": false})")
                        : answer(204);
  });
  auto event = push_event(message);
  Status first = s.h.deliver(event);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::retryable);
  EXPECT_EQ(first.error().retry_after, std::optional<milliseconds>(1250));
  ASSERT_EQ(s.h.http_requests().size(), 2u);
  const std::string second = s.h.http_requests()[1].body;
  // The delivery layer retries the event: messages 2 and 3 go, message 1 is not repeated.
  ASSERT_TRUE(s.h.deliver(event));
  ASSERT_EQ(s.h.http_requests().size(), 4u);
  EXPECT_EQ(s.h.http_requests()[2].body, second);
  std::string joined;
  for (std::size_t i : {0u, 2u, 3u}) joined += json(s.h.http_requests()[i].body)["content"].GetString();
  EXPECT_EQ(joined, message);
}

TEST(DiscordWebhook, A429WithABodyNestedTooDeepFallsBackToRetryAfterNotACrash) {
  Sink s(options(R"("content": "hello")"));
  s.h.respond_with([&](const HttpClientRequest&) {
    // 1 MiB of '[' (max_response): RapidJSON's recursive parse of that overflows the stack.
    auto r = answer(429, std::string(std::size_t{1} << 20, '['));
    r.headers.set("Retry-After", "3");
    return r;
  });
  Status sent = s.h.deliver(push_event("hi"));
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().kind, ErrorKind::retryable);
  EXPECT_EQ(sent.error().retry_after, std::optional<milliseconds>(3000));
}

TEST(DiscordWebhook, AnEmptyRateLimitBucketIsWaitedOutBeforeTheNextRequest) {
  Sink s(options(R"("content": "hello")"));
  std::vector<milliseconds> at;
  s.h.respond_with([&](const HttpClientRequest&) {
    at.push_back(s.h.executor().now());
    HttpClientResponse r = answer(204);
    r.headers.set("X-RateLimit-Limit", "5");
    r.headers.set("X-RateLimit-Remaining", "0");
    r.headers.set("X-RateLimit-Reset-After", "2.000");
    return r;
  });
  ASSERT_TRUE(s.h.deliver(push_event()));
  ASSERT_TRUE(s.h.deliver(push_event()));
  ASSERT_EQ(at.size(), 2u);
  EXPECT_GE(at[1] - at[0], milliseconds(1900)) << "the second request did not wait for the bucket to refill";
}

TEST(DiscordWebhook, ErrorsNeverShowTheWebhookToken) {
  Sink s(options(R"("content": "hello")"));
  s.h.respond_with([](const HttpClientRequest&) { return answer(404, R"({"message": "Unknown Webhook", "code": 10015})"); });
  Status status = s.h.deliver(push_event());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  EXPECT_NE(status.error().message.find("Unknown Webhook"), std::string::npos) << status.error().message;
  EXPECT_EQ(status.error().message.find("tok3n"), std::string::npos);

  Sink templated(R"({"url": "${{ payload.ref }}", "content": "x"})");
  status = templated.h.deliver(push_event());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message.find("refs/heads"), std::string::npos) << status.error().message;
}

TEST(DiscordWebhook, ThreadIdIsAddedToTheUrlAndMustBeDigits) {
  Sink s(options(R"("content": "hello", "thread_id": "${{ payload.number }}")"));
  ASSERT_TRUE(s.h.deliver(push_event()));
  EXPECT_EQ(s.h.http_requests()[0].url, std::string(kUrl) + "?thread_id=42");
  Sink bad(options(R"("content": "hello", "thread_id": "${{ payload.ref }}")"));
  EXPECT_EQ(bad.h.deliver(push_event()).error().kind, ErrorKind::permanent);
  EXPECT_TRUE(bad.h.http_requests().empty());
}

TEST(DiscordWebhook, AnEventThatRendersNothingIsRefusedAndAConfigWithoutContentIsInvalid) {
  Sink s(options(R"("content": "${{ payload.missing }}")"));
  Status status = s.h.deliver(push_event());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  EXPECT_NE(status.error().message.find("nothing to send"), std::string::npos);
  Harness h(kWebhookSinkDecl, options(""));
  EXPECT_FALSE(h.configure());
  Harness http(kWebhookSinkDecl, R"({"url": "discord.com/api/webhooks/1/x", "content": "x"})");
  EXPECT_FALSE(http.configure());
}

TEST(DiscordWebhook, ServerErrorsAndTimeoutsAreRetried) {
  Sink s(options(R"("content": "hello")"));
  s.h.respond_with([](const HttpClientRequest&) { return answer(502); });
  EXPECT_EQ(s.h.deliver(push_event()).error().kind, ErrorKind::retryable);
  s.h.respond_with([](const HttpClientRequest&) -> Result<HttpClientResponse> { return retryable("timed out"); });
  EXPECT_EQ(s.h.deliver(push_event()).error().kind, ErrorKind::retryable);
  s.h.respond_with([](const HttpClientRequest&) { return answer(400, R"({"content": ["Must be 2000 or fewer in length."]})"); });
  EXPECT_EQ(s.h.deliver(push_event()).error().kind, ErrorKind::permanent);
}

}  // namespace
}  // namespace switchyard::discord

namespace switchyard::discord {
namespace {

// Whatever the templates render, every message sent stays within Discord's limits and the
// text arrives whole: random embeds (lengths around each limit, multi-byte characters,
// too many fields, bad colours, empty texts) checked as Discord checks them.
class Random {
 public:
  explicit Random(std::uint32_t seed) : state_(seed) {}
  std::uint32_t next(std::uint32_t bound) {
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % bound;
  }
  std::string text(std::size_t max_chars) {
    static const char* pieces[] = {"a", "Z", " ", "\n", "\u00e9", "\u65e5", "\U0001F680", "@everyone", "<@1>"};
    std::string out;
    const std::size_t n = next(static_cast<std::uint32_t>(max_chars + 1));
    for (std::size_t i = 0; i < n; ++i) out += pieces[next(9)];
    return out;
  }

 private:
  std::uint32_t state_;
};

void check_message(const rapidjson::Value& m, std::string& content) {
  ASSERT_TRUE(m.IsObject());
  std::size_t embeds = 0, total = 0;
  if (m.HasMember("content")) {
    EXPECT_LE(text::length(m["content"].GetString()), Limits::content);
    content += m["content"].GetString();
  }
  if (m.HasMember("embeds")) {
    embeds = m["embeds"].Size();
    EXPECT_GE(embeds, 1u);
    EXPECT_LE(embeds, Limits::embeds_per_message);
    for (const auto& e : m["embeds"].GetArray()) {
      auto check = [&](const rapidjson::Value& object, const char* key, std::size_t max) {
        if (!object.HasMember(key)) return;
        ASSERT_TRUE(object[key].IsString()) << key;
        const std::size_t n = text::length(object[key].GetString());
        EXPECT_GE(n, 1u) << key << " is empty";
        EXPECT_LE(n, max) << key;
        total += n;
      };
      check(e, "title", Limits::title);
      check(e, "description", Limits::description);
      if (e.HasMember("footer")) check(e["footer"], "text", Limits::footer_text);
      if (e.HasMember("author")) check(e["author"], "name", Limits::author_name);
      if (e.HasMember("color")) {
        EXPECT_TRUE(e["color"].IsInt64());
        EXPECT_LE(e["color"].GetInt64(), 0xFFFFFF);
      }
      if (e.HasMember("fields")) {
        EXPECT_LE(e["fields"].Size(), Limits::fields);
        for (const auto& f : e["fields"].GetArray()) {
          check(f, "name", Limits::field_name);
          check(f, "value", Limits::field_value);
        }
      }
    }
  }
  EXPECT_LE(total, Limits::embed_total);
  EXPECT_TRUE(m.HasMember("content") || embeds > 0) << "an empty message";
}

TEST(DiscordWebhookProperty, EveryMessageFitsDiscordsLimitsAndTheTextArrivesWhole) {
  Random random(20261203);
  for (int round = 0; round < 300; ++round) {
    rapidjson::Document payload(rapidjson::kObjectType);
    auto& a = payload.GetAllocator();
    const std::string content = random.text(round % 3 == 0 ? 5000 : 300);
    payload.AddMember("content", rapidjson::Value(content.c_str(), a), a);
    rapidjson::Value embeds(rapidjson::kArrayType);
    const std::size_t count = random.next(15);
    for (std::size_t i = 0; i < count; ++i) {
      rapidjson::Value e(rapidjson::kObjectType);
      e.AddMember("title", rapidjson::Value(random.text(300).c_str(), a), a);
      e.AddMember("description", rapidjson::Value(random.text(random.next(2) ? 5000 : 500).c_str(), a), a);
      if (random.next(2)) {
        e.AddMember("footer", rapidjson::Value(rapidjson::kObjectType).AddMember("text", rapidjson::Value(random.text(2100).c_str(), a), a), a);
      }
      if (random.next(2)) {
        e.AddMember("author", rapidjson::Value(rapidjson::kObjectType).AddMember("name", rapidjson::Value(random.text(300).c_str(), a), a), a);
      }
      const char* colours[] = {"#00FF00", "0x123456", "red", "#FFFFFFF", "16777215"};
      e.AddMember("color", rapidjson::StringRef(colours[random.next(5)]), a);
      rapidjson::Value fields(rapidjson::kArrayType);
      const std::size_t n = random.next(30);
      for (std::size_t k = 0; k < n; ++k) {
        rapidjson::Value f(rapidjson::kObjectType);
        f.AddMember("name", rapidjson::Value(random.text(300).c_str(), a), a);
        f.AddMember("value", rapidjson::Value(random.text(1100).c_str(), a), a);
        fields.PushBack(f, a);
      }
      e.AddMember("fields", fields, a);
      embeds.PushBack(e, a);
    }
    payload.AddMember("embeds", embeds, a);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    payload.Accept(writer);

    Harness h(kWebhookSinkDecl, std::string(R"({"url": ")") + kUrl +
                                    R"(", "content": "${{ payload.content }}", "embeds": "${{ payload.embeds }}"})");
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    h.respond_with([](const HttpClientRequest&) { return answer(204); });
    const Status status = h.deliver(testing::make_event("x", buffer.GetString()));
    if (content.empty() && count == 0) {
      EXPECT_FALSE(status);  // nothing to send
      continue;
    }
    ASSERT_TRUE(status) << status.error().message;
    std::string joined;
    for (const auto& request : h.http_requests()) check_message(json(request.body), joined);
    EXPECT_EQ(joined, content) << "round " << round;
    if (::testing::Test::HasFailure()) FAIL() << "round " << round;
  }
}

}  // namespace
}  // namespace switchyard::discord

namespace switchyard::discord {
namespace {

// Sink::render: what `switchyard test` checks under rendered: and `switchyard render` prints.
TEST(DiscordWebhookRender, RendersTheRequestDeliverWouldSendAndSendsNothing) {
  Harness h(kWebhookSinkDecl, options(R"("username": "OpsCord", "thread_id": "${{ payload.number }}",
    "embeds": {"title": "${{ payload.head_commit.message }}", "color": "#0077FF",
               "author": {"name": "${{ payload.sender.login }}"}, "footer": {"text": ""}})"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*push_event());
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, std::string(kUrl) + "?thread_id=42");
  EXPECT_EQ(r.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  auto body = json(r.body);
  EXPECT_STREQ(body["username"].GetString(), "OpsCord");
  const auto& embed = body["embeds"][0];
  EXPECT_STREQ(embed["title"].GetString(), "Fix the flaky retry test");
  EXPECT_EQ(embed["color"].GetInt(), 0x0077FF);  // the colour as Discord gets it: a number
  EXPECT_STREQ(embed["author"]["name"].GetString(), "mona");
  EXPECT_FALSE(embed.HasMember("footer")) << "left out as deliver() leaves it out";
  EXPECT_TRUE(h.http_requests().empty());
  // The same bytes deliver() posts.
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(204); });
  ASSERT_TRUE(h.deliver(push_event()));
  ASSERT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(h.http_requests()[0].body, r.body);
}

TEST(DiscordWebhookRender, ASplitMessageRendersAsTheListOfItsBodies) {
  Harness h(kWebhookSinkDecl, options(R"("content": "${{ payload.head_commit.message }}")"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*push_event(std::string(1500, 'a') + "\n" + std::string(1500, 'b')));
  ASSERT_TRUE(rendered && rendered->has_value());
  auto body = json((*rendered)->body);
  ASSERT_TRUE(body.IsArray());
  ASSERT_EQ(body.Size(), 2u);
  EXPECT_EQ(std::string(body[1]["content"].GetString()), std::string(1500, 'b'));
}

TEST(DiscordWebhookRender, ATemplateThatGivesNoMessageOrNoUrlFailsAsDeliverWould) {
  Harness empty(kWebhookSinkDecl, options(R"("content": "${{ payload.missing }}")"));
  ASSERT_TRUE(empty.configure());
  auto nothing = empty.render(*push_event());
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().kind, ErrorKind::permanent);
  EXPECT_NE(nothing.error().message.find("nothing to send"), std::string::npos) << nothing.error().message;

  Harness bad_url(kWebhookSinkDecl, R"({"url": "${{ payload.ref }}", "content": "x"})");
  ASSERT_TRUE(bad_url.configure());
  auto url = bad_url.render(*push_event());
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().message, "url: the template did not give an http(s):// URL");

  Harness thread(kWebhookSinkDecl, options(R"("content": "x", "thread_id": "${{ payload.ref }}")"));
  ASSERT_TRUE(thread.configure());
  auto not_digits = thread.render(*push_event());
  ASSERT_FALSE(not_digits);
  EXPECT_NE(not_digits.error().message.find("is not a thread id"), std::string::npos);
}

TEST(DiscordReplyRender, RendersTheAnswerWithTheInteractionsFollowUpUrl) {
  Harness h(kReplySinkDecl, R"({"content": "Pong, ${{ payload.member.user.username }}!", "ephemeral": true,
                                 "api_base": "https://discord.test/api/v10"})");
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*testing::make_event(
      "discord.command.ping", R"({"id": "31", "application_id": "9", "token": "tk", "member": {"user": {"username": "mona"}}})"));
  ASSERT_TRUE(rendered && rendered->has_value()) << (rendered ? "" : rendered.error().message);
  EXPECT_EQ((*rendered)->url, "https://discord.test/api/v10/webhooks/9/tk");
  auto body = json((*rendered)->body);
  EXPECT_STREQ(body["content"].GetString(), "Pong, mona!");
  EXPECT_EQ(body["flags"].GetInt(), 64);

  auto not_interaction = h.render(*testing::make_event("github.push", R"({"ref": "main"})"));
  ASSERT_FALSE(not_interaction);
  EXPECT_NE(not_interaction.error().message.find("not an interaction"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::discord
