// The websocket sink's options, declared once, and how they are checked and read.
#include <openssl/sha.h>

#include <algorithm>

#include "protocol.hpp"
#include "websocket_sink.hpp"

namespace switchyard::websocket {
namespace {

constexpr const char* kAuthModes[] = {"none", "token", "jwt"};

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .required = true,
     .description = "Route of the WebSocket endpoint on the shared listener (http.listen; wss:// "
                    "when it has TLS).",
     .example = "/live", .route = true},
    {.name = "room", .type = OptionType::json_template, .required = true,
     .description = "The room(s) of an event: a string, or a list (or a template yielding one) to "
                    "publish the event in several rooms. Numbers become strings; an empty result "
                    "publishes the event nowhere. Rooms are 1 to 256 bytes.",
     .example = "${{ payload.repository.full_name }}"},
    {.name = "data", .type = OptionType::json_template,
     .description = "What clients get as the event's data instead of the whole payload (a smaller, "
                    "dashboard-shaped document). The envelope (id, source, type, subject, time) stays.",
     .example = "{run: \"${{ payload.workflow_run.id }}\", status: \"${{ payload.workflow_run.status }}\"}"},
    {.name = "replay", .type = OptionType::duration, .default_value = "30m",
     .description = "How long events are kept per room for clients that subscribe or come back "
                    "(resume with `after`). 0 keeps nothing: live events only."},
    {.name = "replay_max", .type = OptionType::integer, .default_value = "1000",
     .description = "Most events kept per room (the oldest go first)."},
    {.name = "replay_bytes", .type = OptionType::size, .default_value = "64MiB",
     .description = "Memory for kept events across all rooms; past it the oldest events go, whatever "
                    "their room. Kept events are also in the state store (journal), which holds "
                    "its own copy in memory: count this twice."},
    {.name = "ping_interval", .type = OptionType::duration, .default_value = "30s",
     .description = "How often each client is pinged (WebSocket ping frames, which browsers answer "
                    "by themselves). 0: never."},
    {.name = "pong_timeout", .type = OptionType::duration, .default_value = "10s",
     .description = "How long a client has to answer a ping before it is dropped."},
    {.name = "auth", .type = OptionType::string, .default_value = "none",
     .description = "none: anyone who reaches the listener may read every room. token: a bearer "
                    "token from `tokens`. jwt: an HS256 JSON Web Token signed with jwt_secret (exp "
                    "and nbf checked; its `rooms` claim, glob patterns, limits the rooms; its `sub` "
                    "names the client). The token comes in 'Authorization: Bearer ...' or, from "
                    "browsers, as the subprotocol 'bearer.<token>' offered with 'switchyard.v1'.",
     .choices = kAuthModes},
    {.name = "tokens", .type = OptionType::string_list,
     .description = "Accepted tokens for auth: token (several during a rotation): at least 16 "
                    "characters that may appear in an HTTP token (letters, digits, -._~+!#$%&'*^|), "
                    "so that a browser can send them as a subprotocol.",
     .example = "[\"${DASHBOARD_TOKEN}\"]", .secret = true},
    {.name = "jwt_secret", .type = OptionType::string,
     .description = "HMAC key for auth: jwt, at least 32 bytes (RFC 7518 3.2).",
     .example = "${DASHBOARD_JWT_SECRET}", .secret = true},
    {.name = "jwt_audience", .type = OptionType::string,
     .description = "For auth: jwt: the audience tokens must name in their `aud` claim (a string or "
                    "a list); empty: not checked. Set it when your login service signs tokens for "
                    "other services with the same key.",
     .example = "teampulse-dashboard"},
    {.name = "jwt_issuer", .type = OptionType::string,
     .description = "For auth: jwt: the `iss` claim tokens must carry; empty: not checked.",
     .example = "https://login.example.com"},
    {.name = "jwt_require_exp", .type = OptionType::boolean, .default_value = "true",
     .description = "For auth: jwt: refuse tokens without an `exp` claim (they would never expire). "
                    "A connection is closed (1008, \"token expired\") when its token expires; the "
                    "client reconnects with a fresh one and resumes with `after`."},
    {.name = "origins", .type = OptionType::string_list,
     .description = "Pages allowed to connect: the Origin a browser sends (scheme://host[:port]), "
                    "checked on the upgrade (403 otherwise). Empty: any. Requests without Origin "
                    "(not from a browser) are not affected.",
     .example = "[\"https://dashboard.example.com\"]"},
    {.name = "max_connections", .type = OptionType::integer, .default_value = "10000",
     .description = "Most connections open to this sink (503 past it). The listener's own "
                    "http.max_connections counts them too."},
    {.name = "max_connections_per_client", .type = OptionType::integer, .default_value = "10",
     .description = "Most connections of one client: the JWT's subject (sub), else the IP address "
                    "(429 past it). Behind a proxy every client has the proxy's address."},
    {.name = "max_rooms_per_connection", .type = OptionType::integer, .default_value = "50",
     .description = "Most rooms one connection may subscribe to at once."},
    {.name = "max_message", .type = OptionType::size, .default_value = "4KiB",
     .description = "Largest message a client may send; a larger one closes it (1009)."},
    {.name = "send_queue", .type = OptionType::size, .default_value = "1MiB",
     .description = "Bytes queued for one client before it is closed with 1013 (it reads too "
                    "slowly); it never holds up other clients or the pipeline. An event larger "
                    "than this is refused (dead-lettered)."},
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "; ") + item;
  return out;
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "https://dash.example.com" or "http://127.0.0.1:8080": a scheme, "://", a host, no path.
bool is_origin(std::string_view origin) {
  const auto sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  const std::string_view host = origin.substr(sep + 3);
  return !host.empty() && host.find('/') == std::string_view::npos && host.find(' ') == std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

}  // namespace

const ComponentDecl kWebSocketSinkDecl{
    .kind = ComponentKind::sink,
    .type = "websocket",
    .summary = "Live feed for dashboards: a WebSocket endpoint on the shared listener where clients "
               "subscribe to rooms (a template, e.g. the repository); each event is numbered per "
               "room, kept for replay and pushed to subscribers; clients resume after a reconnect "
               "with no gap or duplicate. Heartbeat, token/JWT auth, origin allow-list, connection "
               "limits; a slow client is closed (1013), never waited for.",
    .options = kOptions,
    .create = &make_component<WebSocketSink>,
};

Status WebSocketSink::configure(const Options& options, Context& context) {
  context_ = &context;
  std::vector<std::string> errors;

  path_ = std::string(options.string("path"));
  room_ = options.template_of("room");
  if (room_ == nullptr) errors.push_back("room: template was not compiled");
  data_ = options.template_of("data");
  if (options.has("data") && data_ == nullptr) errors.push_back("data: template was not compiled");

  replay_.window = options.duration("replay");
  if (replay_.window.count() < 0) errors.push_back("replay: must not be negative");
  const std::int64_t replay_max = options.integer("replay_max", 1000);
  if (replay_max < 0 || replay_max > 1'000'000) errors.push_back("replay_max: expected 0 to 1000000");
  replay_.per_room = static_cast<std::size_t>(std::clamp<std::int64_t>(replay_max, 0, 1'000'000));
  replay_.total_bytes = options.size("replay_bytes");

  socket_.ping_interval = options.duration("ping_interval");
  socket_.pong_timeout = options.duration("pong_timeout");
  if (socket_.ping_interval.count() != 0 && socket_.ping_interval < std::chrono::milliseconds(100)) {
    errors.push_back("ping_interval: 0 (off) or at least 100ms");
  }
  if (socket_.pong_timeout < std::chrono::milliseconds(100)) errors.push_back("pong_timeout: at least 100ms");
  socket_.max_message = options.size("max_message");
  if (socket_.max_message < 64) errors.push_back("max_message: at least 64 bytes");
  socket_.send_queue = options.size("send_queue");
  if (socket_.send_queue < 4096) errors.push_back("send_queue: at least 4KiB");
  replay_.send_queue = socket_.send_queue;

  const std::string_view auth = options.string("auth");
  access_.auth = auth == "token" ? Auth::token : auth == "jwt" ? Auth::jwt : Auth::none;
  const auto tokens = options.strings("tokens");
  if (access_.auth == Auth::token && tokens.empty()) errors.push_back("tokens: auth: token needs at least one");
  if (access_.auth != Auth::token && !tokens.empty()) errors.push_back("tokens: only with auth: token");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    if (t.size() < 16 || !std::all_of(t.begin(), t.end(), is_tchar)) {
      // Never the token itself in the message: it is a secret.
      errors.push_back("tokens[" + std::to_string(i) + "]: expected at least 16 characters of an HTTP token "
                       "(letters, digits, -._~+!#$%&'*^|`)");
      continue;
    }
    std::array<unsigned char, 32> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(t.data()), t.size(), digest.data());
    access_.token_digests.push_back(digest);
  }
  access_.jwt_secret = std::string(options.string("jwt_secret"));
  if (access_.auth == Auth::jwt && access_.jwt_secret.size() < 32) {
    errors.push_back("jwt_secret: auth: jwt needs a key of at least 32 bytes");
  }
  if (access_.auth != Auth::jwt && !access_.jwt_secret.empty()) errors.push_back("jwt_secret: only with auth: jwt");
  access_.jwt_policy.audience = std::string(options.string("jwt_audience"));
  access_.jwt_policy.issuer = std::string(options.string("jwt_issuer"));
  access_.jwt_policy.require_exp = options.boolean("jwt_require_exp");
  if (access_.auth != Auth::jwt) {
    if (!access_.jwt_policy.audience.empty()) errors.push_back("jwt_audience: only with auth: jwt");
    if (!access_.jwt_policy.issuer.empty()) errors.push_back("jwt_issuer: only with auth: jwt");
    if (!access_.jwt_policy.require_exp) errors.push_back("jwt_require_exp: only with auth: jwt");
  }
  for (const auto& origin : options.strings("origins")) {
    if (origin != "*" && !is_origin(origin)) {
      errors.push_back("origins: '" + origin + "' is not an origin (scheme://host[:port], no path)");
    }
    access_.origins.push_back(lower(origin));
  }
  const std::int64_t max_connections = options.integer("max_connections", 10'000);
  const std::int64_t per_client = options.integer("max_connections_per_client", 10);
  const std::int64_t rooms = options.integer("max_rooms_per_connection", 50);
  if (max_connections < 1) errors.push_back("max_connections: at least 1");
  if (per_client < 1) errors.push_back("max_connections_per_client: at least 1");
  if (rooms < 1 || rooms > 10'000) errors.push_back("max_rooms_per_connection: expected 1 to 10000");
  access_.max_connections = static_cast<std::size_t>(std::max<std::int64_t>(max_connections, 1));
  access_.max_per_client = static_cast<std::size_t>(std::max<std::int64_t>(per_client, 1));
  replay_.rooms_per_client = static_cast<std::size_t>(std::clamp<std::int64_t>(rooms, 1, 10'000));
  if (!errors.empty()) return invalid_config(join(errors));

  Metrics& m = context.metrics();
  connections_ = &m.gauge(metrics::names::kWebsocketConnections, metrics::help::kWebsocketConnections);
  telemetry_.sent = &m.counter("switchyard_websocket_messages_sent_total",
                               "Messages queued to WebSocket clients: events (live and replayed) and answers.");
  telemetry_.replayed = &m.counter("switchyard_websocket_replayed_total",
                                   "Events sent from the replay buffer to clients that subscribed or resumed.");
  telemetry_.slow = &m.counter("switchyard_websocket_slow_clients_total",
                               "Clients closed with 1013 because their send queue was full.");
  telemetry_.gaps = &m.counter("switchyard_websocket_gaps_total",
                               "Gap messages: a client resumed from further back than what is kept.");
  telemetry_.kept_bytes = &m.gauge("switchyard_websocket_replay_bytes", "Bytes of events kept for replay.");
  telemetry_.logger = &context.logger();
  access_metrics_.auth_failures = &m.counter("switchyard_websocket_auth_failures_total",
                                             "WebSocket upgrades refused with 401: token missing, invalid or expired.");
  constexpr const char* kRefusedHelp = "WebSocket upgrades refused for a disallowed origin (403) or a connection limit.";
  access_metrics_.refused_origin = &m.counter("switchyard_websocket_refused_total", kRefusedHelp, {{"reason", "origin"}});
  access_metrics_.refused_capacity =
      &m.counter("switchyard_websocket_refused_total", kRefusedHelp, {{"reason", "max_connections"}});
  access_metrics_.refused_client_limit =
      &m.counter("switchyard_websocket_refused_total", kRefusedHelp, {{"reason", "max_connections_per_client"}});
  return {};
}

}  // namespace switchyard::websocket
