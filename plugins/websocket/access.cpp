#include "access.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "jwt.hpp"

namespace switchyard::websocket {

// Connections let in and not gone yet, in total and per client.
class Occupancy {
 public:
  Occupancy(std::size_t max_total, std::size_t max_per_client, Gauge& gauge)
      : max_total_(max_total), max_per_client_(max_per_client), gauge_(&gauge) {}

  enum class Verdict { admitted, full, client_full };
  Verdict enter(const std::string& client) {
    std::lock_guard lock(mutex_);
    if (total_ >= max_total_) return Verdict::full;
    auto& mine = per_client_[client];
    if (mine >= max_per_client_) {
      if (mine == 0) per_client_.erase(client);
      return Verdict::client_full;
    }
    ++mine;
    ++total_;
    if (gauge_) gauge_->inc();
    return Verdict::admitted;
  }
  void leave(const std::string& client) {
    std::lock_guard lock(mutex_);
    if (auto it = per_client_.find(client); it != per_client_.end() && --it->second == 0) per_client_.erase(it);
    --total_;
    if (gauge_) gauge_->dec();
  }
  std::size_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  void detach_gauge() {
    std::lock_guard lock(mutex_);
    if (gauge_) gauge_->dec(static_cast<double>(total_));
    gauge_ = nullptr;
  }

 private:
  const std::size_t max_total_, max_per_client_;
  mutable std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_client_;
  Gauge* gauge_;
};

Admission::Admission(std::shared_ptr<Occupancy> occupancy, std::string client, bool limits_rooms,
                     std::vector<std::string> rooms, std::optional<std::chrono::system_clock::time_point> expires)
    : occupancy_(std::move(occupancy)), client_(std::move(client)), limits_rooms_(limits_rooms), rooms_(std::move(rooms)),
      expires_(expires) {}

Admission::~Admission() { occupancy_->leave(client_); }

bool Admission::may_read(std::string_view room) const { return !limits_rooms_ || room_allowed(rooms_, room); }

std::string_view remote_address(std::string_view remote) {
  const auto colon = remote.rfind(':');
  std::string_view host = colon == std::string_view::npos ? remote : remote.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The bearer token of the request: Authorization first, else an offered "bearer." subprotocol.
std::optional<std::string_view> bearer_token(const WebSocketRequest& request) {
  if (auto header = request.http.headers.get("Authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header->size() > kBearer.size() && iequals(header->substr(0, kBearer.size()), kBearer)) {
      std::string_view token = header->substr(kBearer.size());
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
      return token;
    }
    return std::nullopt;  // another scheme: not ours
  }
  for (std::string_view offered : request.subprotocols) {
    if (offered.size() > kBearerPrefix.size() && offered.substr(0, kBearerPrefix.size()) == kBearerPrefix) {
      return offered.substr(kBearerPrefix.size());
    }
  }
  return std::nullopt;
}

}  // namespace

Doorkeeper::Doorkeeper(AccessSettings settings, AccessMetrics metrics, Gauge& connections, Logger& logger)
    : settings_(std::move(settings)), metrics_(metrics), logger_(logger),
      occupancy_(std::make_shared<Occupancy>(settings_.max_connections, settings_.max_per_client, connections)) {}

std::size_t Doorkeeper::open() const { return occupancy_->total(); }

void Doorkeeper::stop() { occupancy_->detach_gauge(); }

WebSocketUpgrade Doorkeeper::unauthorized(std::string_view why) {
  metrics_.auth_failures->inc();
  logger_.debug("WebSocket upgrade refused (401): " + std::string(why));
  HttpResponse answer = HttpResponse::error(401, why);
  answer.headers.set("WWW-Authenticate", "Bearer realm=\"switchyard\"");
  return WebSocketUpgrade::refuse(std::move(answer));
}

WebSocketUpgrade Doorkeeper::decide(const WebSocketRequest& request) {
  // A browser always sends its page's Origin; other clients need not (and could send any).
  if (!settings_.origins.empty()) {
    if (auto origin = request.http.headers.get("Origin")) {
      const std::string given = lower(*origin);
      const bool allowed = std::any_of(settings_.origins.begin(), settings_.origins.end(),
                                       [&](const std::string& o) { return o == "*" || o == given; });
      if (!allowed) {
        metrics_.refused_origin->inc();
        logger_.debug("WebSocket upgrade refused (403): origin " + std::string(origin->substr(0, 200)) +
                      " is not in origins");
        return WebSocketUpgrade::refuse(HttpResponse::error(403, "origin not allowed"));
      }
    }
  }

  bool offered_ours = false, offered_bearer = false;
  for (std::string_view p : request.subprotocols) {
    if (p == kSubprotocol) offered_ours = true;
    if (p.substr(0, kBearerPrefix.size()) == kBearerPrefix) offered_bearer = true;
  }
  if (offered_bearer && !offered_ours) {
    // Confirming no subprotocol would fail the browser's handshake, and confirming the
    // token's would echo it.
    return WebSocketUpgrade::refuse(HttpResponse::error(
        400, "offer the subprotocol " + std::string(kSubprotocol) + " along with the bearer token"));
  }

  std::string client = "ip:" + std::string(remote_address(request.http.remote));
  bool limits_rooms = false;
  std::vector<std::string> rooms;
  std::optional<std::chrono::system_clock::time_point> expires;
  if (settings_.auth != Auth::none) {
    const auto token = bearer_token(request);
    if (!token || token->empty()) return unauthorized("missing bearer token");
    if (settings_.auth == Auth::token) {
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(token->data()), token->size(), digest);
      bool match = false;
      for (const auto& known : settings_.token_digests) {
        match |= CRYPTO_memcmp(known.data(), digest, known.size()) == 0;  // compare all: no early exit
      }
      if (!match) return unauthorized("invalid token");
    } else {
      auto claims = verify_jwt(*token, settings_.jwt_secret, std::chrono::system_clock::now(), settings_.jwt_policy);
      if (!claims) return unauthorized(claims.error().message);
      if (!claims->subject.empty()) client = "sub:" + claims->subject;
      limits_rooms = claims->limits_rooms;
      rooms = std::move(claims->rooms);
      expires = claims->expires;
    }
  }

  switch (occupancy_->enter(client)) {
    case Occupancy::Verdict::admitted:
      break;
    case Occupancy::Verdict::full:
      metrics_.refused_capacity->inc();
      return WebSocketUpgrade::refuse(HttpResponse::unavailable("too many connections", 5));
    case Occupancy::Verdict::client_full: {
      metrics_.refused_client_limit->inc();
      logger_.debug("WebSocket upgrade refused (429): " + client + " has " +
                    std::to_string(settings_.max_per_client) + " connections open");
      HttpResponse answer = HttpResponse::error(429, "too many connections from this client");
      answer.headers.set("Retry-After", "5");
      return WebSocketUpgrade::refuse(std::move(answer));
    }
  }
  auto admission = std::make_shared<Admission>(occupancy_, std::move(client), limits_rooms, std::move(rooms), expires);
  return WebSocketUpgrade::accept(offered_ours ? std::string(kSubprotocol) : std::string(), std::move(admission));
}

}  // namespace switchyard::websocket
