#include "webhook_sink.hpp"

#include <array>

#include "common/http_options.hpp"
#include "common/text_limits.hpp"

namespace switchyard::slack {
namespace {

using Alloc = rapidjson::Document::AllocatorType;
using std::chrono::milliseconds;

constexpr std::array<OptionSpec, 9> kOwnOptions = {{
    {.name = "url", .type = OptionType::text_template, .required = true,
     .description = "The incoming webhook's URL (https://hooks.slack.com/services/...). It holds "
                    "the webhook's secret.",
     .example = "${SLACK_WEBHOOK_URL}", .secret = true},
    {.name = "text", .type = OptionType::text_template, .default_value = "",
     .description = "Message text (Slack mrkdwn); with blocks, the notification's text. Longer "
                    "than Slack's 40,000 characters, it goes on in further messages (see split).",
     .example = "Build failed: <${{ payload.workflow_run.html_url }}|${{ payload.workflow_run.name }}>"},
    {.name = "blocks", .type = OptionType::json_template,
     .description = "Block Kit blocks (a list, or one block). Texts longer than Slack allows are "
                    "cut with an ellipsis (header 150, section 3,000, field 2,000 characters; 10 "
                    "fields, 10 context elements); more than 50 blocks go on in further messages.",
     .example = R"([{type: section, text: {type: mrkdwn, text: "*${{ payload.repository.full_name }}*"}}])"},
    {.name = "attachments", .type = OptionType::json_template,
     .description = "Legacy attachments (e.g. a colour bar: [{color: \"#D73A49\", text: ...}]), "
                    "sent as written."},
    {.name = "thread_ts", .type = OptionType::text_template, .default_value = "",
     .description = "Replies in the thread of this message timestamp."},
    {.name = "escape", .type = OptionType::boolean, .default_value = "true",
     .description = "Escape &, < and > in values taken from the event, as Slack asks of text: "
                    "a commit message cannot @channel, @here or forge a link. The template's own "
                    "text (<url|label> links, <!here>) is sent as written."},
    {.name = "unfurl_links", .type = OptionType::boolean, .default_value = "false",
     .description = "Let Slack expand previews of the links in the text."},
    {.name = "split", .type = OptionType::boolean, .default_value = "true",
     .description = "Send what does not fit one message as further messages, in order (a retry "
                    "resends only those Slack has not accepted). false: one message, text cut and "
                    "blocks beyond 50 dropped."},
    {.name = "min_interval", .type = OptionType::duration, .default_value = "1s",
     .description = "Least time between two messages to one webhook: Slack allows about one per "
                    "second. A 429's Retry-After is waited out as well. 0 sends as fast as Slack "
                    "answers."},
}};
constexpr auto kOptions = http_options::with_client_options(kOwnOptions);

std::string escape_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

void escape_strings(rapidjson::Value& v, Alloc& a) {
  if (v.IsString()) {
    const std::string_view s(v.GetString(), v.GetStringLength());
    if (s.find_first_of("&<>") != std::string_view::npos) {
      const std::string e = escape_text(s);
      v.SetString(e.data(), static_cast<rapidjson::SizeType>(e.size()), a);
    }
  } else if (v.IsArray()) {
    for (auto& item : v.GetArray()) escape_strings(item, a);
  } else if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      escape_strings(m.name, a);  // tojson(payload) writes the keys too
      escape_strings(m.value, a);
    }
  }
}

// The text of a text object ({type, text}) cut to `max`, numbers and booleans written as
// text ("${{ payload.number }}" renders a number); returns its length (0: empty or none).
std::size_t fit_text_object(rapidjson::Value& object, std::size_t max, Alloc& a, std::vector<std::string>& notes,
                            const std::string& where) {
  if (!object.IsObject()) return 0;
  auto t = object.FindMember("text");
  if (t == object.MemberEnd()) return 0;
  std::string text;
  if (t->value.IsString()) {
    text.assign(t->value.GetString(), t->value.GetStringLength());
  } else if (t->value.IsNumber() || t->value.IsBool()) {
    text = chat::to_json(t->value);  // "${{ payload.number }}" renders a number
  }
  if (text::length(text) > max) {
    notes.push_back(where + " cut to " + std::to_string(max) + " characters");
    text = text::truncate(text, max);
  }
  t->value.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), a);
  return text::length(text);
}

std::size_t fit_text_object(rapidjson::Value& holder, const char* key, std::size_t max, Alloc& a,
                            std::vector<std::string>& notes, const std::string& where) {
  auto it = holder.FindMember(key);
  return it == holder.MemberEnd() ? 0 : fit_text_object(it->value, max, a, notes, where + key);
}

std::size_t fit_text_object(rapidjson::Value& list, rapidjson::SizeType i, std::size_t max, Alloc& a,
                            std::vector<std::string>& notes, const std::string& where) {
  return fit_text_object(list[i], max, a, notes, where + "[" + std::to_string(i) + "]");
}

// Cuts one block to Slack's limits; false when nothing is left of it worth sending (an
// empty header or section, which Slack refuses).
bool fit_block(rapidjson::Value& block, Alloc& a, std::vector<std::string>& notes, const std::string& where) {
  auto type = block.FindMember("type");
  if (type == block.MemberEnd() || !type->value.IsString()) return true;  // Slack judges
  const std::string_view kind(type->value.GetString(), type->value.GetStringLength());
  if (kind == "header") return fit_text_object(block, "text", Limits::header, a, notes, where) > 0;
  if (kind == "section") {
    const bool has_text = fit_text_object(block, "text", Limits::section, a, notes, where) > 0;
    if (!has_text) block.RemoveMember("text");
    bool has_fields = false;
    if (auto f = block.FindMember("fields"); f != block.MemberEnd() && f->value.IsArray()) {
      auto& fields = f->value;
      // Slack refuses an empty text anywhere: such fields go, then what is beyond ten.
      for (rapidjson::SizeType i = fields.Size(); i-- > 0;) {
        if (fit_text_object(fields, i, Limits::field, a, notes, where + "fields") == 0) fields.Erase(fields.Begin() + i);
      }
      if (fields.Size() > Limits::section_fields) {
        notes.push_back(where + "fields: " + std::to_string(fields.Size()) + " cut to 10");
        while (fields.Size() > Limits::section_fields) fields.PopBack();
      }
      has_fields = !fields.Empty();
      if (!has_fields) block.RemoveMember("fields");
    }
    return has_text || has_fields || block.HasMember("accessory");
  }
  if (kind == "context") {
    if (auto e = block.FindMember("elements"); e != block.MemberEnd() && e->value.IsArray()) {
      auto& elements = e->value;
      for (rapidjson::SizeType i = elements.Size(); i-- > 0;) {
        // Text elements (mrkdwn, plain_text) must not be empty; images are left alone.
        const bool text_element = elements[i].IsObject() && elements[i].HasMember("text");
        if (text_element && fit_text_object(elements, i, Limits::section, a, notes, where + "elements") == 0) {
          elements.Erase(elements.Begin() + i);
        }
      }
      if (e->value.Size() > Limits::context_elements) {
        notes.push_back(where + "elements cut to 10");
        while (e->value.Size() > Limits::context_elements) e->value.PopBack();
      }
      return !e->value.Empty();
    }
  }
  return true;
}

}  // namespace

const ComponentDecl kWebhookSinkDecl{
    .kind = ComponentKind::sink,
    .type = "slack.webhook",
    .summary = "Posts each event to a Slack channel through an incoming webhook: text and Block "
               "Kit blocks from templates, cut or split to Slack's limits, event values escaped "
               "so they cannot mention or link, about one message a second, 429 Retry-After "
               "honoured.",
    .options = kOptions,
    .create = &make_component<WebhookSink>,
};

std::unique_ptr<Event> escaped(const Event& event) {
  auto copy = std::make_unique<Event>();
  copy->id = escape_text(event.id);  // the http source takes it from a request header
  copy->source = escape_text(event.source);
  copy->type = escape_text(event.type);
  copy->subject = escape_text(event.subject);
  copy->time = event.time;
  copy->pipeline = event.pipeline;
  copy->attempt = event.attempt;
  copy->not_before = event.not_before;
  copy->data.CopyFrom(event.data, copy->data.GetAllocator());
  escape_strings(copy->data, copy->data.GetAllocator());
  copy->meta.CopyFrom(event.meta, copy->allocator());
  escape_strings(copy->meta, copy->allocator());
  return copy;
}

Status WebhookSink::configure(const Options& options, Context& context) {
  context_ = &context;
  url_ = options.text("url");
  text_ = options.text("text");
  thread_ts_ = options.text("thread_ts");
  blocks_ = options.template_of("blocks");
  attachments_ = options.template_of("attachments");
  if ((options.has("blocks") && blocks_ == nullptr) || (options.has("attachments") && attachments_ == nullptr)) {
    return invalid_config("blocks/attachments: template was not compiled");
  }
  escape_ = options.boolean("escape", true);
  split_ = options.boolean("split", true);
  unfurl_links_ = options.boolean("unfurl_links", false);
  min_interval_ = options.duration("min_interval");
  const std::string_view url = url_.literal();
  if (!url.starts_with("${{") && !url.starts_with("https://") && !url.starts_with("http://")) {
    return invalid_config("url: must be the webhook's https:// URL");
  }
  if (text_.literal().empty() && !options.has("blocks") && !options.has("attachments")) {
    return invalid_config("text, blocks or attachments: a message needs at least one of them");
  }
  client_options_ = http_options::client_options(options);
  return {};
}

Status WebhookSink::start() {
  const milliseconds spacing = min_interval_;
  sender_ = std::make_unique<chat::MessageSender>(
      *context_, [spacing](const HttpClientResponse& response) -> std::optional<milliseconds> {
        if (response.status == 429) return parse_retry_after(response.headers.get("Retry-After"));
        if (response.status >= 200 && response.status < 300 && spacing > milliseconds(0)) return spacing;
        return std::nullopt;
      });
  sender_->start(client_options_);
  return {};
}

void WebhookSink::stop() {
  if (sender_) sender_->stop();
}

Result<Messages> WebhookSink::messages_for(const Event& original) const {
  std::unique_ptr<Event> copy;
  if (escape_) copy = escaped(original);
  const Event& event = escape_ ? *copy : original;
  Messages out;
  rapidjson::Document blocks(rapidjson::kArrayType);
  if (blocks_ != nullptr) {
    rapidjson::Document rendered;
    blocks_->render(event, rendered, rendered.GetAllocator());
    if (rendered.IsObject()) {
      blocks.PushBack(rapidjson::Value(rendered, blocks.GetAllocator()), blocks.GetAllocator());
    } else if (rendered.IsArray()) {
      blocks.CopyFrom(rendered, blocks.GetAllocator());
    } else if (!rendered.IsNull()) {
      return permanent("blocks: the template gave neither a block nor a list of them");
    }
  }
  rapidjson::Document kept(rapidjson::kArrayType);
  for (rapidjson::SizeType i = 0; i < blocks.Size(); ++i) {
    if (!blocks[i].IsObject()) return permanent("blocks[" + std::to_string(i) + "]: not an object");
    if (fit_block(blocks[i], blocks.GetAllocator(), out.notes, "blocks[" + std::to_string(i) + "].")) {
      kept.PushBack(rapidjson::Value(blocks[i], kept.GetAllocator()), kept.GetAllocator());
    } else {
      out.notes.push_back("blocks[" + std::to_string(i) + "]: empty, left out");
    }
  }
  rapidjson::Document attachments;
  if (attachments_ != nullptr) attachments_->render(event, attachments, attachments.GetAllocator());
  const bool has_attachments = attachments.IsArray() ? !attachments.Empty() : attachments.IsObject();

  const std::string text = text_.render(event);
  std::vector<std::string> pieces;
  if (split_) {
    pieces = text::split(text, Limits::text);
  } else if (!text.empty()) {
    pieces.push_back(text::truncate(text, Limits::text));
  }
  std::vector<std::vector<rapidjson::SizeType>> groups;
  for (rapidjson::SizeType i = 0; i < kept.Size(); ++i) {
    if (groups.empty() || groups.back().size() == Limits::blocks) groups.emplace_back();
    groups.back().push_back(i);
  }
  if (!split_ && groups.size() > 1) {
    out.notes.push_back("blocks beyond 50 dropped (split: false)");
    groups.resize(1);
  }
  if (pieces.empty() && groups.empty() && !has_attachments) {
    return permanent("nothing to send: text, blocks and attachments are all empty for this event");
  }
  const std::string thread = thread_ts_.render(event);
  // The text comes first; the blocks and attachments go with its last piece and go on in
  // messages of their own.
  const std::size_t first_blocks = pieces.empty() ? 0 : pieces.size() - 1;
  const std::size_t count = std::max(pieces.size(), first_blocks + std::max<std::size_t>(groups.size(), 1));
  for (std::size_t m = 0; m < count; ++m) {
    rapidjson::Document message(rapidjson::kObjectType);
    auto& a = message.GetAllocator();
    if (m < pieces.size()) {
      message.AddMember("text", rapidjson::Value(pieces[m].c_str(), static_cast<rapidjson::SizeType>(pieces[m].size()), a), a);
    }
    if (m >= first_blocks && m - first_blocks < groups.size()) {
      rapidjson::Value list(rapidjson::kArrayType);
      for (auto i : groups[m - first_blocks]) list.PushBack(rapidjson::Value(kept[i], a), a);
      message.AddMember("blocks", list, a);
    }
    if (m == first_blocks && has_attachments) {
      rapidjson::Value list(rapidjson::kArrayType);
      if (attachments.IsArray()) {
        list.CopyFrom(attachments, a);
      } else {
        list.PushBack(rapidjson::Value(attachments, a), a);
      }
      message.AddMember("attachments", list, a);
    }
    if (!thread.empty()) message.AddMember("thread_ts", rapidjson::Value(thread.c_str(), a), a);
    message.AddMember("unfurl_links", unfurl_links_, a);
    out.bodies.push_back(chat::to_json(message));
  }
  if (out.bodies.size() > 1) out.notes.push_back("sent as " + std::to_string(out.bodies.size()) + " messages");
  return out;
}

void WebhookSink::deliver(EventPtr event, DeliveryCallback done) {
  sender_->deliver(*event, url_.render(*event), messages_for(*event), std::move(done));
}

Result<std::optional<Rendering>> WebhookSink::render(const Event& event) {
  return chat::render_messages(url_.render(event), messages_for(event));
}

}  // namespace switchyard::slack
