#pragma once
// HTTP for plugins, without Beast or Asio in sight: routes on the engine's shared listener
// (sources) and a pooled outbound HTTPS client (sinks, pollers). The engine implements both
// on Boost.Beast + OpenSSL; the test harness (switchyard/testing.hpp) lets a test call a
// component's routes directly and substitute the client.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard {

class WebSocketHandler;  // switchyard/websocket.hpp
struct WebSocketOptions;

/// Case-insensitive ASCII comparison, as HTTP header names compare.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// An ordered list of header fields; lookups ignore the case of names.
class HttpHeaders {
 public:
  struct Field {
    std::string name;
    std::string value;
  };

  /// The first value of `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& f : fields_) {
      if (iequals(f.name, name)) return std::string_view(f.value);
    }
    return std::nullopt;
  }
  /// Appends a field (repeated names are kept, in order).
  void add(std::string name, std::string value) {
    fields_.push_back({std::move(name), std::move(value)});
  }
  /// Replaces every field called `name` by one.
  void set(std::string name, std::string value) {
    erase(name);
    add(std::move(name), std::move(value));
  }
  void erase(std::string_view name) {
    std::erase_if(fields_, [&](const Field& f) { return iequals(f.name, name); });
  }
  const std::vector<Field>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

// ----------------------------------------------------------------------------------------
// Inbound: routes on the shared listener
// ----------------------------------------------------------------------------------------

/// A request as a route handler sees it. The views are valid only during the handler call:
/// copy what you need before going asynchronous.
struct HttpRequest {
  std::string_view method;  ///< "POST"
  std::string_view path;    ///< "/hooks/github" (no query)
  std::string_view query;   ///< "a=1&b=2" (no '?'), may be empty
  const HttpHeaders& headers;
  /// The raw body, exactly as received (signatures need it). A NUL byte follows it
  /// (`body.data()[body.size()] == '\0'`, outside the view), so parsers that want
  /// terminated text can read it in place.
  std::string_view body;
  std::string_view remote;  ///< Peer address "ip:port".
};

/// What a handler answers.
struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;

  /// A JSON response; `json` must already be a JSON text.
  static HttpResponse json(int status, std::string json) {
    HttpResponse r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = std::move(json);
    return r;
  }
  /// An error answer: {"error": "<reason>"} (the reason is JSON-escaped).
  static HttpResponse error(int status, std::string_view reason) {
    return json(status, "{\"error\":" + json_quote(reason) + "}");
  }

  /// 503 with Retry-After: the sender should come back in `retry_after_seconds`.
  static HttpResponse unavailable(std::string_view reason, int retry_after_seconds) {
    HttpResponse r = error(503, reason);
    r.headers.set("Retry-After", std::to_string(retry_after_seconds));
    return r;
  }

  /// `text` as a quoted, escaped JSON string.
  static std::string json_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            static const char* hex = "0123456789abcdef";
            out += "\\u00";
            out += hex[(c >> 4) & 0xf];
            out += hex[c & 0xf];
          } else {
            out += c;
          }
      }
    }
    return out + "\"";
  }
};

/// Whole seconds for a Retry-After header: the error's retry_after rounded up (at least 1),
/// else `fallback`.
inline int retry_after_seconds(const Error& error, int fallback) {
  if (!error.retry_after) return fallback;
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(*error.retry_after).count();
  return static_cast<int>(std::clamp<std::int64_t>(seconds, 1, 86'400));
}

/// Answers a request. Call exactly once, from any thread; later calls are ignored.
using HttpReply = std::function<void(HttpResponse)>;
/// Handles one request. Runs on an engine I/O thread, possibly on several threads at once
/// for concurrent requests: a handler must be thread-safe and must not block.
using HttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

/// Keeps route handlers (which run on I/O threads) off a component that is stopping.
/// Handlers and emit callbacks hold a Pass while they touch the component (passes nest);
/// close(), called from stop(), waits for passes in progress and refuses new ones.
class HttpGate {
 public:
  class Pass {
   public:
    explicit Pass(HttpGate& gate) : gate_(&gate) {}
    Pass(Pass&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Pass& operator=(Pass&&) = delete;
    ~Pass() {
      if (gate_ == nullptr) return;
      std::lock_guard lock(gate_->mutex_);
      if (--gate_->inside_ == 0) gate_->left_.notify_all();
    }

   private:
    HttpGate* gate_;
  };
  /// A pass while the gate is open, nullopt once it is closed.
  std::optional<Pass> enter() {
    std::lock_guard lock(mutex_);
    if (closed_) return std::nullopt;
    ++inside_;
    return std::optional<Pass>(std::in_place, *this);
  }
  /// Closes the gate once every pass has been returned. Never call it holding a pass.
  void close() {
    std::unique_lock lock(mutex_);
    closed_ = true;
    left_.wait(lock, [this] { return inside_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable left_;
  int inside_ = 0;
  bool closed_ = false;
};

/// Per-route settings.
struct HttpRouteOptions {
  /// Largest body accepted; 0 means the engine's `http.max_body`. Larger: 413 unread.
  std::size_t max_body = 0;
};

/// A registered route; destroying it removes the route (requests then get 404; a WebSocket
/// route's open connections are closed with 1001).
class HttpRoute {
 public:
  virtual ~HttpRoute() = default;
};

/// The engine's shared HTTP listener.
class HttpRoutes {
 public:
  virtual ~HttpRoutes() = default;
  /// Registers `handler` for `method` (e.g. "POST") on the exact `path`. Fails when the
  /// path and method are already taken or the listener cannot be opened.
  virtual Result<std::unique_ptr<HttpRoute>> add(std::string method, std::string path,
                                                 HttpHandler handler,
                                                 HttpRouteOptions options = {}) = 0;
  /// Registers a WebSocket endpoint (switchyard/websocket.hpp) on GET `path`: upgrade
  /// requests go to `handler`, its connections' callbacks run on the registering component's
  /// strand. Fails as add() does.
  virtual Result<std::unique_ptr<HttpRoute>> add_websocket(std::string path, std::shared_ptr<WebSocketHandler> /*handler*/,
                                                           const WebSocketOptions& /*options*/) {
    return invalid_config("GET " + path + ": this listener takes no WebSocket routes");
  }
};

// ----------------------------------------------------------------------------------------
// Outbound: the pooled HTTPS client
// ----------------------------------------------------------------------------------------

/// Settings of one client (one per component; connections are pooled per host within it).
struct HttpClientOptions {
  /// PEM bundle of CAs to trust instead of the system store (private CAs).
  std::string ca_file;
  /// Turns certificate verification off. Only for tests; the engine logs a warning.
  bool insecure_skip_verify = false;
  std::chrono::milliseconds connect_timeout{10'000};
  /// Whole exchange: connect, send, and read the full response.
  std::chrono::milliseconds request_timeout{30'000};
  /// Responses larger than this fail (permanent error) without being read further.
  std::size_t max_response_bytes = 4 * 1024 * 1024;
  /// Idle keep-alive connections kept per host.
  std::size_t max_idle_per_host = 8;
  /// Follow 3xx redirects (off by default: a webhook that moved is a configuration error).
  bool follow_redirects = false;
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  ///< http:// or https://
  HttpHeaders headers;
  std::string body;
  /// Overrides the client's request_timeout when set.
  std::optional<std::chrono::milliseconds> timeout;
};

struct HttpClientResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

/// Gets the response, or an error: retryable for connection failures and timeouts,
/// permanent for certificate failures, oversized responses and malformed URLs.
/// Runs on the component's strand.
using HttpClientCallback = std::function<void(Result<HttpClientResponse>)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Sends `request`; `done` runs exactly once on the component's strand (unless the
  /// client is destroyed first, which cancels outstanding requests without calling back).
  virtual void send(HttpClientRequest request, HttpClientCallback done) = 0;
};

/// The delay a `Retry-After` header asks for (delta-seconds; HTTP dates are read as
/// "retry soon": 1 s). nullopt when absent or malformed.
inline std::optional<std::chrono::milliseconds> parse_retry_after(std::optional<std::string_view> value) {
  if (!value || value->empty()) return std::nullopt;
  std::uint64_t seconds = 0;
  for (char c : *value) {
    if (c == ' ') continue;
    if (c < '0' || c > '9') return std::chrono::milliseconds(1000);
    seconds = seconds * 10 + static_cast<std::uint64_t>(c - '0');
    if (seconds > 86'400) return std::chrono::milliseconds(86'400'000);
  }
  return std::chrono::milliseconds(seconds * 1000);
}

/// How a delivery layer should read an HTTP status: success on 2xx; retryable on 408, 425,
/// 429 and 5xx (with the server's Retry-After); permanent otherwise.
inline Status classify_http_response(const HttpClientResponse& response) {
  const int s = response.status;
  if (s >= 200 && s < 300) return {};
  std::string message = "HTTP " + std::to_string(s);
  if (!response.body.empty()) {
    message += ": ";
    message.append(response.body, 0, std::min<std::size_t>(response.body.size(), 200));
  }
  if (s == 408 || s == 425 || s == 429 || s >= 500) {
    return retryable(std::move(message), parse_retry_after(response.headers.get("Retry-After")));
  }
  return permanent(std::move(message));
}

}  // namespace switchyard
