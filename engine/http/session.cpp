// One client connection of the listener: reads requests one after the other (keep-alive),
// routes them, writes answers, and carries Server-Sent Events streams. Plain TCP or TLS. An
// upgrade on a WebSocket route hands the connection to websocket.cpp.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <optional>
#include <thread>

#include "http/fields.hpp"
#include "http/listener.hpp"
#include "http/request_head.hpp"
#include "http/websocket.hpp"

namespace switchyard::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// One client connection: reads requests one after the other (keep-alive), routes them,
// and writes answers. All of it on the connection's strand.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<Listener> server, Stream stream, std::string remote, std::string address)
      : server_(std::move(server)), stream_(std::move(stream)), remote_(std::move(remote)), address_(std::move(address)),
        // What the parser has not consumed yet stays in the buffer: at most the headers, or a
        // chunk-size line with its extensions, or a trailer line, plus one read. Beast bounds
        // neither chunk extensions nor trailers, so this bound is what keeps one connection
        // from buffering without end (it reads buffer_overflow, answered 431 or 400).
        buffer_(server_->settings.max_header + kReadSize),
        handler_timer_(stream_.get_executor()), idle_timer_(stream_.get_executor()) {}

  ~Session() {
    if (stream_state_) {
      stream_state_->detach();
      server_->streams_open.fetch_sub(1, std::memory_order_relaxed);
      server_->metrics.streams->dec();
    }
    server_->connections.busy(idle_);
    if (!address_.empty()) server_->connections.release(address_);
    server_->active.fetch_sub(1, std::memory_order_relaxed);
    server_->metrics.connections->dec();
  }

  void run() {
    if constexpr (kPlain) {
      // Synchronous reads and writes below must never block the thread: they try, and an
      // operation that would block goes the asynchronous way.
      beast::error_code ec;
      lowest().socket().non_blocking(true, ec);
      if (ec) return fail(ec, "making the socket non-blocking");
    }
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(server_->settings.read_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->fail(ec, "TLS handshake");
                                self->wait_next(self->settings().read_timeout);
                              });
    } else {
      wait_next(settings().read_timeout);
    }
  }

 private:
  // Plain TCP (not TLS): requests are read and answers written synchronously when the
  // data is already there or the socket has room (see read_header, respond).
  static constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;
  static constexpr std::size_t kReadSize = 64 * 1024;  // the most one read adds to the buffer
  static bool would_block(const beast::error_code& ec) {
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  auto& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerSettings& settings() const { return server_->settings; }

  // Waits for the first bytes of the next request (idle_timeout between keep-alive
  // requests), then gives the whole request read_timeout. The first read asks for up to
  // 16 KiB, so a typical webhook (headers and an 8 KB body) arrives in one system call.
  // Meanwhile the connection is idle: a new connection at max_connections may end it.
  void wait_next(std::chrono::milliseconds wait) {
    if (buffer_.size() > 0) return read_header();
    if constexpr (kPlain) {
      // The wait is the socket's own read, under the session's idle deadline rather than a
      // Beast timeout: arming and cancelling a timer for every keep-alive request cost an
      // allocation, two timer-queue updates and a cancelled handler run per request.
      idle_until_ = Clock::now() + wait;
      // Re-armed only when the deadline comes sooner than the one it waits for (the first
      // wait has read_timeout, the next ones idle_timeout).
      if (!idle_timer_armed_ || idle_until_ < idle_timer_.expiry()) arm_idle_timer();
    } else {
      lowest().expires_after(wait);
    }
    if (!idle_.evict) {
      idle_.evict = [weak = this->weak_from_this(), executor = stream_.get_executor()] {
        asio::post(executor, [weak] {
          if (auto self = weak.lock()) self->lowest().cancel();  // the pending read ends: close()
        });
      };
    }
    server_->connections.idle(idle_);
    auto next = [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
      self->waiting_ = false;
      self->server_->connections.busy(self->idle_);
      if (ec) return self->close();  // idle timeout, evicted, or the client left: not an error
      self->buffer_.commit(n);
      self->read_header();
    };
    waiting_ = true;
    if constexpr (kPlain) {
      lowest().socket().async_read_some(buffer_.prepare(16 * 1024), std::move(next));
    } else {
      stream_.async_read_some(buffer_.prepare(16 * 1024), std::move(next));
    }
  }

  // The idle deadline's timer (plain TCP): armed once and moved on lazily. When it fires
  // before the deadline (requests kept coming), it waits again for the rest; past it, with
  // the connection still waiting, the read is cancelled and the connection closes. So it
  // runs about once per idle_timeout, not once per request. It holds the session weakly:
  // a connection that ended is not kept until its timer fires.
  void arm_idle_timer() {
    idle_timer_armed_ = true;
    idle_timer_.expires_at(idle_until_);
    idle_timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;  // re-armed, or closed
      self->idle_timer_armed_ = false;
      if (ec || !self->waiting_) return;  // the next wait arms it again
      if (Clock::now() < self->idle_until_) return self->arm_idle_timer();
      beast::error_code ignored;
      self->lowest().socket().cancel(ignored);  // the read ends: close()
    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(settings().max_header));
    // The body limit depends on the route, known only once the headers are in: no limit
    // while reading them (the parser would otherwise refuse a large Content-Length early,
    // before we can answer 413).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    deadline_ = Clock::now() + settings().read_timeout;  // for the whole request
    if constexpr (kPlain) {
      // The first read usually brought the whole request: parse what is buffered now
      // rather than through a queued completion. Only a request still on its way goes
      // the asynchronous way, under the read timeout.
      beast::error_code ec;
      bhttp::read_header(stream_, buffer_, *parser_, ec);
      if (!would_block(ec)) return on_header(ec);
    }
    lowest().expires_at(deadline_);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return respond_and_close(HttpResponse::error(431, "request headers too large"));
    }
    // A request the parser refuses (ambiguous framing: two Content-Lengths, one with
    // Transfer-Encoding; a bad request line) is told why, not just cut off.
    if (ec.category() == make_error_code(bhttp::error::bad_target).category() && ec != bhttp::error::end_of_stream) {
      return respond_and_close(HttpResponse::error(400, "malformed request: " + ec.message()));
    }
    if (ec) return fail(ec, "reading request headers");
    const auto& req = parser_->get();
    const Target target = split_target(std::string_view(req.target().data(), req.target().size()));
    path_ = std::string(target.path);
    query_ = std::string(target.query);
    method_ = std::string(req.method_string());
    if (auto te = req.find(bhttp::field::transfer_encoding); te != req.end()) {
      if (auto refusal = check_transfer_encoding(std::string_view(te->value().data(), te->value().size()),
                                                 parser_->chunked())) {
        return respond_and_close(HttpResponse::error(refusal->status, refusal->reason));
      }
    }
    std::string allow;
    route_ = server_->routes->find(method_, path_, allow);
    route_answers_ = route_ ? route_->answers : RouteAnswers{};
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    if (!route_) {
      HttpResponse r;
      if (!allow.empty()) {
        server_->metrics.not_found->inc();
        r = HttpResponse::error(405, method_ + " is not allowed on " + path_);
        r.headers.set("Allow", allow);
      } else if (server_->routes->expected(path_)) {
        // Configured, its pipeline still starting: come back, rather than "no such path".
        r = HttpResponse::error(503, "the pipeline serving " + path_ + " is starting");
        r.headers.set("Retry-After", "1");
      } else {
        server_->metrics.not_found->inc();
        r = HttpResponse::error(404, "no route for " + path_);
      }
      // The body was not read: the connection cannot carry another request.
      return has_body ? respond_and_close(std::move(r)) : respond(std::move(r), req.keep_alive());
    }
    if (route_->websocket) {
      auto answer = upgrade_websocket(server_, stream_, *parser_, buffer_.size() > 0, route_->websocket, remote_,
                                      address_);
      if (!answer) return;  // the connection carries a WebSocket now (websocket.cpp)
      return has_body ? respond_and_close(std::move(*answer)) : respond(std::move(*answer), req.keep_alive());
    }
    const std::uint64_t limit = route_->max_body != 0 ? route_->max_body : settings().max_body;
    if (parser_->content_length() && *parser_->content_length() > limit) {
      server_->metrics.too_large->inc();
      return respond_and_close(HttpResponse::error(
          413, "body of " + std::to_string(*parser_->content_length()) +
                   " bytes exceeds the limit of " + std::to_string(limit)));
    }
    parser_->body_limit(limit);
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       req.version());
      lowest().expires_at(deadline_);  // the header may have been read without a deadline armed
      return bhttp::async_write(stream_, *cont,
                                [self = this->shared_from_this(), cont](beast::error_code e, std::size_t) {
                                  if (e) return self->fail(e, "writing 100 Continue");
                                  self->read_body();
                                });
    }
    read_body();
  }

  void read_body() {
    if constexpr (kPlain) {
      beast::error_code ec;
      bhttp::read(stream_, buffer_, *parser_, ec);
      if (!would_block(ec)) return on_body(ec);
    }
    lowest().expires_at(deadline_);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_body(ec);
                      });
  }

  void on_body(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      server_->metrics.too_large->inc();
      return respond_and_close(HttpResponse::error(413, "body exceeds the size limit"));
    }
    if (ec == bhttp::error::buffer_overflow) {
      return respond_and_close(HttpResponse::error(400, "a chunk-size line or trailer field is too long"));
    }
    if (ec) return fail(ec, "reading request body");
    lowest().expires_never();
    dispatch();
  }

  void dispatch() {
    auto& req = parser_->get();
    HttpHeaders headers;
    for (const auto& field : req) {
      headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    keep_alive_ = req.keep_alive();
    const HttpRequest request{method_, path_, query_, headers, req.body(), remote_};
    if (route_->stream) return dispatch_stream(request);

    // The reply may come from any thread, once; the first of reply and timeout wins. A
    // reply made while the handler is still running on this thread (the usual case: the
    // pipeline accepted the event at once) is answered right here, without a post or a
    // timer; only a handler that returns without answering arms the handler timeout.
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto self = this->shared_from_this();
    dispatch_thread_ = std::this_thread::get_id();
    dispatching_.store(true, std::memory_order_release);
    HttpReply reply = [self, once](HttpResponse response) {
      if (once->exchange(true)) return;
      if (self->dispatching_.load(std::memory_order_acquire) &&
          self->dispatch_thread_ == std::this_thread::get_id()) {
        self->sync_response_ = std::move(response);
        return;
      }
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->handler_timer_.cancel();
        self->respond(std::move(response), self->keep_alive_);
      });
    };
    auto route = std::move(route_);
    try {
      route->handler(request, reply);
    } catch (const std::exception& ex) {
      server_->log->error("{} {}: handler threw: {}", method_, path_, ex.what());
      reply(HttpResponse::error(500, "internal error"));
    } catch (...) {
      server_->log->error("{} {}: handler threw", method_, path_);
      reply(HttpResponse::error(500, "internal error"));
    }
    dispatching_.store(false, std::memory_order_release);
    if (sync_response_) {
      HttpResponse response = std::move(*sync_response_);
      sync_response_.reset();
      return respond(std::move(response), keep_alive_, Send::batched);
    }
    if (once->load()) return;  // answered from another thread; its post responds
    handler_timer_.expires_after(settings().handler_timeout);
    handler_timer_.async_wait([reply, self](beast::error_code ec) {
      if (ec) return;
      self->server_->log->warn("{} {}: handler did not answer in time", self->method_, self->path_);
      reply(HttpResponse::unavailable("the pipeline did not answer in time", 5));
    });
  }

  // --- Server-Sent Events ---

  void dispatch_stream(const HttpRequest& request) {
    auto route = std::move(route_);
    auto state = std::make_shared<StreamState>(route->max_buffered);
    std::optional<HttpResponse> answer;
    try {
      answer = route->stream(request, state);
    } catch (const std::exception& ex) {
      server_->log->error("{} {}: handler threw: {}", method_, path_, ex.what());
      answer = HttpResponse::error(500, "internal error");
    } catch (...) {
      server_->log->error("{} {}: handler threw", method_, path_);
      answer = HttpResponse::error(500, "internal error");
    }
    if (answer) {
      state->detach();
      return respond(std::move(*answer), keep_alive_);
    }
    // From here the connection carries this one response until either side ends it. The
    // read has no deadline (the client only listens); each write has read_timeout.
    stream_state_ = state;
    server_->streams_open.fetch_add(1, std::memory_order_relaxed);
    server_->metrics.streams->inc();
    server_->add_stream(state);
    std::weak_ptr<Session> weak = this->shared_from_this();
    state->attach(kStreamHead, [weak, executor = stream_.get_executor()] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->flush_stream();
      });
    });
    lowest().expires_never();
    watch_client();
    flush_stream();
  }

  // Keeps a read open to notice the client leaving; what it sends is ignored.
  void watch_client() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec,
                                                                                    std::size_t n) {
      if (ec) return self->end_stream();
      self->buffer_.commit(n);
      self->watch_client();
    });
  }

  void flush_stream() {
    if (!stream_state_) return;
    switch (stream_state_->take(out_)) {
      case StreamState::Next::wait:
        return;
      case StreamState::Next::finish:
        return end_stream();
      case StreamState::Next::drop:
        server_->streams_dropped.fetch_add(1, std::memory_order_relaxed);
        server_->metrics.streams_dropped->inc();
        server_->log->warn("{} {}: event-stream client {} fell more than {} bytes behind; dropped", method_, path_,
                           remote_, stream_state_->limit());
        return end_stream();
      case StreamState::Next::write:
        break;
    }
    lowest().expires_after(settings().read_timeout);  // the write's deadline (the read has none)
    asio::async_write(stream_, asio::buffer(out_), [self = this->shared_from_this()](
                                                              beast::error_code ec, std::size_t) {
      if (!self->stream_state_) return;
      if (ec) {
        if (ec == beast::error::timeout) self->server_->metrics.timed_out->inc();
        self->server_->log->debug("{}: event stream: {}", self->remote_, ec.message());
        return self->end_stream();
      }
      self->stream_state_->written();
      self->flush_stream();
    });
  }

  // Ends the stream and closes the connection (which cancels the pending read and write).
  void end_stream() {
    if (!stream_state_) return;
    stream_state_->detach();
    stream_state_.reset();
    server_->streams_open.fetch_sub(1, std::memory_order_relaxed);
    server_->metrics.streams->dec();
    beast::error_code ignored;
    lowest().socket().close(ignored);
  }


  void respond_and_close(HttpResponse response) { respond(std::move(response), false); }

  // When an answer is written: at once, or once the handlers already queued on this I/O
  // thread have run. Batched answers to requests that arrived together (on other
  // connections) leave in a burst, so a client waiting on several connections is woken once
  // for several of them rather than once for each: with 64 connections wrk spends a quarter
  // less CPU per request, which on a shared machine is throughput (docs/performance.md).
  enum class Send { now, batched };

  // Serialises the answer by hand into the session's output buffer (reused across
  // keep-alive requests, so a typical answer costs no allocation), then sends it.
  void respond(HttpResponse response, bool keep_alive, Send send = Send::now) {
    // 1xx answers would need different framing and nothing sends them here: a handler's
    // status outside 200-599 is a bug, answered as one.
    if (response.status < 200 || response.status > 599) {
      server_->log->error("{} {}: handler answered status {}; sending 500", method_, path_, response.status);
      response = HttpResponse::error(500, "internal error");
    }
    server_->metrics.answered(response.status);
    std::exchange(route_answers_, RouteAnswers{}).answered(response.status);
    const auto status = static_cast<unsigned>(response.status);
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    out_.clear();
    out_ += "HTTP/1.1 ";
    out_ += std::to_string(status);
    out_ += ' ';
    out_.append(reason.data(), reason.size());
    out_ += "\r\nServer: switchyard\r\n";
    for (const auto& f : response.headers) {
      // Handlers may echo request data into headers: never let a line break through, and
      // the framing headers are the server's to write.
      if (!is_token(f.name) || !is_field_value(f.value) ||
          beast::iequals(f.name, "Content-Length") || beast::iequals(f.name, "Connection") ||
          beast::iequals(f.name, "Transfer-Encoding")) {
        continue;
      }
      out_ += f.name;
      out_ += ": ";
      out_ += f.value;
      out_ += "\r\n";
    }
    if (status >= 200 && status != 204 && status != 304) {
      out_ += "Content-Length: ";
      out_ += std::to_string(response.body.size());
      out_ += "\r\n";
    }
    if (!keep_alive) out_ += "Connection: close\r\n";
    out_ += "\r\n";
    // A HEAD answer says how long the body would be and sends none (RFC 9110 9.3.2).
    if (status != 204 && status != 304 && method_ != "HEAD") out_ += response.body;
    if (send == Send::now) return send_out(keep_alive);
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), keep_alive] { self->send_out(keep_alive); });
  }

  // Writes out_, the serialised answer.
  void send_out(bool keep_alive) {
    std::size_t sent = 0;
    if constexpr (kPlain) {
      // Usually the answer fits the socket's send buffer: write it now, without arming the
      // write timeout and queueing a completion (a timer, a cancel and a scheduler round
      // trip per request). Whatever does not fit goes the asynchronous way, with the timeout.
      beast::error_code ec;
      sent = lowest().socket().write_some(asio::buffer(out_), ec);
      if (ec && !would_block(ec)) return fail(ec, "writing response");
      if (sent == out_.size()) return written(keep_alive);
    }
    lowest().expires_after(settings().read_timeout);
    asio::async_write(stream_, asio::buffer(out_.data() + sent, out_.size() - sent),
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec) return self->fail(ec, "writing response");
                        self->written(keep_alive);
                      });
  }

  // The answer is out: close, or wait for the next request on this connection.
  void written(bool keep_alive) {
    // A large answer does not keep its buffer for the rest of a keep-alive connection.
    if (out_.capacity() > 64 * 1024) std::string().swap(out_);
    if (!keep_alive) return close();
    parser_.reset();
    if (buffer_.size() > 0) {
      // The client pipelined the next request: continue from the event loop rather than
      // deeper in this call stack (reads, handler and answer can all complete synchronously,
      // so thousands of pipelined requests would otherwise nest as deep).
      asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->read_header(); });
      return;
    }
    wait_next(settings().idle_timeout);
  }

  void fail(beast::error_code ec, const char* what) {
    if (ec == beast::error::timeout) {
      server_->metrics.timed_out->inc();
      server_->log->debug("{}: {} timed out; closing", remote_, what);
    } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
               ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
      server_->log->debug("{}: {}: {}", remote_, what, ec.message());
    }
    close();
  }

  void close() {
    beast::error_code ignored;
    if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
      lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignore;
        self->lowest().socket().close(ignore);
      });
    } else {
      idle_timer_.cancel();
      // Lingering close: stop sending, then discard what the client still sends for a
      // moment. Closing with unread data makes the kernel send RST, and the client may
      // lose the answer (a 413 for a body we refused to read) before it reads it.
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      lowest().expires_after(std::chrono::seconds(1));
      linger(0);
    }
  }

  void linger(std::size_t discarded) {
    static constexpr std::size_t kMaxDiscard = 1024 * 1024;
    if (discarded > kMaxDiscard) {
      beast::error_code ignored;
      lowest().socket().close(ignored);
      return;
    }
    buffer_.consume(buffer_.size());
    lowest().async_read_some(buffer_.prepare(64 * 1024), [self = this->shared_from_this(), discarded](
                                                            beast::error_code ec, std::size_t n) {
      if (ec) {
        beast::error_code ignored;
        self->lowest().socket().close(ignored);
        return;
      }
      self->buffer_.commit(n);
      self->linger(discarded + n);
    });
  }

  std::shared_ptr<Listener> server_;
  Stream stream_;
  std::string remote_;
  std::string address_;  // counted per address in the listener (empty: not counted)
  IdleConnection idle_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<RouteEntry> route_;
  RouteAnswers route_answers_;  // the routed request's counters, until it is answered
  std::string method_, path_, query_;
  bool keep_alive_ = true;
  asio::steady_timer handler_timer_;
  asio::steady_timer idle_timer_;  // plain TCP: the idle deadline between requests
  Clock::time_point idle_until_;
  bool idle_timer_armed_ = false;
  bool waiting_ = false;  // a read for the next request is pending
  std::atomic<bool> dispatching_{false};
  std::thread::id dispatch_thread_;
  std::optional<HttpResponse> sync_response_;
  std::shared_ptr<StreamState> stream_state_;  // set while the connection carries an event stream
  std::string out_;  // the bytes of the write in flight (an answer, or event-stream frames)
  Clock::time_point deadline_;  // the current request must be read by then (read_timeout)
};

}  // namespace

void start_session(const std::shared_ptr<Listener>& listener, tcp::socket socket, std::string remote,
                   std::string address) {
  if (listener->tls) {
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        listener, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *listener->tls), std::move(remote),
        std::move(address))
        ->run();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(listener, beast::tcp_stream(std::move(socket)), std::move(remote),
                                                 std::move(address))
        ->run();
  }
}

}  // namespace switchyard::http
