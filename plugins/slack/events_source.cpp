#include "events_source.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "common/form.hpp"
#include "common/json_limits.hpp"
#include "switchyard/time.hpp"

namespace switchyard::slack {
namespace {

using std::chrono::milliseconds;

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .default_value = "/slack/events",
     .description = "Route on the shared listener: the app's Request URL for events, slash "
                    "commands and interactivity alike.", .route = true},
    {.name = "secret", .type = OptionType::string_list, .required = true,
     .description = "The app's signing secret (Basic Information → App Credentials); a list "
                    "during a rotation.",
     .example = "${SLACK_SIGNING_SECRET}", .secret = true},
    {.name = "max_age", .type = OptionType::duration, .default_value = "5m",
     .description = "How far X-Slack-Request-Timestamp may be from the engine's clock, either "
                    "way; older requests are refused as replays (Slack: 5 minutes)."},
    {.name = "events", .type = OptionType::string_list, .default_value = "[]",
     .description = "Events API event types accepted (e.g. app_mention, message); empty "
                    "accepts all. Others are answered 200 and not emitted."},
    {.name = "command_reply", .type = OptionType::string, .default_value = "",
     .description = "Text answered to a slash command that the pipeline does not answer itself "
                    "(see reply_within), seen only by its user; empty answers with nothing. A "
                    "pipeline can also post its answer to the command's response_url later."},
    {.name = "reply_within", .type = OptionType::duration, .default_value = "0s",
     .description = "How long a slash command waits for the pipeline's answer from a `reply` "
                    "sink (a Slack message: {text: ..., response_type: in_channel}). Slack wants "
                    "an answer within 3 s: at most 2900ms. Past it, or with 0, command_reply is "
                    "answered, and at once when the pipeline is through with the command "
                    "unanswered (filtered out, taken by no sink, or every sink done without "
                    "replying). Use durability: memory for answers this quick."},
    {.name = "dedup_window", .type = OptionType::duration, .default_value = "1h",
     .description = "How long Events API event ids, and the trigger ids of commands and "
                    "interactions, are remembered: Slack's retries of an event already accepted, "
                    "and a captured request sent again, are answered 200 and not emitted again. "
                    "0 turns this off."},
    {.name = "max_body", .type = OptionType::size, .default_value = "1MiB",
     .description = "Largest request accepted."},
};

std::string member_string(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                          : std::string();
}

// "https://slack.com/<team id>", the CloudEvents source of everything from one workspace.
std::string team_source(const std::string& team) {
  return team.empty() ? "https://slack.com" : "https://slack.com/" + team;
}

// How Slack signs a request: v0 over the timestamp and body. A JSON body is an Events API
// callback; anything else a form (a slash command, an interaction).
Status sign_request(std::string_view secret, std::string_view, HttpClientRequest& request);

constexpr RequestSigner kSigner{.service = "slack",
                                .default_path = "/slack/events",
                                .secret_variable = "SLACK_SIGNING_SECRET",
                                .sign = &sign_request};

}  // namespace

const ComponentDecl kEventsSourceDecl{
    .kind = ComponentKind::source,
    .type = "slack.events",
    .summary = "Receives what a Slack app is sent: verifies X-Slack-Signature (v0, signing "
               "secret) within a 5-minute replay window, answers url_verification, and emits "
               "Events API callbacks (slack.<event type>), slash commands (slack.command) and "
               "interactions (slack.interaction.<type>).",
    .options = kOptions,
    .create = &make_component<EventsSource>,
    .signer = &kSigner,
};

namespace {
Status sign_request(std::string_view secret, std::string_view, HttpClientRequest& request) {
  const auto first = request.body.find_first_not_of(" \t\r\n");
  const bool json = first != std::string::npos && request.body[first] == '{';
  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::string signature = sign(secret, timestamp, request.body);
  if (signature.empty()) return permanent("OpenSSL could not compute the HMAC-SHA256 signature");
  request.headers.set("Content-Type", json ? "application/json" : "application/x-www-form-urlencoded");
  if (!request.headers.get("User-Agent")) request.headers.set("User-Agent", "Slackbot 1.0 (switchyard send)");
  request.headers.set("X-Slack-Request-Timestamp", timestamp);
  request.headers.set("X-Slack-Signature", signature);
  return {};
}
}  // namespace

std::string sign(std::string_view secret, std::string_view timestamp, std::string_view body) {
  const std::string base = "v0:" + std::string(timestamp) + ":" + std::string(body);
  const auto digest = signing::hmac_sha256(secret, base);
  return digest ? "v0=" + signing::to_hex(*digest) : std::string();
}

std::optional<std::string> refuse(const signing::Keys& keys, std::optional<std::string_view> signature,
                                  std::optional<std::string_view> timestamp, std::string_view body,
                                  std::chrono::system_clock::time_point now, milliseconds max_age) {
  if (!signature || !timestamp) return std::string("missing X-Slack-Signature or X-Slack-Request-Timestamp");
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds);
  if (timestamp->empty() || ec != std::errc() || end != timestamp->data() + timestamp->size()) {
    return std::string("X-Slack-Request-Timestamp is not a number of seconds");
  }
  // A valid signature on an old (or far-future) request is a replay of a captured one.
  const bool stale = !unix_seconds_within(seconds, now, max_age);
  constexpr std::string_view kPrefix = "v0=";
  const auto given = signature->substr(0, kPrefix.size()) == kPrefix
                         ? signing::from_hex(signature->substr(kPrefix.size()))
                         : std::nullopt;
  // "v0:" + timestamp + ":" + body, hashed in parts: an unsigned body is never copied.
  if (!given || !keys.verify({"v0:", *timestamp, ":", body}, *given)) {
    return std::string("X-Slack-Signature does not match the body");
  }
  if (stale) return std::string("X-Slack-Request-Timestamp is more than max_age away: a replay, or a clock off");
  return std::nullopt;
}

Status EventsSource::configure(const Options& options, Context& context) {
  auto p = std::make_shared<EventsProtocol>();
  intake::EndpointOptions endpoint{.path = std::string(options.string("path")),
                                   .max_body = options.size("max_body"),
                                   .redelivery_window = options.duration("dedup_window"),
                                   .redelivery_prefix = "event/"};
  auto secrets = options.strings("secret");
  std::erase_if(secrets, [](const std::string& x) { return x.empty(); });
  if (secrets.empty()) return invalid_config("secret: must not be empty (Slack signs requests with it)");
  p->keys = signing::Keys(secrets);
  if (!p->keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  p->max_age = options.duration("max_age");
  if (p->max_age <= milliseconds(0) || p->max_age > std::chrono::hours(1)) {
    return invalid_config("max_age: must be more than 0 and at most 1h (it is the replay window)");
  }
  p->events = options.strings("events");
  p->command_reply = options.string("command_reply");
  p->reply_within = options.duration("reply_within");
  if (p->reply_within > milliseconds(2900)) {
    return invalid_config("reply_within: at most 2900ms (Slack wants an answer within 3 s)");
  }
  p->logger = &context.logger();
  if (endpoint.path.empty() || endpoint.path.front() != '/') return invalid_config("path: must start with '/'");
  endpoint_.configure(context, std::move(p), std::move(endpoint));
  return {};
}

std::optional<std::string> EventsProtocol::verify(const HttpRequest& request) const {
  return refuse(keys, request.headers.get("X-Slack-Signature"), request.headers.get("X-Slack-Request-Timestamp"),
                request.body, std::chrono::system_clock::now(), max_age);
}

intake::Admission EventsProtocol::admit(const HttpRequest& request) const {
  intake::Admission admission = decode(request);
  if (admission.event) {
    for (const char* header : {"x-slack-retry-num", "x-slack-retry-reason"}) {
      if (auto value = request.headers.get(header)) admission.event->set_meta(header, *value);
    }
  }
  return admission;
}

intake::Admission EventsProtocol::decode(const HttpRequest& request) const {
  using intake::Admission;
  auto event = std::make_unique<Event>();
  const std::string content_type = intake::lower(request.headers.get("Content-Type").value_or(""));
  if (content_type.starts_with("application/x-www-form-urlencoded")) {
    const auto fields = form::decode(request.body);
    if (!fields) return Admission::refuse(400, "form body is not valid x-www-form-urlencoded");
    if (const std::string* payload = form::find(*fields, "payload")) {
      if (!json_limits::parse(event->data, *payload) || !event->data.IsObject()) {
        return Admission::refuse(400, "payload field is not a JSON object");
      }
      return admit_interaction(std::move(event));
    }
    if (!form::find(*fields, "command")) {
      return Admission::refuse(400, "form body is neither a slash command nor an interaction payload");
    }
    auto& a = event->data.GetAllocator();
    event->data.SetObject();
    // The first of a repeated field. A set, not HasMember (a scan each): a signed megabyte
    // of distinct names would cost a scan of them all per field.
    std::unordered_set<std::string_view> seen;
    for (const auto& [name, value] : *fields) {
      if (!seen.insert(name).second) continue;
      event->data.AddMember(rapidjson::Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a),
                            rapidjson::Value(value.data(), static_cast<rapidjson::SizeType>(value.size()), a), a);
    }
    return admit_command(std::move(event));
  }
  if (const auto parsed = json_limits::parse(event->data, request.body); !parsed || !event->data.IsObject()) {
    return Admission::refuse(400, "body is not a JSON object");
  }
  const std::string type = member_string(event->data, "type");
  if (type == "url_verification") {
    // Slack checks the Request URL once by asking for its challenge back.
    const std::string challenge = member_string(event->data, "challenge");
    if (challenge.empty() || challenge.size() > 512) return Admission::refuse(400, "url_verification without a challenge");
    logger->info("answered Slack's url_verification");
    return Admission::respond(HttpResponse::json(200, "{\"challenge\":" + HttpResponse::json_quote(challenge) + "}"));
  }
  if (type != "event_callback") return Admission::respond(intake::status_answer(200, "ignored", type));
  return admit_callback(std::move(event));
}

namespace {

intake::Admission admitted(std::unique_ptr<Event> event, std::string id, std::string type, std::string subject,
                           const std::string& team) {
  if (id.empty() || id.size() > 200) id = make_event_id();
  event->id = std::move(id);
  event->type = std::move(type);
  event->subject = std::move(subject);
  event->source = team_source(team);
  event->time = std::chrono::system_clock::now();
  intake::Admission admission;
  admission.answer = intake::status_answer(200, "accepted", event->id);
  admission.event = std::move(event);
  return admission;
}

}  // namespace

// An Events API callback: slack.<event type>. Slack retries one it got no 200 for within
// 3 s (X-Slack-Retry-Num): one delivered already is answered, not emitted again.
intake::Admission EventsProtocol::admit_callback(std::unique_ptr<Event> event) const {
  const rapidjson::Value& data = event->data;
  const rapidjson::Value* inner = data.HasMember("event") ? &data["event"] : nullptr;
  const std::string event_type = inner ? member_string(*inner, "type") : std::string();
  if (event_type.empty()) return intake::Admission::refuse(400, "event_callback without event.type");
  std::string id = member_string(data, "event_id");
  if (!events.empty() && std::find(events.begin(), events.end(), event_type) == events.end()) {
    return intake::Admission::respond(intake::status_answer(200, "ignored", id));
  }
  const std::string channel = member_string(*inner, "channel");
  const std::string team = member_string(data, "team_id");
  auto admission = admitted(std::move(event), std::move(id), "slack." + event_type, channel, team);
  admission.redelivery = true;
  return admission;
}

// A slash command: slack.command, answered by the pipeline's reply within reply_within, or
// with command_reply.
intake::Admission EventsProtocol::admit_command(std::unique_ptr<Event> event) const {
  const rapidjson::Value& data = event->data;
  std::string id = member_string(data, "trigger_id");
  std::string command = member_string(data, "command");
  const std::string team = member_string(data, "team_id");
  auto admission = admitted(std::move(event), std::move(id), "slack.command", std::move(command), team);
  admission.reply_within = reply_within;
  admission.redelivery = true;  // Slack never repeats a command: a repeat is a replay
  if (command_reply.empty()) {
    admission.answer = HttpResponse();  // 200, no body: Slack shows nothing
  } else {
    admission.answer = HttpResponse::json(
        200, "{\"response_type\":\"ephemeral\",\"text\":" + HttpResponse::json_quote(command_reply) + "}");
  }
  return admission;
}

// A block action, shortcut, view submission...: slack.interaction.<type>.
intake::Admission EventsProtocol::admit_interaction(std::unique_ptr<Event> event) const {
  const rapidjson::Value& data = event->data;
  const std::string interaction = member_string(data, "type");
  if (interaction.empty()) return intake::Admission::refuse(400, "interaction payload without a type");
  std::string id = member_string(data, "trigger_id");
  if (id.empty()) id = member_string(data, "action_ts");
  std::string channel = data.HasMember("channel") ? member_string(data["channel"], "id") : std::string();
  const std::string team = data.HasMember("team") ? member_string(data["team"], "id") : std::string();
  auto admission = admitted(std::move(event), std::move(id), "slack.interaction." + interaction, std::move(channel), team);
  admission.redelivery = true;  // a replayed click or submission runs once
  return admission;
}

}  // namespace switchyard::slack
