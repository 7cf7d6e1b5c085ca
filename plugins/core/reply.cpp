#include "reply.hpp"

#include <charconv>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace switchyard::core {
namespace {

constexpr const char* kLate[] = {"ignore", "fail"};

constexpr OptionSpec kOptions[] = {
    {.name = "body", .type = OptionType::json_template,
     .description = "The answer as JSON: a Discord message ({content, embeds}) for "
                    "discord.interactions, a Slack message ({text, blocks, response_type}) for "
                    "slack.events, any JSON for the http source.",
     .example = R"({text: "Deployed ${{ payload.text }}", response_type: in_channel})"},
    {.name = "text", .type = OptionType::text_template, .default_value = "",
     .description = "The answer as plain text, instead of body (for the http source)."},
    {.name = "status", .type = OptionType::text_template, .default_value = "200",
     .description = "HTTP status of the answer, 100 to 599, for sources whose protocol has one "
                    "(the http source; Discord and Slack answers are always 200)."},
    {.name = "headers", .type = OptionType::template_map,
     .description = "Extra headers of the answer (the http source)."},
    {.name = "content_type", .type = OptionType::string,
     .description = "Content-Type of the answer; default application/json with body, "
                    "text/plain; charset=utf-8 with text."},
    {.name = "late", .type = OptionType::string, .default_value = "ignore",
     .description = "When no request waits for the event any more (answered already, past the "
                    "source's reply_within, or replayed from the journal): ignore logs it and "
                    "counts the event delivered; fail sends it to the dead-letter queue.",
     .choices = kLate},
};

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

const ComponentDecl kReplyDecl{
    .kind = ComponentKind::sink,
    .type = "reply",
    .summary = "Answers the request the event came from (a Discord or Slack slash command, a "
               "call to the http source) with a body from templates, while its source still "
               "waits for it (reply_within).",
    .options = kOptions,
    .create = &make_component<ReplySink>,
};

Status ReplySink::configure(const Options& options, Context& context) {
  context_ = &context;
  body_ = options.template_of("body");
  text_ = options.text("text");
  status_ = options.text("status");
  headers_ = options.text_map("headers");
  fail_late_ = options.string("late") == "fail";
  if (options.has("body") && !text_.literal().empty()) return invalid_config("body or text: give one of them, not both");
  if (options.has("body") && body_ == nullptr) return invalid_config("body: template was not compiled");
  content_type_ = options.has("content_type") ? std::string(options.string("content_type"))
                  : body_                     ? "application/json"
                                              : "text/plain; charset=utf-8";
  if (has_line_break(content_type_)) return invalid_config("content_type: must be one line");
  return {};
}

Result<Reply> ReplySink::answer_for(const Event& event) const {
  Reply reply;
  const std::string status = status_.render(event);
  int code = 0;
  const auto [end, ec] = std::from_chars(status.data(), status.data() + status.size(), code);
  if (ec != std::errc() || end != status.data() + status.size() || code < 100 || code > 599) {
    return permanent("status: '" + status.substr(0, 40) + "' is not an HTTP status from 100 to 599");
  }
  reply.status = code;
  for (const auto& [name, value] : headers_) {
    std::string rendered = value.render(event);
    if (has_line_break(rendered)) return permanent("headers." + std::string(name) + ": the value holds a line break");
    reply.headers.add(std::string(name), std::move(rendered));
  }
  if (body_ != nullptr) {
    rapidjson::Document doc;
    body_->render(event, doc, doc.GetAllocator());
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    doc.Accept(writer);
    reply.body.assign(buffer.GetString(), buffer.GetSize());
  } else {
    reply.body = text_.render(event);
  }
  reply.content_type = content_type_;
  return reply;
}

Result<std::optional<Rendering>> ReplySink::render(const Event& event) {
  auto reply = answer_for(event);
  if (!reply) return reply.error();
  Rendering r{.method = "REPLY", .url = "HTTP " + std::to_string(reply->status), .headers = reply->headers,
              .body = std::move(reply->body)};
  if (!reply->content_type.empty()) r.headers.set("Content-Type", reply->content_type);
  return std::optional<Rendering>(std::move(r));
}

void ReplySink::deliver(EventPtr event, DeliveryCallback done) {
  auto reply = answer_for(*event);
  if (!reply) return done(reply.error());
  if (context_->replies().answer(event->id, std::move(*reply))) return done({});
  const std::string why = "no request waits for event " + event->id +
                          " (answered already, past its source's reply_within, or replayed)";
  if (fail_late_) return done(permanent(why));
  context_->logger().info(why + "; its answer is dropped");
  done({});
}

}  // namespace switchyard::core
