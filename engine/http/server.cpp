// The listener's acceptor and the Server API: binding, TLS, routes, close. Sessions are in
// session.cpp, the route table in routes.cpp, event streams in event_stream.hpp.
#include "http/server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "http/addresses.hpp"
#include "http/listener.hpp"
#include "http/websocket.hpp"
#include "log/logging.hpp"
#include "metrics/registry.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {
constexpr const char* kAnswersHelp = "HTTP answers of this listener, by status class.";
constexpr const char* kRouteAnswersHelp = "HTTP answers of one route of this listener, by status class.";
constexpr const char* kClasses[] = {"2xx", "3xx", "4xx", "5xx"};
}  // namespace

ListenerMetrics::ListenerMetrics(const ServerSettings& s) {
  metrics::Registry& r = s.metrics ? *s.metrics : metrics::unscraped();
  registry_ = &r;
  listener_ = s.name;
  const MetricLabels listener{{"listener", s.name}};
  for (int i = 0; i < 4; ++i) {
    answers[i] = &r.counter("switchyard_http_answers_total", kAnswersHelp, {{"listener", s.name}, {"code", kClasses[i]}});
  }
  refused = &r.counter("switchyard_http_connections_refused_total",
                       "Connections closed at once because max_connections were open.", listener);
  timed_out = &r.counter("switchyard_http_timeouts_total",
                         "Connections cut off by read_timeout (slow or stalled clients).", listener);
  too_large = &r.counter("switchyard_http_too_large_total", "Requests refused with 413: body over the limit.", listener);
  not_found = &r.counter("switchyard_http_not_found_total", "Requests for a path or method no route serves.", listener);
  streams_dropped = &r.counter("switchyard_http_event_stream_drops_total",
                               "Event-stream clients dropped for falling behind.", listener);
  connections = &r.gauge("switchyard_http_connections", "Open connections.", listener);
  streams = &r.gauge("switchyard_http_event_streams", "Open event streams.", listener);
}

RouteAnswers ListenerMetrics::route(const std::string& path) const {
  RouteAnswers out;
  for (int i = 0; i < 4; ++i) {
    out.by_class[i] = &registry_->counter("switchyard_http_route_answers_total", kRouteAnswersHelp,
                                          {{"listener", listener_}, {"route", path}, {"code", kClasses[i]}});
  }
  return out;
}

Listener::Listener(runtime::Io& io, ServerSettings s)
    : io(io), settings(std::move(s)), log(log::make(settings.name)), metrics(settings),
      acceptor(asio::make_strand(io.context())) {}

Listener::~Listener() {
  if (spare_fd >= 0) ::close(spare_fd);
}

bool Connections::admit(const std::string& address, std::uint64_t limit) {
  std::lock_guard lock(mutex_);
  auto& count = per_address_[address];
  if (limit != 0 && count >= limit) {
    if (count == 0) per_address_.erase(address);
    return false;
  }
  ++count;
  return true;
}

void Connections::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

void Connections::idle(IdleConnection& connection) {
  std::lock_guard lock(mutex_);
  if (!connection.is_linked()) idle_.push_back(connection);
}

void Connections::busy(IdleConnection& connection) {
  std::lock_guard lock(mutex_);
  if (connection.is_linked()) idle_.erase(idle_.iterator_to(connection));
}

bool Connections::evict_oldest() {
  std::function<void()> evict;
  {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return false;
    IdleConnection& oldest = idle_.front();
    idle_.pop_front();
    evict = oldest.evict;
  }
  evict();
  return true;
}

void Listener::add_stream(const std::shared_ptr<StreamState>& stream) {
  std::lock_guard lock(streams_mutex);
  std::erase_if(streams, [](const auto& w) { return w.expired(); });
  streams.push_back(stream);
}

void Listener::close_streams() {
  std::vector<std::shared_ptr<StreamState>> open;
  {
    std::lock_guard lock(streams_mutex);
    for (auto& w : streams) {
      if (auto s = w.lock()) open.push_back(std::move(s));
    }
    streams.clear();
  }
  for (auto& s : open) s->close();
}

Status Listener::open() {
  std::lock_guard lock(open_mutex);
  if (opened) return {};
  auto endpoint = parse_endpoint(settings.listen);
  if (!endpoint) return invalid_config(settings.name + ".listen: " + endpoint.error().message);
  if (!settings.tls_cert.empty() || !settings.tls_key.empty()) {
    if (settings.tls_cert.empty() || settings.tls_key.empty()) {
      return invalid_config(settings.name + ".tls: cert and key must be given together");
    }
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ctx->use_certificate_chain_file(settings.tls_cert, ec);
    if (ec) return invalid_config(settings.name + ".tls.cert " + settings.tls_cert + ": " + ec.message());
    ctx->use_private_key_file(settings.tls_key, ssl::context::pem, ec);
    if (ec) return invalid_config(settings.name + ".tls.key " + settings.tls_key + ": " + ec.message());
    tls = std::move(ctx);
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(endpoint->host, ec);
  if (ec) {
    return invalid_config(settings.name + ".listen: '" + endpoint->host +
                          "' is not an IP address (use 0.0.0.0, 127.0.0.1, [::] ...)");
  }
  const tcp::endpoint ep(address, endpoint->port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    return permanent(settings.name + ".listen " + settings.listen + ": " + ec.message());
  }
  const auto local = acceptor.local_endpoint();
  bound = format_endpoint(local.address().to_string(), local.port());
  opened = true;
  spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  log->info("listening on {}{}", tls ? "https://" : "http://", bound);
  asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->accept(); });
  return {};
}

void Listener::accept() {
  acceptor.async_accept(asio::make_strand(io.context()), [self = shared_from_this()](
                                                             beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE) {
      self->shed();
    } else if (ec) {
      // Anything else (a connection reset while queued...): back off briefly, never spin.
      self->log->warn("accept failed: {}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(self->acceptor.get_executor(), std::chrono::milliseconds(50));
      timer->async_wait([self, timer](beast::error_code) { self->accept(); });
      return;
    } else {
      self->take(std::move(socket));
    }
    self->accept();
  });
}

void Listener::take(tcp::socket socket) {
  beast::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  const std::string address = ec ? std::string("unknown") : peer.address().to_string();
  const bool counted = !(settings.exempt_loopback && !ec && peer.address().is_loopback());
  if (counted && !connections.admit(address, settings.max_connections_per_ip)) {
    metrics.refused->inc();
    return refuse(socket, "too many connections from your address");
  }
  // At capacity, the connection idle the longest makes room; with none idle, 503.
  if (active.load(std::memory_order_relaxed) >= settings.max_connections && !connections.evict_oldest()) {
    if (counted) connections.release(address);
    metrics.refused->inc();
    return refuse(socket, "too many connections");
  }
  std::string remote = ec ? std::string("unknown") : format_endpoint(address, peer.port());
  socket.set_option(tcp::no_delay(true), ec);
  active.fetch_add(1, std::memory_order_relaxed);
  metrics.connections->inc();
  start_session(shared_from_this(), std::move(socket), std::move(remote), counted ? address : std::string());
}

void Listener::refuse(tcp::socket& socket, std::string_view reason) {
  beast::error_code ec;
  if (!tls) {
    // The answer fits any socket's send buffer: written at once, or not at all.
    const std::string body = "{\"error\":\"" + std::string(reason) + "; retry later\"}";
    const std::string answer = "HTTP/1.1 503 Service Unavailable\r\nServer: switchyard\r\n"
                               "Content-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\n"
                               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }
  socket.close(ec);
}

void Listener::shed() {
  // With no descriptor left, the waiting connection cannot even be accepted to be told
  // so: the spare one, held for this, makes room for one accept.
  if (spare_fd >= 0) {
    ::close(spare_fd);
    spare_fd = -1;
    beast::error_code ec;
    tcp::socket socket(acceptor.get_executor());
    acceptor.accept(socket, ec);
    if (!ec) {
      metrics.refused->inc();
      refuse(socket, "out of file descriptors");
    }
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  log->warn("accept: out of file descriptors (raise the open-file limit, or lower max_connections)");
}

Server::Server(runtime::Io& io, ServerSettings settings)
    : impl_(std::make_shared<Listener>(io, std::move(settings))) {}

Server::~Server() { close(); }

Status Server::open() { return impl_->open(); }

Status Server::expect(const std::vector<std::string>& paths) {
  if (paths.empty()) return {};
  impl_->routes->expect(paths);
  return open();
}

void Server::forget(const std::vector<std::string>& paths) { impl_->routes->forget(paths); }

void Server::yield(std::set<std::string, std::less<>> owners) { impl_->routes->yield(std::move(owners)); }

void Server::close() {
  {
    std::lock_guard lock(impl_->open_mutex);
    if (!impl_->opened) return;
    asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
      beast::error_code ignored;
      impl->acceptor.close(ignored);
    });
    impl_->close_streams();
  }
  await_websockets(*impl_, std::chrono::seconds(2));
}

std::string Server::local_endpoint() const {
  std::lock_guard lock(impl_->open_mutex);
  return impl_->bound;
}

ServerStats Server::stats() const {
  return ServerStats{.streams = impl_->streams_open.load(), .streams_dropped = impl_->streams_dropped.load()};
}

Result<std::unique_ptr<HttpRoute>> Server::add(std::string method, std::string path,
                                               HttpHandler handler, HttpRouteOptions options) {
  return add_owned({}, std::move(method), std::move(path), std::move(handler), options);
}

Result<std::unique_ptr<HttpRoute>> Server::add_owned(std::string owner, std::string method, std::string path,
                                                     HttpHandler handler, HttpRouteOptions options) {
  if (path.empty() || path.front() != '/') return invalid_config("path '" + path + "' must start with '/'");
  if (!handler) return invalid_config("route " + path + " has no handler");
  auto entry = std::make_shared<RouteEntry>(RouteEntry{std::move(handler), options.max_body, std::move(owner), nullptr});
  entry->answers = impl_->metrics.route(path);
  auto handle = impl_->routes->add(method, path, std::move(entry));
  if (!handle) return handle;
  if (Status s = open(); !s) return s.error();  // the handle's destructor removes the route
  impl_->log->debug("route {} {} added", method, path);
  return handle;
}

Result<std::unique_ptr<HttpRoute>> Server::add_websocket(std::string path, std::shared_ptr<WebSocketHandler> handler,
                                                         const WebSocketOptions& options) {
  return add_websocket_owned({}, std::move(path), std::move(handler), options, nullptr);
}

Result<std::unique_ptr<HttpRoute>> Server::add_websocket_owned(std::string owner, std::string path,
                                                               std::shared_ptr<WebSocketHandler> handler,
                                                               const WebSocketOptions& options, Executor* executor) {
  if (path.empty() || path.front() != '/') return invalid_config("path '" + path + "' must start with '/'");
  if (!handler) return invalid_config("route " + path + " has no handler");
  if (options.max_message == 0 || options.send_queue == 0) {
    return invalid_config("route " + path + ": max_message and send_queue must be at least 1 byte");
  }
  auto route = std::make_shared<WebSocketRoute>(std::move(handler), options, executor);
  auto entry = std::make_shared<RouteEntry>();
  entry->owner = std::move(owner);
  entry->websocket = route;
  entry->answers = impl_->metrics.route(path);
  auto handle = impl_->routes->add("GET", path, std::move(entry));
  if (!handle) return handle;
  std::unique_ptr<HttpRoute> owned = std::make_unique<WebSocketRouteHandle>(std::move(*handle), std::move(route));
  if (Status s = open(); !s) return s.error();  // the handle's destructor removes the route
  impl_->log->debug("WebSocket route GET {} added", path);
  return owned;
}

Result<std::unique_ptr<HttpRoute>> Server::add_event_stream(std::string path, EventStreamHandler handler,
                                                            EventStreamOptions options) {
  if (path.empty() || path.front() != '/') return invalid_config("path '" + path + "' must start with '/'");
  if (!handler) return invalid_config("route " + path + " has no handler");
  auto entry = std::make_shared<RouteEntry>();
  entry->stream = std::move(handler);
  entry->max_buffered = options.max_buffered;
  entry->answers = impl_->metrics.route(path);
  auto handle = impl_->routes->add("GET", path, std::move(entry));
  if (!handle) return handle;
  if (Status s = open(); !s) return s.error();  // the handle's destructor removes the route
  impl_->log->debug("event stream GET {} added", path);
  return handle;
}

}  // namespace switchyard::http
