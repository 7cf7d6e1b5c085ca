// WebSocket connections on the shared listener (RFC 6455, Boost.Beast): the upgrade, a send
// queue per connection that any thread may fill up to its bound, the heartbeat, the close
// handshake. permessage-deflate is compiled out: compressing attacker-chosen data next to
// secrets in one stream is how CRIME/BREACH-style attacks read the secrets.
#include "http/websocket.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <utility>

#include "http/listener.hpp"
#include "http/websocket_connection.hpp"

namespace switchyard::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

// --- WebSocketRoute ------------------------------------------------------------------

std::optional<WebSocketUpgrade> WebSocketRoute::upgrade(const WebSocketRequest& request) {
  auto pass = gate_.enter();
  if (!pass || !handler_) return std::nullopt;
  return handler_->upgrade(request);
}

void WebSocketRoute::post(std::function<void(WebSocketHandler&)> task) {
  auto pass = gate_.enter();
  if (!pass || !handler_) return;
  if (executor_ == nullptr) return task(*handler_);
  // The task finds the handler through the route: detach() drops it on the component's
  // strand, where these tasks run, so none reaches the handler after that.
  executor_->post([self = shared_from_this(), task = std::move(task)] {
    if (!self->detached_->load(std::memory_order_acquire) && self->handler_) task(*self->handler_);
  });
}

bool WebSocketRoute::track(const std::shared_ptr<WebSocketConnectionImpl>& connection) {
  std::lock_guard lock(mutex_);
  if (detached_->load(std::memory_order_acquire)) return false;
  // Dropping expired entries costs a pass over all of them: do it once the list has doubled.
  if (connections_.size() >= 2 * live_after_prune_ + 64) {
    std::erase_if(connections_, [](const auto& w) { return w.expired(); });
    live_after_prune_ = connections_.size();
  }
  connections_.push_back(connection);
  return true;
}

void WebSocketRoute::detach() {
  detached_->store(true, std::memory_order_release);
  gate_.close();
  handler_.reset();
  std::vector<std::shared_ptr<WebSocketConnectionImpl>> open;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : connections_) {
      if (auto c = w.lock()) open.push_back(std::move(c));
    }
    connections_.clear();
  }
  for (auto& c : open) c->close(websocket_close::kGoingAway, "endpoint removed");
}

namespace {

// --- the socket under a plain connection's Beast stream ------------------------------------

// A plain TCP socket that lets Beast's writes (the handshake answer, ping, pong, close) and
// the frames written without Beast (send() and the session, see websocket_connection.hpp)
// take turns: a Beast write takes the socket from the connection first, and waits for the
// session's frame when it cannot. Beast writes one whole frame per async_write, and its
// continuations run inside the completion of the last write_some: the socket is given back
// only once a completion starts no further write.
class FrameSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;

  explicit FrameSocket(tcp::socket&& socket) : socket_(std::move(socket)) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  tcp::socket& next_layer() noexcept { return socket_; }
  const tcp::socket& next_layer() const noexcept { return socket_; }

  /// From now on Beast's writes take turns with `connection`'s; `resume` wakes the session
  /// when a Beast write gives the socket back with frames queued.
  void share(std::shared_ptr<WebSocketConnectionImpl> connection, std::function<void()> resume) {
    state_->connection = std::move(connection);
    state_->resume = std::move(resume);
  }

  /// The session lets the socket go: to Beast's waiting write, if any (it starts now).
  /// True when frames are queued.
  bool release() {
    const bool waiting = static_cast<bool>(state_->deferred);
    const bool queued = state_->connection->release_socket(waiting);
    if (waiting) std::exchange(state_->deferred, nullptr)->start();
    return queued;
  }

  /// A close frame goes out: send() writes no more and no data frame follows.
  void frames_end() {
    if (state_->connection) state_->connection->stop_writing_directly(true);
  }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) { write_some(b, std::move(handler)); }, token, buffers);
  }

 private:
  struct Deferred {
    virtual ~Deferred() = default;
    virtual void start() = 0;
  };
  template <class Buffers, class Handler>
  struct DeferredWrite final : Deferred {
    DeferredWrite(FrameSocket& s, const Buffers& b, Handler&& h) : socket(s), buffers(b), handler(std::move(h)) {}
    void start() override { socket.start_write(buffers, std::move(handler)); }
    FrameSocket& socket;
    Buffers buffers;
    Handler handler;
  };
  struct State {
    std::shared_ptr<WebSocketConnectionImpl> connection;  // unset: during the handshake
    std::function<void()> resume;
    std::unique_ptr<Deferred> deferred;  // Beast's write waiting for the session's frame
    bool completing = false, again = false;
  };

  template <class Buffers, class Handler>
  void write_some(const Buffers& buffers, Handler&& handler) {
    if (state_->completing) {
      state_->again = true;  // the same frame goes on, or Beast's next write right after it
    } else if (state_->connection && !state_->connection->take_socket(WebSocketConnectionImpl::Writer::beast)) {
      state_->deferred = std::make_unique<DeferredWrite<Buffers, std::decay_t<Handler>>>(*this, buffers, std::move(handler));
      return;
    }
    start_write(buffers, std::move(handler));
  }

  template <class Buffers, class Handler>
  void start_write(const Buffers& buffers, Handler&& handler) {
    socket_.async_write_some(buffers, [state = state_, handler = std::move(handler)](beast::error_code ec,
                                                                                      std::size_t n) mutable {
      state->completing = true;
      state->again = false;
      std::move(handler)(ec, n);
      state->completing = false;
      if (state->again || !state->connection) return;
      if (state->connection->release_socket(false) && state->resume) state->resume();
    });
  }

  tcp::socket socket_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Beast's close handshake ends with a teardown of the next layer: no frame follows it.
template <class Handler>
void async_teardown(beast::role_type role, FrameSocket& socket, Handler&& handler) {
  socket.frames_end();
  websocket::async_teardown(role, socket.next_layer(), std::forward<Handler>(handler));
}

// --- one connection: the socket's side --------------------------------------------------

// Messages of one client handed to the component and not yet handled: past this, the
// session stops reading (the client is held back by TCP, not buffered for).
constexpr int kMaxInFlight = 4;

template <class Stream>
class WebSocketSession final : public Flusher, public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  using Frame = WebSocketConnectionImpl::Frame;
  // Plain connections write their data frames themselves (header + the shared message);
  // TLS ones through Beast.
  static constexpr bool kRaw = std::is_same_v<Stream, FrameSocket>;

  WebSocketSession(std::shared_ptr<Listener> listener, Stream&& stream, std::shared_ptr<WebSocketRoute> route,
                   std::string remote, std::string address)
      : listener_(std::move(listener)), ws_(std::move(stream)), route_(std::move(route)), remote_(std::move(remote)),
        address_(std::move(address)), timer_(ws_.get_executor()) {
    // The connection stays counted against the listener's max_connections (and, through
    // address_, taken over from the HTTP session, against max_connections_per_ip).
    listener_->active.fetch_add(1, std::memory_order_relaxed);
    listener_->metrics.connections->inc();
    std::lock_guard lock(listener_->websockets_mutex);
    ++listener_->websockets;
  }

  ~WebSocketSession() {
    if (connection_) connection_->ended();
    if (!address_.empty()) listener_->connections.release(address_);
    listener_->active.fetch_sub(1, std::memory_order_relaxed);
    listener_->metrics.connections->dec();
    std::lock_guard lock(listener_->websockets_mutex);
    if (--listener_->websockets == 0) listener_->websockets_changed.notify_all();
  }

  void run(bhttp::request<bhttp::string_body> request, WebSocketUpgrade accepted) {
    const WebSocketOptions& options = route_->options();
    if constexpr (!kRaw && !std::is_same_v<Stream, tcp::socket>) {
      beast::get_lowest_layer(ws_).expires_never();  // the websocket stream keeps its own time
    }
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = listener_->settings.read_timeout;  // the 101 answer and the close handshake
    timeouts.idle_timeout = websocket::stream_base::none();         // the heartbeat below instead
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator([sub = accepted.subprotocol](websocket::response_type& res) {
      res.set(bhttp::field::server, "switchyard");
      if (!sub.empty()) res.set(bhttp::field::sec_websocket_protocol, sub);
    }));
    ws_.read_message_max(options.max_message);
    ws_.auto_fragment(false);
    // Any frame from the client (pong, ping, close) shows it is alive.
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { heard_ = true; });
    connection_ = std::make_shared<WebSocketConnectionImpl>(route_, remote_, std::move(accepted));
    if constexpr (kRaw) {
      ws_.next_layer().share(connection_, [weak = this->weak_from_this()] {
        if (auto self = weak.lock()) self->schedule_flush();
      });
    }
    request_ = std::move(request);  // the accept operation reads it until it completes
    ws_.async_accept(*request_, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void schedule_flush() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->flush(); });
  }

 private:
  void on_accept(beast::error_code ec) {
    request_.reset();
    if (ec) {
      listener_->log->debug("{}: WebSocket handshake: {}", remote_, ec.message());
      return;  // never opened: the component does not hear of it
    }
    connection_->attach(std::weak_ptr<Flusher>(this->shared_from_this()));
    if (!route_->track(connection_)) {
      // The route went while the handshake ran.
      connection_->close(websocket_close::kGoingAway, "endpoint removed");
      read();
      return flush();
    }
    if constexpr (kRaw) connection_->write_directly(socket().native_handle());
    route_->post([connection = connection_](WebSocketHandler& h) { h.opened(connection); });
    read();
    arm_heartbeat();
    flush();
  }

  // --- reading ---

  void read() {
    if (finished_) return;
    if (in_flight_ >= kMaxInFlight) {
      paused_ = true;
      return;
    }
    reading_ = true;
    ws_.async_read(read_buf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (ec) return finish(ec);
    heard_ = true;
    if (!ws_.got_text()) {
      read_buf_.consume(read_buf_.size());
      connection_->close(websocket_close::kUnsupportedData, "text messages only");
      return read();
    }
    std::string text = beast::buffers_to_string(read_buf_.data());
    read_buf_.consume(read_buf_.size());
    if (read_buf_.capacity() > 8 * 1024) read_buf_.shrink_to_fit();
    ++in_flight_;
    route_->post([connection = connection_, text = std::move(text), weak = this->weak_from_this(),
                  executor = ws_.get_executor()](WebSocketHandler& h) mutable {
      h.message(connection, std::move(text));
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->handled();
      });
    });
    read();
  }

  // The component handled one of this client's messages.
  void handled() {
    --in_flight_;
    if (paused_ && !finished_) {
      paused_ = false;
      read();
    }
  }

  // --- writing ---

  void flush() {
    if (finished_ || close_started_) return;
    const bool busy = next_ < batch_.size();
    if (!busy) {
      batch_.clear();
      next_ = 0;
      offset_ = 0;
    }
    auto step = connection_->next(busy, batch_, offset_);
    switch (step.kind) {
      case WebSocketConnectionImpl::Step::wait:
        return;
      case WebSocketConnectionImpl::Step::write:
        if (!writing_) write_next();
        return;
      case WebSocketConnectionImpl::Step::close:
        // Dropping: only the message being written (if any) still goes out, and one that
        // send() began on the socket.
        if (step.drop) batch_.resize(writing_ || offset_ > 0 ? next_ + 1 : next_);
        if (!writing_ && next_ < batch_.size()) write_next();
        return start_close(step.code, step.reason);
    }
  }

  void write_next() {
    if constexpr (kRaw) {
      // The frame's header and the shared message, straight to the socket; the socket is
      // the session's until the write completes (Beast's writes wait for it).
      if (!connection_->take_socket(WebSocketConnectionImpl::Writer::session)) return;  // Beast's write resumes us
      writing_ = true;
      const std::string& text = *batch_[next_];
      const std::size_t header_size = text_frame_header(text.size(), header_);
      std::array<asio::const_buffer, 2> parts{asio::buffer(header_, header_size), asio::buffer(text)};
      auto rest = beast::buffers_suffix<std::array<asio::const_buffer, 2>>(parts);
      rest.consume(std::exchange(offset_, 0));
      asio::async_write(socket(), rest, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        self->ws_.next_layer().release();
        self->on_write(ec);
      });
    } else {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(asio::buffer(*batch_[next_]), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        self->on_write(ec);
      });
    }
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (finished_) return;
    if (ec) return teardown();
    const std::size_t bytes = batch_[next_]->size();
    batch_[next_].reset();
    ++next_;
    if (auto drained = connection_->written(bytes)) {
      route_->post([drained = std::move(drained)](WebSocketHandler&) { drained(); });
    }
    if (close_started_) return;
    flush();
  }

  // --- closing ---

  void start_close(std::uint16_t code, const std::string& reason) {
    close_started_ = true;
    if constexpr (kRaw) connection_->stop_writing_directly(false);  // the close frame ends them
    sent_code_ = code;
    sent_reason_ = reason;
    wait(route_->options().close_timeout, &WebSocketSession::close_overdue);
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->teardown();
      if (!self->reading_) self->finish(websocket::error::closed);
    });
  }

  // The close handshake (or the write blocking it) took too long: drop the connection.
  void close_overdue() {
    listener_->log->debug("{}: WebSocket close handshake timed out", remote_);
    teardown();
  }

  tcp::socket& socket() {
    if constexpr (kRaw) {
      return ws_.next_layer().next_layer();
    } else {
      return beast::get_lowest_layer(ws_).socket();
    }
  }

  // Closes the socket; the pending read (if any) then ends the session.
  void teardown() {
    if constexpr (kRaw) connection_->stop_writing_directly(true);
    beast::error_code ignored;
    socket().close(ignored);
    if (!reading_) finish(asio::error::operation_aborted);
  }

  // The connection is over: tell the component how.
  void finish(beast::error_code ec) {
    if (finished_) return;
    finished_ = true;
    ++timer_generation_;
    timer_.cancel();
    WebSocketClosed how;
    if (close_started_) {
      how.code = sent_code_;
      how.reason = sent_reason_;
    } else if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      how.code = reason.code == websocket::close_code::none ? websocket_close::kNoStatus
                                                            : static_cast<std::uint16_t>(reason.code);
      how.reason = std::string(reason.reason.data(), reason.reason.size());
    } else if (ec == websocket::error::message_too_big) {
      how.code = websocket_close::kTooBig;
    } else {
      how.code = websocket_close::kAbnormal;
    }
    connection_->ended();
    beast::error_code ignored;
    socket().close(ignored);
    batch_.clear();
    // A Beast write waiting for a frame that will not be written fails now (closed socket).
    if constexpr (kRaw) {
      if (!writing_) ws_.next_layer().release();
    }
    route_->post([connection = connection_, how = std::move(how)](WebSocketHandler& h) { h.closed(connection, how); });
  }

  // --- heartbeat: a ping every ping_interval; no frame within pong_timeout drops the client ---

  void arm_heartbeat() {
    const auto interval = route_->options().ping_interval;
    if (interval.count() > 0) wait(interval, &WebSocketSession::ping_due);
  }

  void ping_due() {
    if (finished_ || close_started_) return;
    if (ping_in_flight_) return teardown();  // the last ping is still not written: the client does not read
    heard_ = false;
    ping_in_flight_ = true;
    ws_.async_ping({}, [self = this->shared_from_this()](beast::error_code ec) {
      self->ping_in_flight_ = false;
      if (ec && !self->finished_) self->teardown();
    });
    wait(route_->options().pong_timeout, &WebSocketSession::pong_due);
  }

  void pong_due() {
    if (finished_ || close_started_) return;
    if (!heard_ || ping_in_flight_) {
      listener_->metrics.timed_out->inc();
      listener_->log->debug("{}: WebSocket client did not answer a ping in time; dropping it", remote_);
      return teardown();
    }
    arm_heartbeat();
  }

  // One timer for the heartbeat and the close deadline; re-arming invalidates the last wait.
  void wait(std::chrono::milliseconds delay, void (WebSocketSession::*then)()) {
    const auto generation = ++timer_generation_;
    timer_.expires_after(delay);
    timer_.async_wait([self = this->shared_from_this(), generation, then](beast::error_code ec) {
      if (ec || generation != self->timer_generation_) return;
      ((*self).*then)();
    });
  }

  std::shared_ptr<Listener> listener_;
  websocket::stream<Stream, false> ws_;  // false: no permessage-deflate code at all
  std::shared_ptr<WebSocketRoute> route_;
  std::string remote_;
  std::string address_;  // as counted in Listener::connections; released at the end
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  std::optional<bhttp::request<bhttp::string_body>> request_;  // during the handshake only
  std::shared_ptr<WebSocketConnectionImpl> connection_;
  beast::flat_buffer read_buf_;
  std::vector<Frame> batch_;  // taken from the connection's queue; next_ is the next to write
  std::size_t next_ = 0;
  std::size_t offset_ = 0;       // bytes of batch_[next_]'s frame already written (by send())
  unsigned char header_[10]{};   // the header of the frame being written (plain connections)
  int in_flight_ = 0;
  bool reading_ = false, paused_ = false, writing_ = false;
  bool heard_ = false, ping_in_flight_ = false;
  bool close_started_ = false, finished_ = false;
  std::uint16_t sent_code_ = 0;
  std::string sent_reason_;
};

// `Stream` is what the WebSocket runs on; `From` the session's stream it is taken from.
template <class Stream, class From>
std::optional<HttpResponse> upgrade(const std::shared_ptr<Listener>& listener, From& stream,
                                    bhttp::request_parser<bhttp::string_body>& parser, bool bytes_after_request,
                                    const std::shared_ptr<WebSocketRoute>& route, std::string_view remote,
                                    std::string& address) {
  const auto& req = parser.get();
  if (!websocket::is_upgrade(req)) {
    HttpResponse answer = HttpResponse::error(426, "this path takes WebSocket connections only");
    answer.headers.set("Upgrade", "websocket");
    answer.headers.set("Sec-WebSocket-Version", "13");
    return answer;
  }
  // RFC 6455 4.1: the client waits for the server's answer before it sends anything.
  if (parser.chunked() || parser.content_length().value_or(0) > 0 || bytes_after_request) {
    return HttpResponse::error(400, "an upgrade request has no body and nothing may follow it before the answer");
  }
  HttpHeaders headers;
  std::string offered;
  for (const auto& field : req) {
    headers.add(std::string(field.name_string()), std::string(field.value()));
    if (field.name() == bhttp::field::sec_websocket_protocol) {
      offered += (offered.empty() ? "" : ", ") + std::string(field.value());
    }
  }
  const std::vector<std::string_view> subprotocols = parse_subprotocols(offered);
  const std::string_view target(req.target().data(), req.target().size());
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  const HttpRequest request{"GET", path, query, headers, std::string_view("", 0), remote};
  std::optional<WebSocketUpgrade> decision;
  try {
    decision = route->upgrade(WebSocketRequest{request, subprotocols});
  } catch (const std::exception& ex) {
    listener->log->error("GET {}: WebSocket upgrade handler threw: {}", path, ex.what());
    return HttpResponse::error(500, "internal error");
  }
  if (!decision) return HttpResponse::error(404, "no route for " + std::string(path));
  if (decision->refusal) return std::move(decision->refusal);
  if (!decision->subprotocol.empty() &&
      std::find(subprotocols.begin(), subprotocols.end(), decision->subprotocol) == subprotocols.end()) {
    listener->log->error("GET {}: the handler chose subprotocol '{}', which the client did not offer", path,
                         decision->subprotocol);
    return HttpResponse::error(500, "internal error");
  }
  auto session = [&] {
    if constexpr (std::is_same_v<Stream, From>) {
      return std::make_shared<WebSocketSession<Stream>>(listener, std::move(stream), route, std::string(remote),
                                                        std::exchange(address, {}));
    } else {
      return std::make_shared<WebSocketSession<Stream>>(listener, Stream(stream.release_socket()), route, std::string(remote),
                                                        std::exchange(address, {}));
    }
  }();
  session->run(parser.release(), std::move(*decision));
  return std::nullopt;
}

}  // namespace

void await_websockets(Listener& listener, std::chrono::milliseconds limit) {
  std::unique_lock lock(listener.websockets_mutex);
  listener.websockets_changed.wait_for(lock, limit, [&] { return listener.websockets == 0; });
}

std::optional<HttpResponse> upgrade_websocket(const std::shared_ptr<Listener>& listener, beast::tcp_stream& stream,
                                              bhttp::request_parser<bhttp::string_body>& parser,
                                              bool bytes_after_request, const std::shared_ptr<WebSocketRoute>& route,
                                              std::string_view remote, std::string& address) {
  // Plain connections: the bare socket, without tcp_stream's timeout layer (unused here, and
  // a measurable share of the cost of each message written when broadcasting).
  return upgrade<FrameSocket>(listener, stream, parser, bytes_after_request, route, remote, address);
}

std::optional<HttpResponse> upgrade_websocket(const std::shared_ptr<Listener>& listener,
                                              beast::ssl_stream<beast::tcp_stream>& stream,
                                              bhttp::request_parser<bhttp::string_body>& parser,
                                              bool bytes_after_request, const std::shared_ptr<WebSocketRoute>& route,
                                              std::string_view remote, std::string& address) {
  return upgrade<beast::ssl_stream<beast::tcp_stream>>(listener, stream, parser, bytes_after_request, route, remote,
                                                       address);
}

}  // namespace switchyard::http
