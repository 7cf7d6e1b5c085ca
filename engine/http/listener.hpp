#pragma once
// Internal: the state of one listener that its acceptor and sessions share — settings,
// routes, TLS context, counters, open event streams. Beast and Asio stay in engine/http.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
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
  /// The answer counters of the route on `path` (label route=path: as many series as
  /// configured routes, never one per requested path).
  RouteAnswers route(const std::string& path) const;

 private:
  metrics::Registry* registry_ = nullptr;
  std::string listener_;
};

/// A keep-alive connection waiting for its next request: the first to go when a new
/// connection arrives at max_connections. Part of its session (no allocation per wait).
struct IdleConnection : boost::intrusive::list_base_hook<> {
  std::function<void()> evict;  // ends the connection, on its strand
};

/// Who holds the listener's connections: how many per client address, and which are idle
/// (oldest first). Thread-safe.
class Connections {
 public:
  /// Counts a connection from `address`; false when the address holds `limit` already
  /// (0: no limit).
  bool admit(const std::string& address, std::uint64_t limit);
  void release(const std::string& address);
  /// The connection waits idle from now on / is busy again (or gone).
  void idle(IdleConnection& connection);
  void busy(IdleConnection& connection);
  /// Ends the connection idle the longest; false when none is idle.
  bool evict_oldest();

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> per_address_;
  boost::intrusive::list<IdleConnection> idle_;
};

struct Listener : std::enable_shared_from_this<Listener> {
  Listener(runtime::Io& io, ServerSettings settings);
  ~Listener();

  Status open();
  void accept();
  /// A new connection from `socket`: a session, or an answer at once (503) and a close.
  void take(boost::asio::ip::tcp::socket socket);
  /// Answers 503 at accept time (plain HTTP; a TLS client is only closed) and closes.
  void refuse(boost::asio::ip::tcp::socket& socket, std::string_view reason);
  /// Out of descriptors: gives up the spare one to accept and refuse the waiting
  /// connection, so the acceptor does not spin on EMFILE.
  void shed();
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
  Connections connections;
  int spare_fd = -1;  // /dev/null, held for shed()

  // Open event streams, ended by close().
  std::mutex streams_mutex;
  std::vector<std::weak_ptr<StreamState>> streams;

  // Open WebSocket connections (websocket.cpp), whose close handshakes close() waits for.
  std::mutex websockets_mutex;
  std::condition_variable websockets_changed;
  std::size_t websockets = 0;
};

/// Runs a session on an accepted connection: plain, or TLS when the listener has a context.
/// `address`: the client's address as counted in Listener::connections (released when the
/// session ends).
void start_session(const std::shared_ptr<Listener>& listener, boost::asio::ip::tcp::socket socket, std::string remote,
                   std::string address);

}  // namespace switchyard::http
