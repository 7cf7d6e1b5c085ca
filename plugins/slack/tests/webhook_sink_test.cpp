// slack.webhook run alone with the SDK's harness and a scripted client that answers as
// Slack's incoming webhooks do ("ok", or an error code as text).
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "common/text_limits.hpp"
#include "webhook_sink.hpp"

namespace switchyard::slack {
namespace {

using std::chrono::milliseconds;
using testing::Harness;

constexpr const char* kUrl = "https://hooks.slack.com/services/T000/B000/s3cr3tXYZ";

EventPtr run_event(std::string name = "CI", std::string branch = "main") {
  std::string payload = R"({"action": "completed", "workflow_run": {"id": 7, "name": ")" + name +
                        R"(", "head_branch": ")" + branch +
                        R"(", "conclusion": "failure", "html_url": "https://github.com/octo/app/actions/runs/7?a=1&b=2"},
      "repository": {"full_name": "octo/app"}, "number": 12})";
  return testing::make_event("github.workflow_run.completed", payload);
}

HttpClientResponse answer(int status, std::string body = "ok") {
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
    h.respond_with([](const HttpClientRequest&) { return answer(200); });
  }
  rapidjson::Document body(std::size_t i) { return json(h.http_requests().at(i).body); }
  Harness h;
};

std::string options(std::string more) {
  return std::string(R"({"url": ")") + kUrl + "\", \"min_interval\": \"0s\"" + (more.empty() ? "" : ", " + more) + "}";
}

TEST(SlackWebhook, PostsTextBlocksAndAttachmentsBuiltFromTheEvent) {
  Sink s(options(R"("text": "Build failed: <${{ payload.workflow_run.html_url }}|${{ payload.workflow_run.name }}>",
    "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "${{ payload.repository.full_name }}"}},
               {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Branch*\n${{ payload.workflow_run.head_branch }}"},
                                              {"type": "mrkdwn", "text": "${{ payload.number }}"}]}],
    "attachments": [{"color": "#D73A49", "text": "run ${{ payload.workflow_run.id }}"}])"));
  ASSERT_TRUE(s.h.deliver(run_event()));
  ASSERT_EQ(s.h.http_requests().size(), 1u);
  const auto& request = s.h.http_requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.url, kUrl);
  EXPECT_EQ(request.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  auto body = s.body(0);
  // The template's own link markup stays; the URL from the event has & escaped as Slack asks.
  EXPECT_STREQ(body["text"].GetString(),
               "Build failed: <https://github.com/octo/app/actions/runs/7?a=1&amp;b=2|CI>");
  EXPECT_STREQ(body["blocks"][0]["text"]["text"].GetString(), "octo/app");
  EXPECT_STREQ(body["blocks"][1]["fields"][0]["text"].GetString(), "*Branch*\nmain");
  EXPECT_STREQ(body["blocks"][1]["fields"][1]["text"].GetString(), "12");  // a number became text
  EXPECT_STREQ(body["attachments"][0]["color"].GetString(), "#D73A49");
  EXPECT_FALSE(body["unfurl_links"].GetBool());
}

TEST(SlackWebhook, NeitherTheEventsIdNorItsKeysCanMention) {
  // The http source takes the id from a request header; tojson() writes keys as well.
  Sink s(options(R"("text": "${{ event.id }} ${{ tojson(payload.x) }}")"));
  auto event = testing::make_event("x", R"({"x": {"<!here>": "<!channel>"}})");
  event->id = "<!everyone>";
  ASSERT_TRUE(s.h.deliver(std::move(event)));
  const std::string text = s.body(0)["text"].GetString();
  EXPECT_EQ(text.find('<'), std::string::npos) << text;
  EXPECT_NE(text.find("&lt;!everyone&gt;"), std::string::npos) << text;
  EXPECT_NE(text.find("&lt;!here&gt;"), std::string::npos) << text;
}

TEST(SlackWebhook, ValuesFromTheEventCannotMentionOrForgeLinks) {
  Sink s(options(R"("text": "<!here> ${{ payload.workflow_run.name }} on ${{ payload.workflow_run.head_branch }}")"));
  ASSERT_TRUE(s.h.deliver(run_event("<!channel> & <https://evil.example|docs>", "a>b")));
  EXPECT_STREQ(s.body(0)["text"].GetString(),
               "<!here> &lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt; on a&gt;b");
  Sink raw(options(R"("escape": false, "text": "${{ payload.workflow_run.name }}")"));
  ASSERT_TRUE(raw.h.deliver(run_event("<!channel>")));
  EXPECT_STREQ(raw.body(0)["text"].GetString(), "<!channel>");
}

TEST(SlackWebhook, BlockTextsAreCutAndEmptyBlocksLeftOut) {
  const std::string long_name(5000, 'n');
  Sink s(options(R"("text": "fallback", "blocks": [
      {"type": "header", "text": {"type": "plain_text", "text": "${{ payload.workflow_run.name }}"}},
      {"type": "section", "text": {"type": "mrkdwn", "text": "${{ payload.workflow_run.name }}"}},
      {"type": "section", "text": {"type": "mrkdwn", "text": "${{ payload.missing }}"}},
      {"type": "divider"}])"));
  ASSERT_TRUE(s.h.deliver(run_event(long_name)));
  auto body = s.body(0);
  ASSERT_EQ(body["blocks"].Size(), 3u) << "the empty section is left out: Slack refuses it";
  EXPECT_EQ(text::length(body["blocks"][0]["text"]["text"].GetString()), Limits::header);
  EXPECT_EQ(text::length(body["blocks"][1]["text"]["text"].GetString()), Limits::section);
  EXPECT_STREQ(body["blocks"][2]["type"].GetString(), "divider");
}

TEST(SlackWebhook, MoreThanFiftyBlocksGoOnInAFurtherMessage) {
  std::string many;
  for (int i = 0; i < 60; ++i) many += std::string(i ? "," : "") + R"({"type": "divider"})";
  Sink s(options(R"("text": "sixty", "blocks": [)" + many + "]"));
  ASSERT_TRUE(s.h.deliver(run_event()));
  ASSERT_EQ(s.h.http_requests().size(), 2u);
  EXPECT_EQ(s.body(0)["blocks"].Size(), 50u);
  EXPECT_STREQ(s.body(0)["text"].GetString(), "sixty");
  EXPECT_EQ(s.body(1)["blocks"].Size(), 10u);
  Sink one(options(R"("split": false, "text": "sixty", "blocks": [)" + many + "]"));
  ASSERT_TRUE(one.h.deliver(run_event()));
  ASSERT_EQ(one.h.http_requests().size(), 1u);
  EXPECT_EQ(one.body(0)["blocks"].Size(), 50u);
}

TEST(SlackWebhook, A429IsWaitedOutAndARetrySendsOnlyWhatSlackHasNotAccepted) {
  std::string many;
  for (int i = 0; i < 60; ++i) many += std::string(i ? "," : "") + R"({"type": "divider"})";
  Sink s(options(R"("text": "sixty", "blocks": [)" + many + "]"));
  int calls = 0;
  s.h.respond_with([&](const HttpClientRequest&) {
    if (++calls != 2) return answer(200);
    HttpClientResponse r = answer(429, "rate_limited");
    r.headers.set("Retry-After", "3");
    return r;
  });
  auto event = run_event();
  Status first = s.h.deliver(event);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::retryable);
  EXPECT_EQ(first.error().retry_after, std::optional<milliseconds>(3000));
  ASSERT_TRUE(s.h.deliver(event));
  ASSERT_EQ(s.h.http_requests().size(), 3u) << "the first message is not sent again";
  EXPECT_EQ(s.h.http_requests()[2].body, s.h.http_requests()[1].body);
}

TEST(SlackWebhook, MessagesToOneWebhookAreSpacedByMinInterval) {
  Sink s(R"({"url": "https://hooks.slack.com/services/T/B/x", "text": "hi", "min_interval": "1s"})");
  std::vector<milliseconds> at;
  s.h.respond_with([&](const HttpClientRequest&) {
    at.push_back(s.h.executor().now());
    return answer(200);
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.h.deliver(run_event()));
  ASSERT_EQ(at.size(), 3u);
  EXPECT_GE(at[1] - at[0], milliseconds(990));
  EXPECT_GE(at[2] - at[1], milliseconds(990));
}

TEST(SlackWebhook, SlacksErrorCodesDecideRetryOrDeadLetterAndTheUrlStaysSecret) {
  Sink s(options(R"("text": "hi")"));
  s.h.respond_with([](const HttpClientRequest&) { return answer(404, "no_service"); });
  Status status = s.h.deliver(run_event());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::permanent);
  EXPECT_NE(status.error().message.find("no_service"), std::string::npos);
  EXPECT_EQ(status.error().message.find("s3cr3t"), std::string::npos);
  s.h.respond_with([](const HttpClientRequest&) { return answer(410, "channel_is_archived"); });
  EXPECT_EQ(s.h.deliver(run_event()).error().kind, ErrorKind::permanent);
  s.h.respond_with([](const HttpClientRequest&) { return answer(500, "rollup_error"); });
  EXPECT_EQ(s.h.deliver(run_event()).error().kind, ErrorKind::retryable);
}

TEST(SlackWebhook, AnEventThatRendersNothingIsRefusedAndConfigsNeedAMessage) {
  Sink s(options(R"("text": "${{ payload.missing }}")"));
  Status status = s.h.deliver(run_event());
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("nothing to send"), std::string::npos);
  EXPECT_TRUE(s.h.http_requests().empty());
  Harness none(kWebhookSinkDecl, options(""));
  EXPECT_FALSE(none.configure());
  Harness bad(kWebhookSinkDecl, R"({"url": "hooks.slack.com/services/x", "text": "x"})");
  EXPECT_FALSE(bad.configure());
}

TEST(SlackWebhook, ThreadTsIsPassedOn) {
  Sink s(options(R"("text": "reply", "thread_ts": "1700000000.000100")"));
  ASSERT_TRUE(s.h.deliver(run_event()));
  EXPECT_STREQ(s.body(0)["thread_ts"].GetString(), "1700000000.000100");
}

}  // namespace
}  // namespace switchyard::slack

namespace switchyard::slack {
namespace {

// Whatever the templates render, every message sent is one Slack accepts (Block Kit
// limits, no empty block) and the text arrives whole.
class Random {
 public:
  explicit Random(std::uint32_t seed) : state_(seed) {}
  std::uint32_t next(std::uint32_t bound) {
    state_ = state_ * 1664525u + 1013904223u;
    return (state_ >> 8) % bound;
  }
  std::string text(std::size_t max_chars) {
    static const char* pieces[] = {"a", " ", "\n", "\u00e9", "\U0001F680", "<!channel>", "&"};
    std::string out;
    const std::size_t n = next(static_cast<std::uint32_t>(max_chars + 1));
    for (std::size_t i = 0; i < n; ++i) out += pieces[next(7)];
    return out;
  }

 private:
  std::uint32_t state_;
};

TEST(SlackWebhookProperty, EveryMessageIsOneSlackAcceptsAndTheTextArrivesWhole) {
  Random random(1203);
  for (int round = 0; round < 200; ++round) {
    rapidjson::Document payload(rapidjson::kObjectType);
    auto& a = payload.GetAllocator();
    const std::string text = random.text(round % 4 == 0 ? 45000 : 200);
    payload.AddMember("text", rapidjson::Value(text.c_str(), a), a);
    rapidjson::Value blocks(rapidjson::kArrayType);
    const std::size_t count = random.next(70);
    auto text_object = [&](std::size_t max) {
      rapidjson::Value t(rapidjson::kObjectType);
      t.AddMember("type", "mrkdwn", a);
      t.AddMember("text", rapidjson::Value(random.text(max).c_str(), a), a);
      return t;
    };
    for (std::size_t i = 0; i < count; ++i) {
      rapidjson::Value b(rapidjson::kObjectType);
      switch (random.next(4)) {
        case 0:
          b.AddMember("type", "header", a);
          b.AddMember("text", text_object(200), a);
          break;
        case 1: {
          b.AddMember("type", "section", a);
          if (random.next(2)) b.AddMember("text", text_object(3500), a);
          rapidjson::Value fields(rapidjson::kArrayType);
          for (std::size_t k = random.next(14); k > 0; --k) fields.PushBack(text_object(2200), a);
          if (random.next(2)) b.AddMember("fields", fields, a);
          break;
        }
        case 2: {
          b.AddMember("type", "context", a);
          rapidjson::Value elements(rapidjson::kArrayType);
          for (std::size_t k = random.next(14); k > 0; --k) elements.PushBack(text_object(50), a);
          b.AddMember("elements", elements, a);
          break;
        }
        default: b.AddMember("type", "divider", a);
      }
      blocks.PushBack(b, a);
    }
    payload.AddMember("blocks", blocks, a);
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    payload.Accept(writer);

    Harness h(kWebhookSinkDecl, std::string(R"({"url": ")") + kUrl +
                                    R"(", "min_interval": "0s", "escape": false, "text": "${{ payload.text }}", "blocks": "${{ payload.blocks }}"})");
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    h.respond_with([](const HttpClientRequest&) { return answer(200); });
    const Status status = h.deliver(testing::make_event("x", buffer.GetString()));
    if (!status) {
      // Only an event that renders nothing at all may be refused.
      EXPECT_NE(status.error().message.find("nothing to send"), std::string::npos) << status.error().message;
      EXPECT_TRUE(text.empty());
      continue;
    }
    std::string joined;
    for (const auto& request : h.http_requests()) {
      auto m = json(request.body);
      if (m.HasMember("text")) {
        EXPECT_LE(text::length(m["text"].GetString()), Limits::text);
        joined += m["text"].GetString();
      }
      const bool has_blocks = m.HasMember("blocks");
      EXPECT_TRUE(m.HasMember("text") || has_blocks) << "an empty message";
      if (!has_blocks) continue;
      EXPECT_LE(m["blocks"].Size(), Limits::blocks);
      for (const auto& b : m["blocks"].GetArray()) {
        const std::string type = b["type"].GetString();
        if (type == "header") {
          const std::size_t n = text::length(b["text"]["text"].GetString());
          EXPECT_TRUE(n >= 1 && n <= Limits::header) << n;
        } else if (type == "section") {
          EXPECT_TRUE(b.HasMember("text") || (b.HasMember("fields") && !b["fields"].Empty()));
          if (b.HasMember("text")) {
            const std::size_t n = text::length(b["text"]["text"].GetString());
            EXPECT_TRUE(n >= 1 && n <= Limits::section) << n;
          }
          if (b.HasMember("fields")) {
            EXPECT_LE(b["fields"].Size(), Limits::section_fields);
            for (const auto& f : b["fields"].GetArray()) {
              const std::size_t n = text::length(f["text"].GetString());
              EXPECT_TRUE(n >= 1 && n <= Limits::field) << n;
            }
          }
        } else if (type == "context") {
          EXPECT_GE(b["elements"].Size(), 1u);
          EXPECT_LE(b["elements"].Size(), Limits::context_elements);
          for (const auto& e : b["elements"].GetArray()) EXPECT_GE(text::length(e["text"].GetString()), 1u);
        }
      }
    }
    EXPECT_EQ(joined, text);
    if (::testing::Test::HasFailure()) FAIL() << "round " << round;
  }
}

}  // namespace
}  // namespace switchyard::slack

namespace switchyard::slack {
namespace {

// Sink::render: what `switchyard test` checks under rendered: and `switchyard render` prints.
TEST(SlackWebhookRender, RendersTheEscapedMessageDeliverWouldPostAndSendsNothing) {
  Harness h(kWebhookSinkDecl, options(R"("text": "<!here> ${{ payload.workflow_run.name }} failed",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*${{ payload.repository.full_name }}*"}}])"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*run_event("<!channel> & co"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, kUrl);
  EXPECT_EQ(r.headers.get("Content-Type"), std::optional<std::string_view>("application/json"));
  auto body = json(r.body);
  // What Slack would get: the template's own <!here> kept, the event's text escaped.
  EXPECT_STREQ(body["text"].GetString(), "<!here> &lt;!channel&gt; &amp; co failed");
  EXPECT_STREQ(body["blocks"][0]["text"]["text"].GetString(), "*octo/app*");
  EXPECT_TRUE(h.http_requests().empty());
  ASSERT_TRUE(h.start());
  h.respond_with([](const HttpClientRequest&) { return answer(200); });
  ASSERT_TRUE(h.deliver(run_event("<!channel> & co")));
  ASSERT_EQ(h.http_requests().size(), 1u);
  EXPECT_EQ(h.http_requests()[0].body, r.body);
}

TEST(SlackWebhookRender, ATemplateThatGivesNothingToSendFailsAsDeliverWould) {
  Harness h(kWebhookSinkDecl, options(R"("text": "${{ payload.nothing }}")"));
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*run_event());
  ASSERT_FALSE(rendered);
  EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  EXPECT_NE(rendered.error().message.find("nothing to send"), std::string::npos) << rendered.error().message;

  Harness blocks(kWebhookSinkDecl, options(R"("blocks": "${{ payload.workflow_run.name }}")"));
  ASSERT_TRUE(blocks.configure());
  auto not_blocks = blocks.render(*run_event());
  ASSERT_FALSE(not_blocks);
  EXPECT_EQ(not_blocks.error().message, "blocks: the template gave neither a block nor a list of them");
}

}  // namespace
}  // namespace switchyard::slack
