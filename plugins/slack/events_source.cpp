#include "events_source.hpp"

#include <algorithm>
#include <charconv>

#include "common/form.hpp"
#include "common/json_limits.hpp"
#include "common/redelivery.hpp"

namespace switchyard::slack {
namespace {

using std::chrono::milliseconds;

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .default_value = "/slack/events",
     .description = "Route on the shared listener: the app's Request URL for events, slash "
                    "commands and interactivity alike."},
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
     .description = "Text answered at once to a slash command, seen only by its user (Slack "
                    "wants an answer within 3 s); empty answers with nothing. A pipeline can "
                    "post the real answer to the command's response_url."},
    {.name = "dedup_window", .type = OptionType::duration, .default_value = "1h",
     .description = "How long Events API event ids are remembered: Slack's retries of an event "
                    "already accepted are answered 200 and not emitted again. 0 turns this off."},
    {.name = "max_body", .type = OptionType::size, .default_value = "1MiB",
     .description = "Largest request accepted."},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

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

HttpResponse answer(std::string_view status, std::string_view id) {
  return HttpResponse::json(200, "{\"status\":" + HttpResponse::json_quote(status) +
                                     ",\"id\":" + HttpResponse::json_quote(id) + "}");
}

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
};

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
  const auto sent = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  const auto skew = now > sent ? now - sent : sent - now;
  // A valid signature on an old (or far-future) request is a replay of a captured one.
  const bool stale = skew > max_age;
  constexpr std::string_view kPrefix = "v0=";
  const auto given = signature->substr(0, kPrefix.size()) == kPrefix
                         ? signing::from_hex(signature->substr(kPrefix.size()))
                         : std::nullopt;
  const std::string base = "v0:" + std::string(*timestamp) + ":" + std::string(body);
  if (!given || !keys.verify(base, *given)) return std::string("X-Slack-Signature does not match the body");
  if (stale) return std::string("X-Slack-Request-Timestamp is more than max_age away: a replay, or a clock off");
  return std::nullopt;
}

Status EventsSource::configure(const Options& options, Context& context) {
  Settings& s = shared_->settings;
  shared_->context = &context;
  shared_->signature_failures = &context.metrics().counter(
      "switchyard_signature_failures_total", "Requests refused because their signature was missing or wrong.");
  s.path = options.string("path");
  auto secrets = options.strings("secret");
  std::erase_if(secrets, [](const std::string& x) { return x.empty(); });
  if (secrets.empty()) return invalid_config("secret: must not be empty (Slack signs requests with it)");
  s.keys = signing::Keys(secrets);
  if (!s.keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  s.max_age = options.duration("max_age");
  if (s.max_age <= milliseconds(0) || s.max_age > std::chrono::hours(1)) {
    return invalid_config("max_age: must be more than 0 and at most 1h (it is the replay window)");
  }
  s.events = options.strings("events");
  s.command_reply = options.string("command_reply");
  shared_->redeliveries.configure("event/", options.duration("dedup_window"));
  s.max_body = options.size("max_body");
  if (s.path.empty() || s.path.front() != '/') return invalid_config("path: must start with '/'");
  return {};
}

Status EventsSource::start() {
  shared_->running = endpoint_.gate();
  return endpoint_.open(*shared_->context, "POST", shared_->settings.path, shared_->settings.max_body,
                        [shared = shared_](const HttpRequest& request, HttpReply reply) {
                          handle(shared, request, std::move(reply));
                        });
}

void EventsSource::drain(std::function<void()> done) {
  endpoint_.drain();
  done();
}

void EventsSource::stop() { endpoint_.close(); }

void EventsSource::handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request, HttpReply reply) {
  const Settings& s = shared->settings;
  Context& context = *shared->context;

  // 1. Authenticity and freshness first: nothing about an unsigned request is looked at.
  if (auto why = refuse(s.keys, request.headers.get("X-Slack-Signature"),
                        request.headers.get("X-Slack-Request-Timestamp"), request.body,
                        std::chrono::system_clock::now(), s.max_age)) {
    shared->signature_failures->inc();
    shared->refusals.warn(context.logger(), "refused a request from " + std::string(request.remote) + ": " + *why);
    return reply(HttpResponse::error(401, *why));
  }

  // 2. What Slack sent: JSON (Events API) or a form (slash command, or interactivity with
  // its JSON in a payload field).
  auto event = std::make_unique<Event>();
  const std::string content_type = lower(request.headers.get("Content-Type").value_or(""));
  std::string kind;  // "callback", "command" or "interaction"
  if (content_type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    const auto fields = form::decode(request.body);
    if (!fields) return reply(HttpResponse::error(400, "form body is not valid x-www-form-urlencoded"));
    if (const std::string* payload = form::find(*fields, "payload")) {
      if (!json_limits::parse(event->data, *payload) || !event->data.IsObject()) {
        return reply(HttpResponse::error(400, "payload field is not a JSON object"));
      }
      kind = "interaction";
    } else if (form::find(*fields, "command")) {
      auto& a = event->data.GetAllocator();
      event->data.SetObject();
      for (const auto& [name, value] : *fields) {
        if (event->data.HasMember(name.c_str())) continue;  // the first of a repeated field
        event->data.AddMember(rapidjson::Value(name.c_str(), a), rapidjson::Value(value.c_str(), a), a);
      }
      kind = "command";
    } else {
      return reply(HttpResponse::error(400, "form body is neither a slash command nor an interaction payload"));
    }
  } else {
    if (const auto parsed = json_limits::parse(event->data, request.body); !parsed || !event->data.IsObject()) {
      return reply(HttpResponse::error(400, "body is not a JSON object"));
    }
    const std::string type = member_string(event->data, "type");
    if (type == "url_verification") {
      // Slack checks the Request URL once by asking for its challenge back.
      const std::string challenge = member_string(event->data, "challenge");
      if (challenge.empty() || challenge.size() > 512) return reply(HttpResponse::error(400, "url_verification without a challenge"));
      context.logger().info("answered Slack's url_verification");
      return reply(HttpResponse::json(200, "{\"challenge\":" + HttpResponse::json_quote(challenge) + "}"));
    }
    if (type != "event_callback") return reply(answer("ignored", type));
    kind = "callback";
  }

  // 3. The envelope.
  const rapidjson::Value& data = event->data;
  std::string id, type, subject, team;
  if (kind == "callback") {
    const rapidjson::Value* inner = data.HasMember("event") ? &data["event"] : nullptr;
    const std::string event_type = inner ? member_string(*inner, "type") : std::string();
    if (event_type.empty()) return reply(HttpResponse::error(400, "event_callback without event.type"));
    if (!s.events.empty() && std::find(s.events.begin(), s.events.end(), event_type) == s.events.end()) {
      return reply(answer("ignored", member_string(data, "event_id")));
    }
    id = member_string(data, "event_id");
    type = "slack." + event_type;
    subject = member_string(*inner, "channel");
    team = member_string(data, "team_id");
  } else if (kind == "command") {
    id = member_string(data, "trigger_id");
    type = "slack.command";
    subject = member_string(data, "command");
    team = member_string(data, "team_id");
  } else {
    const std::string interaction = member_string(data, "type");
    if (interaction.empty()) return reply(HttpResponse::error(400, "interaction payload without a type"));
    id = member_string(data, "trigger_id");
    if (id.empty()) id = member_string(data, "action_ts");
    type = "slack.interaction." + interaction;
    subject = data.HasMember("channel") ? member_string(data["channel"], "id") : std::string();
    team = data.HasMember("team") ? member_string(data["team"], "id") : std::string();
  }
  if (id.empty() || id.size() > 200) id = make_event_id();

  if (const auto refused = context.emitter().refusal()) {
    return reply(HttpResponse::unavailable(refused->message + "; retry later", retry_after_seconds(*refused, 5)));
  }
  // Slack retries an event it got no 200 for within 3 s (X-Slack-Retry-Num): one it has
  // delivered already is answered, not emitted again.
  if (kind == "callback" && !shared->redeliveries.claim(context, id)) return reply(answer("duplicate", id));
  event->id = id;
  event->type = type;
  event->subject = subject;
  event->source = team_source(team);
  event->time = std::chrono::system_clock::now();
  for (const char* header : {"x-slack-retry-num", "x-slack-retry-reason"}) {
    if (auto value = request.headers.get(header)) event->set_meta(header, *value);
  }
  const bool command = kind == "command";
  const bool callback = kind == "callback";
  context.emitter().emit(std::move(event), [shared, reply, id, callback, command](Status status) {
    if (callback) {
      auto pass = shared->running.enter();  // recorded only while the component runs
      shared->redeliveries.settle(*shared->context, id, status && pass.has_value());
    }
    if (!status) {
      // Slack shows the user an error for a command; events are retried by Slack.
      if (status.error().kind == ErrorKind::retryable) return reply(HttpResponse::unavailable(status.error().message, 5));
      return reply(HttpResponse::error(500, status.error().message));
    }
    if (command) {
      const std::string& text = shared->settings.command_reply;
      if (text.empty()) {
        HttpResponse empty;
        empty.status = 200;
        return reply(std::move(empty));
      }
      return reply(HttpResponse::json(200, "{\"response_type\":\"ephemeral\",\"text\":" + HttpResponse::json_quote(text) + "}"));
    }
    reply(answer("accepted", id));
  });
}

}  // namespace switchyard::slack
