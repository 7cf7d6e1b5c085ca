#include "http_source.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/json_limits.hpp"
#include "common/signing.hpp"

namespace switchyard::http_plugin {
namespace {

constexpr const char* kMethods[] = {"POST", "PUT", "PATCH"};
constexpr const char* kAuth[] = {"none", "token", "hmac-sha256"};

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .required = true,
     .description = "Route on the shared listener (http.listen).", .example = "/hooks/deploy"},
    {.name = "method", .type = OptionType::string, .default_value = "POST",
     .description = "HTTP method accepted.", .choices = kMethods},
    {.name = "event_type", .type = OptionType::string, .default_value = "http.request",
     .description = "CloudEvents type of the events."},
    {.name = "event_source", .type = OptionType::string,
     .description = "CloudEvents source; default: switchyard://http<path>."},
    {.name = "headers", .type = OptionType::string_list, .default_value = R"(["content-type", "user-agent"])",
     .description = "Request headers copied into the event's meta (names in lower case)."},
    {.name = "id_header", .type = OptionType::string,
     .description = "Header whose value becomes the event id (a UUIDv7 when absent or empty).",
     .example = "X-Request-Id"},
    {.name = "auth", .type = OptionType::string, .default_value = "none",
     .description = "none; token: 'Authorization: Bearer <secret>'; hmac-sha256: "
                    "signature_header carries sha256=<hex HMAC of the raw body>.",
     .choices = kAuth},
    {.name = "secret", .type = OptionType::string_list,
     .description = "Shared secret(s) for auth; several during a rotation.", .secret = true},
    {.name = "signature_header", .type = OptionType::string, .default_value = "X-Signature-256",
     .description = "Header carrying the HMAC signature when auth is hmac-sha256."},
    {.name = "max_body", .type = OptionType::size, .default_value = "0",
     .description = "Largest body accepted; 0 uses http.max_body."},
};

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool token_matches(const std::vector<std::string>& secrets, std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() < kBearer.size() || !iequals(header.substr(0, kBearer.size()), kBearer)) return false;
  const std::string_view given = header.substr(kBearer.size());
  bool match = false;
  for (const auto& secret : secrets) {
    // Compare digests, so neither the length nor the content leaks through timing. Should
    // OpenSSL fail, nothing matches.
    const auto a = signing::hmac_sha256("token", secret);
    const auto b = signing::hmac_sha256("token", given);
    match |= a && b && CRYPTO_memcmp(a->data(), b->data(), a->size()) == 0;
  }
  return match;
}

}  // namespace

const ComponentDecl kHttpSourceDecl{
    .kind = ComponentKind::source,
    .type = "http",
    .summary = "Turns requests on a path of the shared listener into events (JSON body as "
               "data, else the body as a string), optionally authenticated.",
    .options = kOptions,
    .create = &make_component<HttpSource>,
};

Status HttpSource::configure(const Options& options, Context& context) {
  Settings& s = shared_->settings;
  shared_->context = &context;
  shared_->auth_failures = &context.metrics().counter(
      "switchyard_signature_failures_total", "Requests refused because their signature was missing or wrong.");
  s.path = options.string("path");
  s.method = options.string("method");
  s.event_type = options.string("event_type");
  s.event_source = options.has("event_source") ? std::string(options.string("event_source"))
                                               : "switchyard://http" + s.path;
  for (auto& h : options.strings("headers")) s.headers.push_back(lower(h));
  s.id_header = options.string("id_header");
  s.signature_header = options.string("signature_header");
  s.secrets = options.strings("secret");
  s.max_body = options.size("max_body");
  const std::string_view auth = options.string("auth");
  s.auth = auth == "token" ? Auth::token : auth == "hmac-sha256" ? Auth::hmac : Auth::none;
  if (s.path.empty() || s.path.front() != '/') return invalid_config("path: must start with '/'");
  if (std::any_of(s.secrets.begin(), s.secrets.end(), [](const std::string& x) { return x.empty(); })) {
    return invalid_config("secret: must not be empty (anyone could sign or present an empty secret)");
  }
  if (s.auth != Auth::none && s.secrets.empty()) {
    return invalid_config("secret: required when auth is " + std::string(auth));
  }
  if (s.auth == Auth::none && !s.secrets.empty()) {
    return invalid_config("auth: set to token or hmac-sha256 when a secret is given");
  }
  if (s.auth == Auth::hmac) {
    s.keys = signing::Keys(s.secrets);
    if (!s.keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  }
  return {};
}

Status HttpSource::start() {
  const Settings& s = shared_->settings;
  return endpoint_.open(*shared_->context, s.method, s.path, s.max_body,
                        [shared = shared_](const HttpRequest& request, HttpReply reply) {
                          handle(shared, request, std::move(reply));
                        });
}

void HttpSource::drain(std::function<void()> done) {
  endpoint_.drain();
  done();
}

void HttpSource::stop() { endpoint_.close(); }

void HttpSource::handle(const std::shared_ptr<Shared>& shared, const HttpRequest& request,
                        HttpReply reply) {
  const Settings& s = shared->settings;
  Context& context = *shared->context;

  if (s.auth == Auth::token) {
    if (!token_matches(s.secrets, request.headers.get("Authorization").value_or(""))) {
      shared->auth_failures->inc();
      return reply(HttpResponse::error(401, "missing or wrong bearer token"));
    }
  } else if (s.auth == Auth::hmac) {
    const auto header = request.headers.get(s.signature_header);
    if (!header) {
      shared->auth_failures->inc();
      return reply(HttpResponse::error(401, "missing " + s.signature_header));
    }
    if (!s.keys.verify(request.body, *header)) {
      shared->auth_failures->inc();
      return reply(HttpResponse::error(401, s.signature_header + " does not match the body"));
    }
  }
  if (const auto refused = context.emitter().refusal()) {
    return reply(HttpResponse::unavailable(refused->message + "; retry later", retry_after_seconds(*refused, 1)));
  }

  auto event = std::make_unique<Event>();
  const auto parsed = json_limits::parse(event->data, request.body);
  if (parsed.outcome == json_limits::Outcome::too_deep) {
    return reply(HttpResponse::error(400, "body nests deeper than " +
                                              std::to_string(json_limits::kMaxDepth) + " levels"));
  }
  if (!parsed || request.body.empty()) {
    event->data.SetString(request.body.data(), static_cast<rapidjson::SizeType>(request.body.size()),
                          event->allocator());
  }
  const auto id = s.id_header.empty() ? std::nullopt : request.headers.get(s.id_header);
  event->id = id && !id->empty() && id->size() <= 256 ? std::string(*id) : make_event_id();
  event->type = s.event_type;
  event->source = s.event_source;
  event->time = std::chrono::system_clock::now();
  for (const auto& name : s.headers) {
    if (auto value = request.headers.get(name)) event->set_meta(name, *value);
  }
  std::string id_copy = event->id;
  context.emitter().emit(std::move(event), [reply, id_copy](Status status) {
    if (status) return reply(HttpResponse::json(202, "{\"id\":" + HttpResponse::json_quote(id_copy) + "}"));
    if (status.error().kind == ErrorKind::retryable) {
      return reply(HttpResponse::unavailable(status.error().message, 1));
    }
    reply(HttpResponse::error(500, status.error().message));
  });
}

}  // namespace switchyard::http_plugin
