#pragma once
// WebSocket endpoints for plugins, on the engine's shared listener, without Beast or Asio in
// sight. A component registers a WebSocketHandler on a path with
// `context.routes().add_websocket(path, handler, options)`; the engine answers the HTTP
// upgrade as the handler decides (refuse with an HttpResponse, or accept), then runs each
// connection (RFC 6455): frames, the ping/pong heartbeat, the close handshake, and a bounded
// send queue per connection. The component sees opaque WebSocketConnection objects.
//
// Threads: upgrade() runs on an engine I/O thread (concurrently, like an HttpHandler);
// opened(), message(), closed() and drained callbacks run on the strand of the component
// that registered the route, never concurrently with its other callbacks. The connection's
// send() and close() are thread-safe and never block.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/http.hpp"

namespace switchyard {

/// Close codes of RFC 6455 section 7.4 (and the IANA registry) a component is likely to use.
namespace websocket_close {
inline constexpr std::uint16_t kNormal = 1000;          ///< Done.
inline constexpr std::uint16_t kGoingAway = 1001;       ///< The endpoint went away (route removed, engine stopping).
inline constexpr std::uint16_t kProtocolError = 1002;   ///< A frame broke RFC 6455.
inline constexpr std::uint16_t kUnsupportedData = 1003; ///< E.g. a binary message to a text endpoint.
inline constexpr std::uint16_t kNoStatus = 1005;        ///< The peer's close frame carried no code.
inline constexpr std::uint16_t kAbnormal = 1006;        ///< No close frame: the connection dropped or timed out.
inline constexpr std::uint16_t kPolicyViolation = 1008; ///< The peer broke the endpoint's rules.
inline constexpr std::uint16_t kTooBig = 1009;          ///< A message over max_message.
inline constexpr std::uint16_t kInternalError = 1011;   ///< The server failed.
inline constexpr std::uint16_t kTryAgainLater = 1013;   ///< Overloaded: the client fell behind (send queue full).
}  // namespace websocket_close

/// An upgrade request as the endpoint sees it. Views are valid during upgrade() only.
struct WebSocketRequest {
  const HttpRequest& http;  ///< Path, query, headers (Origin, Authorization...), remote "ip:port".
  /// The subprotocols the client offered (Sec-WebSocket-Protocol), in its order.
  const std::vector<std::string_view>& subprotocols;
};

/// The endpoint's answer to an upgrade request: refuse it with an HTTP answer, or accept it.
struct WebSocketUpgrade {
  /// Set: the client gets this answer (401, 403, 429, 503...) and no WebSocket.
  std::optional<HttpResponse> refusal;
  /// On acceptance: the subprotocol to confirm, one of those offered; empty: none.
  std::string subprotocol;
  /// On acceptance: kept with the connection (WebSocketConnection::attachment()) and released
  /// with it, e.g. who the client is, or a slot of a connection limit that its destructor frees.
  std::shared_ptr<void> attachment;

  static WebSocketUpgrade refuse(HttpResponse answer) {
    WebSocketUpgrade u;
    u.refusal = std::move(answer);
    return u;
  }
  static WebSocketUpgrade accept(std::string subprotocol = {}, std::shared_ptr<void> attachment = nullptr) {
    WebSocketUpgrade u;
    u.subprotocol = std::move(subprotocol);
    u.attachment = std::move(attachment);
    return u;
  }
};

/// What became of a message handed to WebSocketConnection::send().
enum class WebSocketSend {
  queued,    ///< Queued; it will be written in order after what was queued before.
  closed,    ///< Not queued: the connection is closing or closed.
  overflow,  ///< Not queued: it would have put the send queue over its bound, so the connection
             ///< is being closed with 1013 (what was queued is dropped). Happens once.
};

/// One open WebSocket connection. Thread-safe; nothing blocks. Keep the shared_ptr while you
/// need the connection; the engine releases its own reference when the connection ends.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  /// Queues a text message (one frame; it must be UTF-8). The same buffer may be sent to many
  /// connections: it is shared, not copied.
  virtual WebSocketSend send(std::shared_ptr<const std::string> text) = 0;
  WebSocketSend send(std::string text) { return send(std::make_shared<const std::string>(std::move(text))); }
  /// Closes after what is queued is written: a close frame with `code` and `reason` (at most
  /// 123 bytes), then the close handshake. Later sends are refused.
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  /// Bytes queued and not yet written to the socket (including the message being written).
  virtual std::size_t queued() const = 0;
  /// Runs `ready` once, on the component's strand, when everything queued has been written
  /// (at once, posted, when nothing is queued). Replaces a pending callback; dropped if the
  /// connection closes first.
  virtual void when_drained(std::function<void()> ready) = 0;
  /// A number that identifies the connection within the process.
  virtual std::uint64_t id() const = 0;
  /// The peer's address, "ip:port".
  virtual std::string_view remote() const = 0;
  /// The subprotocol confirmed at the upgrade; empty: none.
  virtual std::string_view subprotocol() const = 0;
  /// What upgrade() attached to the connection (nullptr: nothing).
  virtual const std::shared_ptr<void>& attachment() const = 0;
};

/// How a connection ended.
struct WebSocketClosed {
  /// The close code: the peer's, or the one the endpoint or engine closed with; 1006 when
  /// the connection ended without a close frame (dropped, heartbeat or write timed out).
  std::uint16_t code = websocket_close::kAbnormal;
  std::string reason;
};

/// What an endpoint does with its connections (see the top of this file for threads).
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  /// Decides on an upgrade request. Engine I/O thread, possibly several at once; must not block.
  virtual WebSocketUpgrade upgrade(const WebSocketRequest& request) = 0;
  /// An accepted connection completed its handshake.
  virtual void opened(const std::shared_ptr<WebSocketConnection>& connection) = 0;
  /// A text message arrived. The engine reads the connection's next message only once this
  /// (and the few queued before it) have run: a flooding client is held back, not buffered.
  virtual void message(const std::shared_ptr<WebSocketConnection>& connection, std::string text) = 0;
  /// The connection ended; called once for each opened connection (unless the route was
  /// removed first: then no callback runs any more).
  virtual void closed(const std::shared_ptr<WebSocketConnection>& connection, const WebSocketClosed& how) = 0;
};

/// Per-route settings.
struct WebSocketOptions {
  /// Largest message a client may send; a larger one closes the connection with 1009.
  std::size_t max_message = 64 * 1024;
  /// Bytes queued per connection; a send past it closes the connection with 1013.
  std::size_t send_queue = 1024 * 1024;
  /// How often the engine pings a connection; zero: never.
  std::chrono::milliseconds ping_interval{30'000};
  /// How long after a ping the client has to answer (any frame counts) before the connection
  /// is dropped (1006).
  std::chrono::milliseconds pong_timeout{10'000};
  /// How long a closing connection may take to finish the close handshake (or to write what
  /// blocks it) before its socket is closed.
  std::chrono::milliseconds close_timeout{5'000};
};

/// The subprotocols offered in a Sec-WebSocket-Protocol header value ("a, b").
inline std::vector<std::string_view> parse_subprotocols(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace switchyard
