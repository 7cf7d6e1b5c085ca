#include "webhook.hpp"

#include <algorithm>

#include "common/form.hpp"
#include "common/json_limits.hpp"
#include "common/signing.hpp"
#include "github_event.hpp"

namespace switchyard::github {
namespace {

constexpr const char* kAcknowledge[] = {"accepted", "delivered"};

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .default_value = "/github/webhook",
     .description = "Route on the shared listener; the webhook's Payload URL ends with it.", .route = true},
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
    {.name = "acknowledge", .type = OptionType::string, .default_value = "accepted",
     .description = "When GitHub hears 202: `accepted`, once the event is in the pipeline (in the "
                    "journal of a durable one); `delivered`, once every sink has delivered or "
                    "dead-lettered it (the event skips the journal: GitHub keeps it, and redelivers "
                    "what was answered 503). For an ingest engine in front of a `nats` sink: "
                    "GitHub hears 202 after JetStream's ack. Delivery must fit GitHub's 10 s.",
     .example = "delivered", .choices = kAcknowledge},
};

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

// How GitHub signs a delivery: X-Hub-Signature-256 over the body, with the event's name and
// a delivery id (kept when the caller gave one).
Status sign_delivery(std::string_view secret, std::string_view event, HttpClientRequest& request) {
  if (event.empty()) return invalid_config("the event name (X-GitHub-Event: push, workflow_run, ...) is missing");
  const std::string signature = signing::sign(secret, request.body);
  if (signature.empty()) return permanent("OpenSSL could not compute the HMAC-SHA256 signature");
  request.headers.set("Content-Type", "application/json");
  if (!request.headers.get("User-Agent")) request.headers.set("User-Agent", "GitHub-Hookshot/switchyard-send");
  request.headers.set("X-GitHub-Event", std::string(event));
  if (!request.headers.get("X-GitHub-Delivery")) request.headers.set("X-GitHub-Delivery", make_event_id());
  request.headers.set("X-Hub-Signature-256", signature);
  return {};
}

constexpr RequestSigner kSigner{.service = "github",
                                .default_path = "/github/webhook",
                                .secret_variable = "GITHUB_WEBHOOK_SECRET",
                                .argument = "event",
                                .sign = &sign_delivery};

}  // namespace

const ComponentDecl kWebhookDecl{
    .kind = ComponentKind::source,
    .type = "github.webhook",
    .summary = "Receives GitHub webhooks: verifies X-Hub-Signature-256, answers ping, filters "
               "events and actions, recognises redeliveries, and emits github.<event>[.<action>].",
    .options = kOptions,
    .create = &make_component<WebhookSource>,
    .signer = &kSigner,
};

// The secret the shipped pipelines use while GITHUB_WEBHOOK_SECRET is unset: public.
constexpr const char* kDevelopmentSecret = "switchyard-dev-secret";

Status WebhookSource::configure(const Options& options, Context& context) {
  auto protocol = std::make_shared<WebhookProtocol>();
  protocol->events = options.strings("events");
  protocol->actions = options.strings("actions");
  for (const auto& h : options.strings("headers")) protocol->headers.push_back(intake::lower(h));
  protocol->logger = &context.logger();
  // The payload's tree is built here, with simdjson, when the pipeline reads payloads;
  // otherwise the body is kept as it came and no tree is built at all.
  protocol->tree = context.emitter().payload_read() ? json_limits::Tree::always : json_limits::Tree::if_needed;
  intake::EndpointOptions endpoint{.path = std::string(options.string("path")),
                                   .max_body = options.size("max_body"),
                                   .redelivery_window = options.duration("dedup_window"),
                                   .redelivery_prefix = "delivery/",
                                   .answer_after_delivery = options.string("acknowledge") == "delivered"};
  if (endpoint.path.empty() || endpoint.path.front() != '/') return invalid_config("path: must start with '/'");
  auto secrets = options.strings("secret");
  std::erase_if(secrets, [](const std::string& x) { return x.empty(); });
  if (secrets.empty()) return invalid_config("secret: must not be empty (GitHub signs deliveries with it)");
  if (std::find(secrets.begin(), secrets.end(), kDevelopmentSecret) != secrets.end()) {
    // The shipped pipelines fall back to it while GITHUB_WEBHOOK_SECRET is unset.
    context.logger().warn(std::string("secret is the published development secret (") + kDevelopmentSecret +
                          "): anyone can sign webhooks this source accepts; set GITHUB_WEBHOOK_SECRET "
                          "before this listener is reachable from another host");
  }
  protocol->keys = signing::Keys(secrets);
  if (!protocol->keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  endpoint_.configure(context, std::move(protocol), std::move(endpoint));
  return {};
}

std::optional<std::string> WebhookProtocol::verify(const HttpRequest& request) const {
  const auto signature = request.headers.get("X-Hub-Signature-256");
  if (!signature) return std::string("missing X-Hub-Signature-256");
  if (!keys.verify(request.body, *signature)) return std::string("X-Hub-Signature-256 does not match the body");
  return std::nullopt;
}

intake::Admission WebhookProtocol::admit(const HttpRequest& request) const {
  using intake::Admission;
  // The signature covers the body only: the headers are held to what GitHub sends. An event
  // name is lower case ("workflow_run"), a delivery id a GUID: anything else would go into
  // the event's type and id, and on into every sink's output.
  const auto event_name = request.headers.get("X-GitHub-Event");
  if (!event_name || event_name->empty()) return Admission::refuse(400, "missing X-GitHub-Event");
  if (event_name->size() > 64 || !std::all_of(event_name->begin(), event_name->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    return Admission::refuse(400, "invalid X-GitHub-Event (GitHub's are lower case letters, digits and '_')");
  }
  const auto delivery = request.headers.get("X-GitHub-Delivery");
  if (!delivery || delivery->empty() || delivery->size() > 128 ||
      !intake::printable_ascii(*delivery)) {
    return Admission::refuse(400, "missing or invalid X-GitHub-Delivery");
  }

  auto event = std::make_unique<Event>();
  std::string_view json = request.body;
  std::optional<std::string> decoded;
  constexpr std::string_view kForm = "application/x-www-form-urlencoded";
  const auto content_type = request.headers.get("Content-Type").value_or("application/json");
  if (content_type.size() >= kForm.size() && iequals(content_type.substr(0, kForm.size()), kForm)) {
    decoded = form_payload(request.body);
    if (!decoded) return Admission::refuse(400, "form body has no valid payload field");
    json = *decoded;
  }
  // Checked, not parsed: the event keeps the body as its payload and the engine builds the
  // tree only if something in the pipeline reads it (Event::payload_deferred).
  const auto checked = json_limits::check(event->data, json, tree);
  if (!checked) {
    if (checked.error().outcome == json_limits::Outcome::too_deep) {
      return Admission::refuse(400, "payload nests deeper than " + std::to_string(json_limits::kMaxDepth) + " levels");
    }
    if (checked.error().outcome == json_limits::Outcome::duplicate_key) {
      return Admission::refuse(400, "payload names the key '" + checked.error().key + "' twice in one object");
    }
    return Admission::refuse(400, "body is not valid JSON (offset " + std::to_string(checked.error().offset) + ")");
  }
  const json_limits::PayloadFields& payload = *checked;
  if (!payload.is_object()) return Admission::refuse(400, "payload must be a JSON object");

  const std::string id(*delivery);
  if (*event_name == "ping") {
    logger->info("ping from GitHub (hook " + std::string(request.headers.get("X-GitHub-Hook-ID").value_or("?")) +
                 "): " + payload.string({"zen"}));
    return Admission::respond(HttpResponse::json(200, "{\"status\":\"pong\"}"));
  }
  const std::string action = payload.string({"action"});
  if (!listed(events, *event_name) || (!action.empty() && !listed(actions, action))) {
    return Admission::respond(intake::status_answer(200, "ignored", id));
  }

  event->id = id;
  event->type = event_type(*event_name, payload);
  event->source = event_source(payload);
  event->subject = event_subject(*event_name, payload);
  event->set_raw_data(json);  // the payload: the journal and sinks write it as it came
  event->time = std::chrono::system_clock::now();
  if (auto refusal = intake::copy_headers(request, headers, *event)) return Admission::respond(std::move(*refusal));
  Admission admission;
  admission.event = std::move(event);
  admission.answer = intake::status_answer(202, "accepted", id);
  admission.redelivery = true;
  return admission;
}

}  // namespace switchyard::github
