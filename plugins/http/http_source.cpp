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
     .description = "Route on the shared listener (http.listen).", .example = "/hooks/deploy", .route = true},
    {.name = "method", .type = OptionType::string, .default_value = "POST",
     .description = "HTTP method accepted.", .choices = kMethods},
    {.name = "event_type", .type = OptionType::string, .default_value = "http.request",
     .description = "CloudEvents type of the events."},
    {.name = "event_source", .type = OptionType::string,
     .description = "CloudEvents source; default: switchyard://http<path>."},
    {.name = "headers", .type = OptionType::string_list, .default_value = R"(["content-type", "user-agent"])",
     .description = "Request headers copied into the event's meta (names in lower case)."},
    {.name = "id_header", .type = OptionType::string,
     .description = "Header whose value becomes the event id (a UUIDv7 when absent, empty, over "
                    "256 bytes or not printable ASCII).",
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
    {.name = "reply_within", .type = OptionType::duration, .default_value = "0s",
     .description = "How long a request waits for the pipeline's answer from a `reply` sink "
                    "(status, headers and body as the sink renders them), making the pipeline a "
                    "synchronous API; without an answer by then (or with 0) it gets 202 "
                    "{\"id\": ...} once the event is accepted, and so it does as soon as the "
                    "pipeline is through with the event unanswered (filtered out, taken by no "
                    "sink, or every sink done without replying). At most 60s."},
};

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
  auto p = std::make_shared<HttpProtocol>();
  intake::EndpointOptions endpoint{.method = std::string(options.string("method")),
                                   .path = std::string(options.string("path")),
                                   .max_body = options.size("max_body")};
  p->event_type = options.string("event_type");
  p->event_source = options.has("event_source") ? std::string(options.string("event_source"))
                                                : "switchyard://http" + endpoint.path;
  for (auto& h : options.strings("headers")) p->headers.push_back(intake::lower(h));
  p->id_header = options.string("id_header");
  p->signature_header = options.string("signature_header");
  p->secrets = options.strings("secret");
  p->reply_within = options.duration("reply_within");
  p->tree = context.emitter().payload_read() ? json_limits::Tree::always : json_limits::Tree::if_needed;
  const std::string_view auth = options.string("auth");
  p->auth = auth == "token" ? HttpProtocol::Auth::token
            : auth == "hmac-sha256" ? HttpProtocol::Auth::hmac
                                    : HttpProtocol::Auth::none;
  if (endpoint.path.empty() || endpoint.path.front() != '/') return invalid_config("path: must start with '/'");
  if (std::any_of(p->secrets.begin(), p->secrets.end(), [](const std::string& x) { return x.empty(); })) {
    return invalid_config("secret: must not be empty (anyone could sign or present an empty secret)");
  }
  if (p->auth != HttpProtocol::Auth::none && p->secrets.empty()) {
    return invalid_config("secret: required when auth is " + std::string(auth));
  }
  if (p->auth == HttpProtocol::Auth::none && !p->secrets.empty()) {
    return invalid_config("auth: set to token or hmac-sha256 when a secret is given");
  }
  if (p->auth == HttpProtocol::Auth::hmac) {
    p->keys = signing::Keys(p->secrets);
    if (!p->keys.ok()) return invalid_config("secret: OpenSSL could not prepare an HMAC-SHA256 key");
  }
  if (p->reply_within > std::chrono::minutes(1)) return invalid_config("reply_within: at most 60s");
  endpoint_.configure(context, std::move(p), std::move(endpoint));
  return {};
}

std::optional<std::string> HttpProtocol::verify(const HttpRequest& request) const {
  switch (auth) {
    case Auth::none:
      return std::nullopt;
    case Auth::token:
      if (!token_matches(secrets, request.headers.get("Authorization").value_or(""))) {
        return std::string("missing or wrong bearer token");
      }
      return std::nullopt;
    case Auth::hmac: {
      const auto header = request.headers.get(signature_header);
      if (!header) return "missing " + signature_header;
      if (!keys.verify(request.body, *header)) return signature_header + " does not match the body";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

intake::Admission HttpProtocol::admit(const HttpRequest& request) const {
  auto event = std::make_unique<Event>();
  // Parsed when the pipeline reads payloads; otherwise checked only, the body kept as the
  // payload (Event::payload_deferred).
  const auto checked = json_limits::check(event->data, request.body, tree);
  const auto outcome = checked ? json_limits::Outcome::ok : checked.error().outcome;
  if (outcome == json_limits::Outcome::too_deep) {
    return intake::Admission::refuse(400, "body nests deeper than " + std::to_string(json_limits::kMaxDepth) + " levels");
  }
  if (outcome == json_limits::Outcome::duplicate_key) {
    return intake::Admission::refuse(400, "body names the key '" + checked.error().key + "' twice in one object");
  }
  if (!checked || request.body.empty()) {
    // Events carry text: bytes that are not UTF-8 would make every JSON line, CloudEvent and
    // WebSocket frame written from the event invalid (a browser drops such a connection).
    if (const auto bad = json_limits::first_invalid_utf8(request.body); bad != std::string_view::npos) {
      return intake::Admission::refuse(400, "body is neither JSON nor UTF-8 text (byte " + std::to_string(bad) + ")");
    }
    event->data.SetString(request.body.data(), static_cast<rapidjson::SizeType>(request.body.size()),
                          event->allocator());
  } else {
    event->set_raw_data(request.body);  // the journal and sinks write it as it came
  }
  const auto id = id_header.empty() ? std::nullopt : request.headers.get(id_header);
  const bool usable = id && !id->empty() && id->size() <= 256 &&
                      intake::printable_ascii(*id);
  event->id = usable ? std::string(*id) : make_event_id();
  event->type = event_type;
  event->source = event_source;
  event->time = std::chrono::system_clock::now();
  if (auto refusal = intake::copy_headers(request, headers, *event)) return intake::Admission::respond(std::move(*refusal));
  intake::Admission admission;
  admission.answer = HttpResponse::json(202, "{\"id\":" + HttpResponse::json_quote(event->id) + "}");
  admission.event = std::move(event);
  admission.reply_within = reply_within;
  return admission;
}

}  // namespace switchyard::http_plugin
