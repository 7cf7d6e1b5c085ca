#pragma once
// Internal: the state of one listener that its acceptor and sessions share — settings,
// routes, TLS context, counters, open event streams. Beast and Asio stay in engine/http.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/event_stream.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "switchyard/metrics.hpp"

namespace spdlog {
class logger;
}

namespace switchyard::http {

/// The listener's metrics (switchyard_http_*, labelled with its name).
struct ListenerMetrics {
  explicit ListenerMetrics(const ServerSettings& settings);
  Counter* answers[4] = {};  // by status class 2xx..5xx
  Counter* refused = nullptr;
  Counter* timed_out = nullptr;
  Counter* too_large = nullptr;
  Counter* not_found = nullptr;
  Counter* streams_dropped = nullptr;
  Gauge* connections = nullptr;
  Gauge* streams = nullptr;
  void answered(int status) const {
    if (status >= 200 && status <= 599) answers[status / 100 - 2]->inc();
  }
};

struct Listener : std::enable_shared_from_this<Listener> {
  Listener(runtime::Io& io, ServerSettings settings);
  ~Listener();

  Status open();
  void accept();
  void add_stream(const std::shared_ptr<StreamState>& stream);
  void close_streams();

  runtime::Io& io;
  ServerSettings settings;
  std::shared_ptr<spdlog::logger> log;
  ListenerMetrics metrics;
  boost::asio::ip::tcp::acceptor acceptor;
  std::unique_ptr<boost::asio::ssl::context> tls;
  std::mutex open_mutex;
  bool opened = false;
  std::string bound;
  std::shared_ptr<RouteTable> routes = std::make_shared<RouteTable>();
  std::atomic<std::uint64_t> active{0}, streams_open{0}, streams_dropped{0};

  // Open event streams, ended by close().
  std::mutex streams_mutex;
  std::vector<std::weak_ptr<StreamState>> streams;

  // Open WebSocket connections (websocket.cpp), whose close handshakes close() waits for.
  std::mutex websockets_mutex;
  std::condition_variable websockets_changed;
  std::size_t websockets = 0;
};

/// Runs a session on an accepted connection: plain, or TLS when the listener has a context.
void start_session(const std::shared_ptr<Listener>& listener, boost::asio::ip::tcp::socket socket, std::string remote);

}  // namespace switchyard::http
