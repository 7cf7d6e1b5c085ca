#pragma once
// The shared HTTP listener: one Boost.Beast acceptor that sources register routes on.
// Beast stays in server.cpp; this header is all the rest of the engine sees.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "switchyard/http.hpp"

namespace switchyard::runtime {
class Io;
}

namespace switchyard::http {

struct ServerSettings {
  std::string name = "http";  ///< For log lines: "http" or "admin".
  std::string listen = "127.0.0.1:0";
  std::uint64_t max_body = 25 * 1024 * 1024;
  std::uint64_t max_header = 16 * 1024;
  std::chrono::milliseconds read_timeout{15'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::uint64_t max_connections = 10'000;
  std::string tls_cert;  ///< PEM chain; with tls_key, the listener speaks HTTPS.
  std::string tls_key;
  /// How long a handler may take before the client gets 503: under GitHub's 10 s, so a
  /// slow pipeline is seen as "retry" rather than as a timed-out delivery.
  std::chrono::milliseconds handler_timeout{9'000};
};

/// Counters, for logs, tests and metrics.
struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  ///< Connections closed at once: max_connections reached.
  std::uint64_t active = 0;
  std::uint64_t requests = 0;
  std::uint64_t not_found = 0;
  std::uint64_t too_large = 0;
  std::uint64_t timed_out = 0;  ///< Connections cut off by read_timeout.
};

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

  /// Binds and starts accepting (idempotent). Errors name the address.
  Status open();
  /// Stops accepting. Open connections end with the engine's executor (or at their
  /// timeouts); routes stay until their handles are dropped.
  void close();
  /// The bound address ("127.0.0.1:43117"); empty before open().
  std::string local_endpoint() const;
  ServerStats stats() const;

  struct Impl;  // server.cpp only

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace switchyard::http
