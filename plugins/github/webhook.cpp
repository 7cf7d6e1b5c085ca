#include "webhook.hpp"

#include <algorithm>

#include "common/form.hpp"
#include "common/json_limits.hpp"
#include "common/redelivery.hpp"
#include "common/signing.hpp"
#include "github_event.hpp"

namespace switchyard::github {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .default_value = "/github/webhook",
     .description = "Route on the shared listener; the webhook's Payload URL ends with it."},
    {.name = "secret", .type = OptionType::string_list, .required = true,
     .description = "The webhook secret; a list during a rotation (any one may match).",
     .example = "${GITHUB_WEBHOOK_SECRET}", .secret = true},
    {.name = "events", .type = OptionType::string_list, .default_value = "[]",
     .description = "X-GitHub-Event names accepted (e.g. push, workflow_run); empty accepts all. "
                    "Others are answered 200 and not emitted.",
     .example = "[workflow_run, pull_request]"},
    {.name = "actions", .type = OptionType::string_list, .default_value = "[]",
     .description = "Payload actions accepted (e.g. completed, opened); empty accepts all. "
                    "Events without an action always pass.",
     .example = "[completed]"},
    {.name = "headers", .type = OptionType::string_list,
     .default_value = R"(["x-github-event", "x-github-delivery", "x-github-hook-id", )"
                      R"("x-github-hook-installation-target-type", "x-github-hook-installation-target-id", "user-agent"])",
     .description = "Request headers copied into the event's meta (names in lower case)."},
    {.name = "dedup_window", .type = OptionType::duration, .default_value = "72h",
     .description = "How long delivery ids are remembered; a redelivery within it is answered "
                    "200 and not emitted again. 0 turns this off."},
    {.name = "max_body", .type = OptionType::size, .default_value = "25MiB",
     .description = "Largest payload accepted (GitHub caps payloads at 25 MiB); larger gets 413."},
};

std::string lower(std::string_view in) {
  std::string s(in);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool listed(const std::vector<std::string>& list, std::string_view value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

// Decodes application/x-www-form-urlencoded and returns the "payload" field.
std::optional<std::string> form_payload(std::string_view body) {
  const auto fields = form::decode(body);
  if (!fields) return std::nullopt;
  const std::string* payload = form::find(*fields, "payload");
  return payload ? std::optional<std::string>(*payload) : std::nullopt;
}

HttpResponse ok(std::string_view status, std::string_view id) {
  return HttpResponse::json(200, "{\"status\":" + HttpResponse::json_quote(status) +
                                     ",\"id\":" + HttpResponse::json_quote(id) + "}");
}

}  // namespace

const ComponentDecl kWebhookDecl{
    .kind = ComponentKind::source,
    .type = "github.webhook",
    .summary = "Receives GitHub webhooks: verifies X-Hub-Signature-256, answers ping, filters "
               "events and actions, recognises redeliveries, and emits github.<event>[.<action>].",
    .options = kOptions,
    .create = &make_component<WebhookSource>,
};

Status WebhookSource::configure(const Options& options, Context& context) {
  Settings& s = shared_->settings;
  shared_->context = &context;
  shared_->signature_failures = &context.metrics().counter(
      "switchyard_signature_failures_total", "Requests refused because their signature was missing or wrong.");
  s.path = options.string("path");
  auto secrets = options.strings("secret");
  s.events = options.strings("events");
  s.actions = options.strings("actions");
  for (const auto& h : options.strings("headers")) s.headers.push_back(lower(h));
  shared_->redeliveries.configure("delivery/", options.duration("dedup_window"));
  s.max_body = options.size("max_body");
  if (s.path.empty() || s.path.front() != '/') return invalid_config("path: must start with '/'");
  std::erase_if(secrets, [](const std::string& x) { return x.empty(); });
  if (secrets.empty()) {
    return invalid_config("secret: must not be empty (GitHub signs deliveries with it)");
  }
  s.keys = signing::Keys(secrets);
  if (!s.keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  return {};
}

Status WebhookSource::start() {
  shared_->running = endpoint_.gate();
  return endpoint_.open(*shared_->context, "POST", shared_->settings.path, shared_->settings.max_body,
                        [shared = shared_](const HttpRequest& request, HttpReply reply) {
                          handle(shared, request, std::move(reply));
                        });
}

// The route stays until stop(): while draining, deliveries get 503 + Retry-After (GitHub
// shows them as failed and they can be redelivered) instead of 404.
void WebhookSource::drain(std::function<void()> done) {
  endpoint_.drain();
  done();
}

void WebhookSource::stop() { endpoint_.close(); }

void WebhookSource::handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request,
                           HttpReply reply) {
  const Settings& s = shared->settings;
  Context& context = *shared->context;

  // 1. Authenticity first: nothing about an unsigned request is looked at.
  const auto signature = request.headers.get("X-Hub-Signature-256");
  if (!signature || !s.keys.verify(request.body, *signature)) {
    shared->signature_failures->inc();
    shared->refusals.warn(context.logger(), "refused a delivery from " + std::string(request.remote) + ": " +
                                                (signature ? "X-Hub-Signature-256 does not match"
                                                           : "no X-Hub-Signature-256 header"));
    return reply(HttpResponse::error(401, signature ? "X-Hub-Signature-256 does not match the body"
                                                    : "missing X-Hub-Signature-256"));
  }

  const auto event_name = request.headers.get("X-GitHub-Event");
  if (!event_name || event_name->empty()) return reply(HttpResponse::error(400, "missing X-GitHub-Event"));
  const auto delivery = request.headers.get("X-GitHub-Delivery");
  if (!delivery || delivery->empty() || delivery->size() > 128) {
    return reply(HttpResponse::error(400, "missing or invalid X-GitHub-Delivery"));
  }

  auto event = std::make_unique<Event>();
  std::string_view json = request.body;
  std::optional<std::string> decoded;
  const auto content_type = lower(request.headers.get("Content-Type").value_or("application/json"));
  if (content_type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    decoded = form_payload(request.body);
    if (!decoded) return reply(HttpResponse::error(400, "form body has no valid payload field"));
    json = *decoded;
  }
  if (const auto parsed = json_limits::parse(event->data, json); !parsed) {
    if (parsed.outcome == json_limits::Outcome::too_deep) {
      return reply(HttpResponse::error(400, "payload nests deeper than " +
                                                std::to_string(json_limits::kMaxDepth) + " levels"));
    }
    return reply(HttpResponse::error(400, "body is not valid JSON (offset " + std::to_string(parsed.offset) + ")"));
  }
  if (!event->data.IsObject()) return reply(HttpResponse::error(400, "payload must be a JSON object"));

  if (*event_name == "ping") {
    std::string zen;
    if (auto it = event->data.FindMember("zen"); it != event->data.MemberEnd() && it->value.IsString()) {
      zen = it->value.GetString();
    }
    context.logger().info("ping from GitHub (hook " +
                          std::string(request.headers.get("X-GitHub-Hook-ID").value_or("?")) + "): " + zen);
    return reply(HttpResponse::json(200, "{\"status\":\"pong\"}"));
  }
  std::string action;
  if (auto it = event->data.FindMember("action"); it != event->data.MemberEnd() && it->value.IsString()) {
    action.assign(it->value.GetString(), it->value.GetStringLength());
  }
  if (!listed(s.events, *event_name) || (!action.empty() && !listed(s.actions, action))) {
    return reply(ok("ignored", *delivery));
  }

  std::string id(*delivery);
  if (const auto refused = context.emitter().refusal()) {
    return reply(HttpResponse::unavailable(refused->message + "; retry later", retry_after_seconds(*refused, 5)));
  }
  // A delivery seen before (state store: survives restarts) or being emitted right now is
  // a redelivery: answered 200, not emitted again.
  if (!shared->redeliveries.claim(context, id)) return reply(ok("duplicate", id));

  event->id = id;
  event->type = event_type(*event_name, event->data);
  event->source = event_source(event->data);
  event->subject = event_subject(*event_name, event->data);
  event->time = std::chrono::system_clock::now();
  for (const auto& name : s.headers) {
    if (auto value = request.headers.get(name)) event->set_meta(name, *value);
  }
  context.emitter().emit(std::move(event), [shared, reply, id](Status status) {
    // Recorded only while the component runs: a stopped one has no state store to write.
    auto pass = shared->running.enter();
    shared->redeliveries.settle(*shared->context, id, status && pass.has_value());
    if (status) {
      return reply(HttpResponse::json(202, "{\"status\":\"accepted\",\"id\":" + HttpResponse::json_quote(id) + "}"));
    }
    if (status.error().kind == ErrorKind::retryable) {
      return reply(HttpResponse::unavailable(status.error().message, 5));
    }
    reply(HttpResponse::error(500, status.error().message));
  });
}

}  // namespace switchyard::github
