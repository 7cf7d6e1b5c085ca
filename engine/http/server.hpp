#pragma once
// The shared HTTP listener: one Boost.Beast acceptor that sources register routes on.
// Beast stays in engine/http (server.cpp: acceptor; session.cpp: connections; routes.cpp;
// event_stream.hpp); this header is all the rest of the engine sees.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/http.hpp"

namespace switchyard::runtime {
class Io;
}
namespace switchyard::metrics {
class Registry;
}

namespace switchyard::http {

struct Listener;  // listener.hpp: internal to engine/http

/// A listener's settings. The defaults are the engine configuration's (`http:` in
/// config/engine_config.cpp): build them with config::listener_settings().
struct ServerSettings {
  std::string name = "http";  ///< For log lines: "http" or "admin".
  std::string listen = "127.0.0.1:0";
  std::uint64_t max_body = 0;
  std::uint64_t max_header = 0;
  std::chrono::milliseconds read_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  std::uint64_t max_connections = 0;
  /// Connections one client address may hold (0: no limit); past it, new ones get 503.
  std::uint64_t max_connections_per_ip = 0;
  /// Loopback clients (a reverse proxy on this host carries every client) are not limited
  /// per address.
  bool exempt_loopback = true;
  std::string tls_cert;  ///< PEM chain; with tls_key, the listener speaks HTTPS.
  std::string tls_key;
  /// How long a handler may take before the client gets 503: under GitHub's 10 s, so a
  /// slow pipeline is seen as "retry" rather than as a timed-out delivery.
  std::chrono::milliseconds handler_timeout{9'000};
  /// Where the listener's switchyard_http_* series go (labelled listener=<name>);
  /// nullptr: a registry nobody scrapes.
  metrics::Registry* metrics = nullptr;
};

/// Event-stream counters (the rest is in the switchyard_http_* metrics).
struct ServerStats {
  std::uint64_t streams = 0;          ///< Event streams open now.
  std::uint64_t streams_dropped = 0;  ///< Event-stream clients dropped for falling behind.
};

/// The sending end of one Server-Sent Events response (`text/event-stream`). Thread-safe,
/// and it never blocks: frames queue per client up to a bound (EventStreamOptions); a client
/// that falls that far behind is dropped (its connection closed), so a slow reader never
/// holds up the engine. The stream ends when the client goes, on close(), or when the
/// server closes.
class EventStream {
 public:
  virtual ~EventStream() = default;
  /// Queues one event: `event: <name>` (omitted when empty) and one `data:` line per line
  /// of `data`. False once the stream has ended (then nothing is queued).
  virtual bool send(std::string_view name, std::string_view data) = 0;
  /// Queues a comment line (": text"), e.g. a keep-alive. False once ended.
  virtual bool comment(std::string_view text) = 0;
  /// Whether frames are still accepted.
  virtual bool open() const = 0;
  /// Ends the stream: what is queued is still written, then the connection closes.
  virtual void close() = 0;
};

struct EventStreamOptions {
  /// Bytes queued for one client (written or not yet acknowledged by its socket) before
  /// that client is dropped.
  std::size_t max_buffered = 1024 * 1024;
};

/// Handles a request on an event-stream route. Return a response to answer it as usual
/// (401, 503...); return nullopt to accept it: the 200 `text/event-stream` head goes out
/// and `stream` is the handler's to keep and send to from any thread (frames sent during
/// the call follow the head). Runs on an I/O thread; must not block.
using EventStreamHandler =
    std::function<std::optional<HttpResponse>(const HttpRequest&, std::shared_ptr<EventStream> stream)>;

/// The listener. Thread-safe. It opens its socket on the first route (or on open()), so an
/// engine whose pipelines take no HTTP opens no port.
class Server final : public HttpRoutes {
 public:
  Server(runtime::Io& io, ServerSettings settings);
  ~Server() override;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Result<std::unique_ptr<HttpRoute>> add(std::string method, std::string path,
                                         HttpHandler handler,
                                         HttpRouteOptions options = {}) override;
  /// add() for a route of pipeline `owner`: a pipeline may register a path its own previous
  /// version still holds (hot reload); the new route serves from now on, and the old one
  /// again only if the new one goes first. Other pipelines get the usual conflict error.
  Result<std::unique_ptr<HttpRoute>> add_owned(std::string owner, std::string method, std::string path,
                                               HttpHandler handler, HttpRouteOptions options = {});

  /// A Server-Sent Events route: GET `path`, answered by `handler` (see EventStreamHandler).
  Result<std::unique_ptr<HttpRoute>> add_event_stream(std::string path, EventStreamHandler handler,
                                                      EventStreamOptions options = {});

  /// Binds and starts accepting (idempotent). Errors name the address.
  Status open();
  /// Stops accepting and ends every event stream (after what is queued). Other open
  /// connections end with the engine's executor (or at their timeouts); routes stay until
  /// their handles are dropped.
  void close();
  /// The bound address ("127.0.0.1:43117"); empty before open().
  std::string local_endpoint() const;
  ServerStats stats() const;

 private:
  std::shared_ptr<Listener> impl_;
};

}  // namespace switchyard::http
