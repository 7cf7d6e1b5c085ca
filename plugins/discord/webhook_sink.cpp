#include "webhook_sink.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "common/http_options.hpp"
#include "common/json_limits.hpp"
#include "common/message_sender.hpp"
#include "common/text_limits.hpp"
#include "interactions_source.hpp"

namespace switchyard::discord {
namespace {

using Alloc = rapidjson::Document::AllocatorType;
using std::chrono::milliseconds;

constexpr std::array<OptionSpec, 8> kOwnOptions = {{
    {.name = "url", .type = OptionType::text_template, .required = true,
     .description = "The channel's webhook URL (Server Settings → Integrations → Webhooks). It "
                    "holds the webhook's token.",
     .example = "${DISCORD_WEBHOOK_URL}", .secret = true},
    {.name = "content", .type = OptionType::text_template, .default_value = "",
     .description = "Message text (Markdown). Longer than Discord's 2,000 characters, it is "
                    "split into several messages at line breaks (see split).",
     .example = "**${{ payload.sender.login }}** pushed to ${{ payload.repository.full_name }}"},
    {.name = "embeds", .type = OptionType::json_template,
     .description = "One embed or a list of them, as Discord's embed objects (title, "
                    "description, url, color, author, footer, fields, timestamp...). Texts "
                    "longer than Discord allows are cut with an ellipsis; more than 10 embeds, "
                    "or more than 6,000 characters together, go on in further messages. color "
                    "takes a number or \"#RRGGBB\".",
     .example = R"({title: "${{ payload.head_commit.message }}", color: "#0077FF", url: "${{ payload.compare }}"})"},
    {.name = "username", .type = OptionType::text_template, .default_value = "",
     .description = "Overrides the webhook's name for these messages (at most 80 characters)."},
    {.name = "avatar_url", .type = OptionType::text_template, .default_value = "",
     .description = "Overrides the webhook's avatar for these messages."},
    {.name = "thread_id", .type = OptionType::text_template, .default_value = "",
     .description = "Posts into this thread of the channel (a thread id, digits only)."},
    {.name = "allowed_mentions", .type = OptionType::json, .default_value = R"({"parse": []})",
     .description = "Which mentions in the text notify anyone. The default notifies nobody: "
                    "text from GitHub (commit messages, titles) cannot ping @everyone or a "
                    "role. Discord's allowed_mentions object."},
    {.name = "split", .type = OptionType::boolean, .default_value = "true",
     .description = "Send what does not fit one message as further messages, in order (a "
                    "retry resends only the messages Discord has not accepted). false: one "
                    "message per event, text cut to fit and embeds beyond it dropped (logged)."},
}};
constexpr auto kOptions = http_options::with_client_options(kOwnOptions);

constexpr std::array<OptionSpec, 6> kReplyOwnOptions = {{
    {.name = "content", .type = OptionType::text_template, .default_value = "",
     .description = "Answer text (Markdown); split into follow-up messages past 2,000 characters.",
     .example = "Pong! ${{ payload.member.user.username }}"},
    {.name = "embeds", .type = OptionType::json_template,
     .description = "One embed or a list of them, as for discord.webhook (cut and split to Discord's limits)."},
    {.name = "ephemeral", .type = OptionType::boolean, .default_value = "false",
     .description = "The answer is seen only by the user who ran the command."},
    {.name = "allowed_mentions", .type = OptionType::json, .default_value = R"({"parse": []})",
     .description = "Which mentions in the answer notify anyone; the default notifies nobody."},
    {.name = "split", .type = OptionType::boolean, .default_value = "true",
     .description = "What does not fit one message goes on in follow-up messages."},
    {.name = "api_base", .type = OptionType::string, .default_value = "https://discord.com/api/v10",
     .description = "Discord's API, where follow-up messages are posted (webhooks/<application "
                    "id>/<interaction token>). Changed only for tests."},
}};
constexpr auto kReplyOptions = http_options::with_client_options(kReplyOwnOptions);

std::unique_ptr<Component> make_reply_sink() { return std::make_unique<WebhookSink>(true); }

rapidjson::Value string_value(std::string_view s, Alloc& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// A text member as Discord wants it: numbers and booleans (a template like
// "${{ payload.number }}" renders a number) become strings; null and "" are removed, as
// Discord refuses empty texts. Cut to `max` characters. Returns its length afterwards.
std::size_t fit_text(rapidjson::Value& object, const char* key, std::size_t max, Alloc& a,
                     std::vector<std::string>& notes, const std::string& where) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) return 0;
  rapidjson::Value& v = it->value;
  std::string text;
  if (v.IsString()) {
    text.assign(v.GetString(), v.GetStringLength());
  } else if (v.IsNumber() || v.IsBool()) {
    text = chat::to_json(v);
  } else if (!v.IsNull()) {
    return 0;  // an object or a list: left for Discord to judge
  }
  if (text.empty()) {
    object.RemoveMember(it);
    return 0;
  }
  if (text::length(text) > max) {
    notes.push_back(where + key + " cut to " + std::to_string(max) + " characters");
    text = text::truncate(text, max);
  }
  v = string_value(text, a);
  return text::length(text);
}

// "#0077FF", "0x0077FF" or "30719" → 30719; nullopt when it is none of those.
std::optional<std::int64_t> parse_color(std::string_view s) {
  int base = 10;
  if (s.starts_with('#')) {
    s.remove_prefix(1);
    base = 16;
  } else if (s.starts_with("0x") || s.starts_with("0X")) {
    s.remove_prefix(2);
    base = 16;
  }
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0 || v > 0xFFFFFF) return std::nullopt;
  return v;
}

// Cuts one embed to Discord's limits; returns the characters that count toward the 6,000
// of a message.
std::size_t fit_embed(rapidjson::Value& embed, Alloc& a, std::vector<std::string>& notes,
                      const std::string& where) {
  std::size_t size = 0;
  size += fit_text(embed, "title", Limits::title, a, notes, where);
  size += fit_text(embed, "description", Limits::description, a, notes, where);
  fit_text(embed, "url", SIZE_MAX, a, notes, where);
  fit_text(embed, "timestamp", SIZE_MAX, a, notes, where);
  if (auto c = embed.FindMember("color"); c != embed.MemberEnd()) {
    std::optional<std::int64_t> color;
    if (c->value.IsString()) color = parse_color({c->value.GetString(), c->value.GetStringLength()});
    if (c->value.IsInt64() && c->value.GetInt64() >= 0 && c->value.GetInt64() <= 0xFFFFFF) color = c->value.GetInt64();
    if (color) {
      c->value.SetInt64(*color);
    } else {
      if (!c->value.IsNull()) notes.push_back(where + "color is not a colour (#RRGGBB or 0..16777215): left out");
      embed.RemoveMember(c);
    }
  }
  // Nested objects whose one text is required: without it, the object goes.
  for (const auto& [object, key, max] : {std::tuple{"author", "name", Limits::author_name},
                                         std::tuple{"footer", "text", Limits::footer_text}}) {
    auto it = embed.FindMember(object);
    if (it == embed.MemberEnd()) continue;
    if (!it->value.IsObject()) {
      embed.RemoveMember(it);
      continue;
    }
    const std::size_t n = fit_text(it->value, key, max, a, notes, where + object + ".");
    if (n == 0) {
      embed.RemoveMember(object);
      continue;
    }
    size += n;
  }
  for (const char* image : {"image", "thumbnail"}) {
    auto it = embed.FindMember(image);
    if (it == embed.MemberEnd()) continue;
    if (!it->value.IsObject() || fit_text(it->value, "url", SIZE_MAX, a, notes, where) == 0) embed.RemoveMember(image);
  }
  if (auto f = embed.FindMember("fields"); f != embed.MemberEnd()) {
    if (!f->value.IsArray()) {
      embed.RemoveMember(f);
    } else {
      auto& fields = f->value;
      if (fields.Size() > Limits::fields) {
        notes.push_back(where + "fields: " + std::to_string(fields.Size()) + " cut to " + std::to_string(Limits::fields));
        while (fields.Size() > Limits::fields) fields.PopBack();
      }
      for (rapidjson::SizeType i = 0; i < fields.Size(); ++i) {
        auto& field = fields[i];
        if (!field.IsObject()) field.SetObject();
        const std::string at = where + "fields[" + std::to_string(i) + "].";
        // Both are required: an empty one shows as a zero-width space.
        for (const auto& [key, max] : {std::pair{"name", Limits::field_name}, std::pair{"value", Limits::field_value}}) {
          std::size_t n = fit_text(field, key, max, a, notes, at);
          if (n == 0) {
            field.RemoveMember(key);
            field.AddMember(rapidjson::StringRef(key), string_value("\u200b", a), a);
            n = 1;
          }
          size += n;
        }
      }
    }
  }
  if (size <= Limits::embed_total) return size;
  // Too big for any message: shorten the description, then drop fields from the end.
  notes.push_back(where + "more than " + std::to_string(Limits::embed_total) + " characters: shortened");
  auto length_of = [&](const rapidjson::Value& object, const char* key) -> std::size_t {
    auto it = object.FindMember(key);
    return it != object.MemberEnd() && it->value.IsString() ? text::length(it->value.GetString()) : 0;
  };
  if (auto d = embed.FindMember("description"); d != embed.MemberEnd() && d->value.IsString()) {
    const std::size_t length = text::length(d->value.GetString());
    const std::size_t excess = size - Limits::embed_total;
    const std::size_t keep = length > excess ? length - excess : 0;
    size -= length;
    if (keep > 0) {
      d->value = string_value(text::truncate(d->value.GetString(), keep), a);
      size += keep;
    } else {
      embed.RemoveMember(d);
    }
  }
  if (auto f = embed.FindMember("fields"); f != embed.MemberEnd() && f->value.IsArray()) {
    auto& fields = f->value;
    while (size > Limits::embed_total && !fields.Empty()) {
      const auto& last = fields[fields.Size() - 1];
      size -= length_of(last, "name") + length_of(last, "value");
      fields.PopBack();
    }
  }
  return size;
}

bool digits_only(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::size_t kMaxAnswered = 10'000;

// The interaction a discord.reply answers: deliver() and render() read it here alone.
struct Interaction {
  std::string application;
  std::string token;
};

Result<Interaction> interaction_of(const Event& event) {
  auto member = [&](const char* name) {
    auto it = event.data.IsObject() ? event.data.FindMember(name) : event.data.MemberEnd();
    return it != event.data.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString()) : std::string();
  };
  Interaction out{member("application_id"), {}};
  if (out.application.empty()) {
    return permanent("not an interaction (no application_id): discord.reply answers discord.interactions events");
  }
  // The source keeps the token with the event in memory only; a payload of an older version
  // (or a test's) may still carry it.
  const auto kept = event.secret(kTokenSecret);
  out.token = kept ? std::string(*kept) : member("token");
  if (out.token.empty()) {
    return permanent("the interaction's token is gone: it is kept in memory only, never stored, and this event "
                     "was read back from the journal (after a restart, a replay or a backlog); Discord's "
                     "interaction tokens last 15 minutes");
  }
  return out;
}

// How long the webhook takes no request after this answer: a 429 says it in its body
// (seconds, with a fraction); an empty bucket (X-RateLimit-Remaining: 0) refills after
// X-RateLimit-Reset-After seconds.
std::optional<milliseconds> pause_after(const HttpClientResponse& response) {
  if (response.status == 429) {
    rapidjson::Document body;
    if (json_limits::parse(body, response.body) && body.IsObject()) {
      if (auto r = body.FindMember("retry_after"); r != body.MemberEnd() && r->value.IsNumber()) {
        if (auto ms = chat::seconds(r->value.GetDouble())) return ms;
      }
    }
    return parse_retry_after(response.headers.get("Retry-After"));
  }
  const auto remaining = response.headers.get("X-RateLimit-Remaining");
  const auto reset_after = response.headers.get("X-RateLimit-Reset-After");
  if (remaining && *remaining == "0" && reset_after) return chat::seconds(*reset_after);
  return std::nullopt;
}

}  // namespace

const ComponentDecl kWebhookSinkDecl{
    .kind = ComponentKind::sink,
    .type = "discord.webhook",
    .summary = "Posts each event to a Discord channel through a webhook: text and embeds from "
               "templates, cut or split to Discord's limits, rate limits and 429 retry_after "
               "honoured, no mass mentions unless allowed.",
    .options = kOptions,
    .create = &make_component<WebhookSink>,
};


const ComponentDecl kReplySinkDecl{
    .kind = ComponentKind::sink,
    .type = "discord.reply",
    .summary = "Answers the slash commands of discord.interactions with text and embeds from "
               "templates: within Discord's 3 s when the pipeline is that quick (the source's "
               "reply_within), else as a follow-up message to the deferred answer.",
    .options = kReplyOptions,
    .create = &make_reply_sink,
};

Status WebhookSink::configure(const Options& options, Context& context) {
  context_ = &context;
  content_ = options.text("content");
  if (reply_) {
    flags_ = options.boolean("ephemeral", false) ? 64 : 0;
    api_base_ = options.string("api_base");
    if (!api_base_.starts_with("https://") && !api_base_.starts_with("http://")) {
      return invalid_config("api_base: must be an http(s):// URL");
    }
    while (api_base_.ends_with('/')) api_base_.pop_back();
  } else {
    url_ = options.text("url");
    username_ = options.text("username");
    avatar_url_ = options.text("avatar_url");
    thread_id_ = options.text("thread_id");
  }
  embeds_ = options.template_of("embeds");
  if (options.has("embeds") && embeds_ == nullptr) return invalid_config("embeds: template was not compiled");
  allowed_mentions_.CopyFrom(options.json("allowed_mentions"), allowed_mentions_.GetAllocator());
  if (!allowed_mentions_.IsObject()) return invalid_config("allowed_mentions: must be an object, e.g. {parse: [users]}");
  split_ = options.boolean("split", true);
  const std::string_view url = url_.literal();
  if (!reply_ && !url.starts_with("${{") && !url.starts_with("https://") && !url.starts_with("http://")) {
    return invalid_config("url: must be the webhook's https:// URL");
  }
  if (content_.literal().empty() && !options.has("embeds")) {
    return invalid_config("content or embeds: a message needs at least one of them");
  }
  client_options_ = http_options::client_options(options);
  return {};
}

Status WebhookSink::start() {
  sender_ = std::make_unique<chat::MessageSender>(*context_, &pause_after);
  sender_->start(client_options_);
  return {};
}

void WebhookSink::stop() {
  if (sender_) sender_->stop();
}

Result<Messages> WebhookSink::messages_for(const Event& event) const {
  Messages out;
  rapidjson::Document embeds(rapidjson::kArrayType);
  if (embeds_ != nullptr) {
    rapidjson::Document rendered;
    embeds_->render(event, rendered, rendered.GetAllocator());
    if (rendered.IsObject()) {
      embeds.PushBack(rapidjson::Value(rendered, embeds.GetAllocator()), embeds.GetAllocator());
    } else if (rendered.IsArray()) {
      embeds.CopyFrom(rendered, embeds.GetAllocator());
    } else if (!rendered.IsNull()) {
      return permanent("embeds: the template gave neither an embed object nor a list of them");
    }
  }
  // Fit every embed, then group them: at most 10 and 6,000 characters per message.
  std::vector<std::vector<std::size_t>> groups;
  std::size_t group_size = 0;
  for (rapidjson::SizeType i = 0; i < embeds.Size(); ++i) {
    if (!embeds[i].IsObject()) return permanent("embeds[" + std::to_string(i) + "]: not an object");
    const std::size_t size = fit_embed(embeds[i], embeds.GetAllocator(), out.notes,
                                       "embeds[" + std::to_string(i) + "].");
    if (groups.empty() || groups.back().size() == Limits::embeds_per_message ||
        group_size + size > Limits::embed_total) {
      groups.emplace_back();
      group_size = 0;
    }
    groups.back().push_back(i);
    group_size += size;
  }
  const std::string content = content_.render(event);
  std::vector<std::string> pieces;
  if (split_) {
    pieces = text::split(content, Limits::content);
  } else if (!content.empty()) {
    pieces.push_back(text::truncate(content, Limits::content));
  }
  if (pieces.size() > 1) out.notes.push_back("content split into " + std::to_string(pieces.size()) + " messages");
  if (!split_ && text::length(content) > Limits::content) out.notes.push_back("content cut to 2000 characters");
  if (pieces.empty() && groups.empty()) {
    return permanent("nothing to send: content and embeds are both empty for this event");
  }
  if (!split_ && groups.size() > 1) {
    std::size_t dropped = 0;
    for (std::size_t g = 1; g < groups.size(); ++g) dropped += groups[g].size();
    out.notes.push_back(std::to_string(dropped) + " embed(s) beyond one message dropped (split: false)");
    groups.resize(1);
  }
  const std::string username = text::truncate(username_.render(event), Limits::username);
  const std::string avatar = avatar_url_.render(event);
  const std::size_t count = std::max<std::size_t>(pieces.size(), 1) + (groups.empty() ? 0 : groups.size() - 1);
  for (std::size_t m = 0; m < count; ++m) {
    rapidjson::Document message(rapidjson::kObjectType);
    auto& a = message.GetAllocator();
    if (m < pieces.size()) message.AddMember("content", string_value(pieces[m], a), a);
    // The embeds start with the last piece of text and go on in messages of their own.
    const std::size_t first_embeds = pieces.empty() ? 0 : pieces.size() - 1;
    if (m >= first_embeds && m - first_embeds < groups.size()) {
      rapidjson::Value list(rapidjson::kArrayType);
      for (std::size_t i : groups[m - first_embeds]) {
        list.PushBack(rapidjson::Value(embeds[static_cast<rapidjson::SizeType>(i)], a), a);
      }
      message.AddMember("embeds", list, a);
    }
    if (!username.empty()) message.AddMember("username", string_value(username, a), a);
    if (!avatar.empty()) message.AddMember("avatar_url", string_value(avatar, a), a);
    message.AddMember("allowed_mentions", rapidjson::Value(allowed_mentions_, a), a);
    if (flags_ != 0) message.AddMember("flags", flags_, a);
    out.bodies.push_back(chat::to_json(message));
  }
  return out;
}

Result<std::string> WebhookSink::url_for(const Event& event) const {
  if (reply_) {
    auto interaction = interaction_of(event);
    if (!interaction) return interaction.error();
    return api_base_ + "/webhooks/" + interaction->application + "/" + interaction->token;
  }
  std::string url = url_.render(event);
  if (!thread_id_.is_constant() || !thread_id_.literal().empty()) {
    const std::string thread = thread_id_.render(event);
    if (!thread.empty()) {
      if (!digits_only(thread)) return permanent("thread_id: '" + thread.substr(0, 40) + "' is not a thread id");
      url += (url.find('?') == std::string::npos ? "?thread_id=" : "&thread_id=") + thread;
    }
  }
  return url;
}

void WebhookSink::deliver(EventPtr event, DeliveryCallback done) {
  if (reply_) return reply(*event, std::move(done));
  auto url = url_for(*event);
  if (!url) return done(url.error());
  sender_->deliver(*event, std::move(*url), messages_for(*event), std::move(done));
}

Result<std::optional<Rendering>> WebhookSink::render(const Event& event) {
  auto url = url_for(event);
  if (!url) return url.error();
  return chat::render_messages(std::move(*url), messages_for(event));
}

void WebhookSink::reply(const Event& event, DeliveryCallback done) {
  auto url = url_for(event);
  if (!url) return done(url.error());
  auto messages = messages_for(event);
  if (!messages) return done(messages.error());
  // The first message answers the interaction itself while the source still holds it;
  // a retry after that sends only the rest, as follow-ups.
  bool answered = false;
  {
    std::lock_guard lock(mutex_);
    answered = answered_.contains(event.id);
  }
  if (!answered && context_->replies().answer(event.id, Reply{.body = messages->bodies.front()})) {
    std::lock_guard lock(mutex_);
    if (answered_.size() >= kMaxAnswered) answered_.erase(answered_.begin());
    answered_.insert(event.id);
    answered = true;
  }
  if (answered) {
    messages->bodies.erase(messages->bodies.begin());
    if (messages->bodies.empty()) return done({});
  }
  sender_->deliver(event, std::move(*url), std::move(messages), std::move(done));
}

}  // namespace switchyard::discord
