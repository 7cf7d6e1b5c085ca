#pragma once
// Who may open a connection to the websocket sink, decided on the upgrade request: the
// Origin allow-list (403), authentication — none, static bearer tokens, or HS256 JWTs whose
// `rooms` claim limits what the client may read (401) — and the connection limits, in total
// (503) and per client (429; a client is the JWT's `sub`, else its IP address).
//
// Browsers cannot set Authorization on a WebSocket, so the token may also come as an offered
// subprotocol "bearer.<token>", next to "switchyard.v1", which the server confirms (never the
// token: Sec-WebSocket-Protocol answers are logged by proxies).

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jwt.hpp"
#include "switchyard/context.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::websocket {

/// The subprotocol the sink speaks (confirmed when offered).
inline constexpr std::string_view kSubprotocol = "switchyard.v1";
/// Prefix of the subprotocol that carries a browser's token.
inline constexpr std::string_view kBearerPrefix = "bearer.";

enum class Auth { none, token, jwt };

struct AccessSettings {
  Auth auth = Auth::none;
  std::vector<std::array<unsigned char, 32>> token_digests;  // SHA-256 of each accepted token
  std::string jwt_secret;
  JwtPolicy jwt_policy;
  std::vector<std::string> origins;  // lower case; empty: any
  std::size_t max_connections = 10'000;
  std::size_t max_per_client = 10;
};

/// Counters of refused upgrades (owned by the sink's metrics).
struct AccessMetrics {
  Counter* auth_failures = nullptr;
  Counter* refused_origin = nullptr;
  Counter* refused_capacity = nullptr;
  Counter* refused_client_limit = nullptr;
};

class Occupancy;

/// A client let in: who it is and which rooms it may read. Attached to its connection; its
/// place in the connection limits is freed when the connection (and so this) goes.
class Admission {
 public:
  Admission(std::shared_ptr<Occupancy> occupancy, std::string client, bool limits_rooms, std::vector<std::string> rooms,
            std::optional<std::chrono::system_clock::time_point> expires = std::nullopt);
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  /// "sub:<subject>" or "ip:<address>".
  const std::string& client() const { return client_; }
  /// Whether the client may subscribe to `room` (its token's rooms claim).
  bool may_read(std::string_view room) const;
  /// When the client's token expires (then its connection is closed); unset: never.
  const std::optional<std::chrono::system_clock::time_point>& expires() const { return expires_; }

 private:
  std::shared_ptr<Occupancy> occupancy_;
  std::string client_;
  bool limits_rooms_;
  std::vector<std::string> rooms_;
  std::optional<std::chrono::system_clock::time_point> expires_;
};

/// The sink's upgrade decisions. decide() is thread-safe (engine I/O threads).
class Doorkeeper {
 public:
  Doorkeeper(AccessSettings settings, AccessMetrics metrics, Gauge& connections, Logger& logger);
  WebSocketUpgrade decide(const WebSocketRequest& request);
  /// Open connections let in by this doorkeeper.
  std::size_t open() const;
  /// The sink stops: the connections gauge no longer follows this doorkeeper's connections.
  void stop();

 private:
  WebSocketUpgrade unauthorized(std::string_view why);

  const AccessSettings settings_;
  const AccessMetrics metrics_;
  Logger& logger_;
  std::shared_ptr<Occupancy> occupancy_;
};

/// The address part of "ip:port" / "[v6]:port".
std::string_view remote_address(std::string_view remote);

}  // namespace switchyard::websocket
