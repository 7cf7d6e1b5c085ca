#include "http/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "http/endpoint.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct RouteEntry {
  HttpHandler handler;
  std::uint64_t max_body = 0;
  std::string owner;  // the pipeline that registered it; empty: none
  // The route this one replaced (the previous version of the same pipeline during a hot
  // reload); it serves again if this one goes first.
  std::shared_ptr<RouteEntry> shadowed;
  EventStreamHandler stream;  // set: a Server-Sent Events route (handler is empty)
  std::size_t max_buffered = 0;
};

// One Server-Sent Events response: the frames the handler's side queues (any thread) and
// the session writes (its strand). At most one write is in flight; the bytes queued plus
// the bytes of that write are bounded by max_buffered, past which the client is dropped.
class StreamState final : public EventStream {
 public:
  enum class Next { wait, write, finish, drop };

  explicit StreamState(std::size_t max_buffered) : max_(max_buffered) {}

  bool send(std::string_view name, std::string_view data) override {
    std::string frame;
    frame.reserve(name.size() + data.size() + 16);
    if (!name.empty()) {
      frame += "event: ";
      for (char c : name) frame += (c == '\r' || c == '\n') ? ' ' : c;
      frame += '\n';
    }
    // One data: line per line of `data`: CR, LF and CRLF all end a line in SSE, so none
    // can smuggle in a field of its own.
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = data.find_first_of("\r\n", start);
      frame += "data: ";
      frame.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      frame += '\n';
      if (end == std::string_view::npos) break;
      start = end + 1;
      if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
    }
    frame += '\n';
    return queue(std::move(frame));
  }

  bool comment(std::string_view text) override {
    std::string frame = ": ";
    for (char c : text) frame += (c == '\r' || c == '\n') ? ' ' : c;
    frame += "\n\n";
    return queue(std::move(frame));
  }

  bool open() const override {
    std::lock_guard lock(mutex_);
    return !ended_;
  }

  void close() override {
    std::function<void()> kick;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return;
      ended_ = true;
      kick = take_kick();
    }
    if (kick) kick();
  }

  // --- the session's side (its strand) ---

  /// Starts writing: `head` goes before anything queued; `kick` schedules a flush.
  void attach(std::string_view head, std::function<void()> kick) {
    std::lock_guard lock(mutex_);
    pending_.insert(0, head);
    kick_ = std::move(kick);
  }
  /// What to do next; with Next::write, `out` holds the bytes to write.
  Next take(std::string& out) {
    std::lock_guard lock(mutex_);
    kicked_ = false;
    if (dropped_) return Next::drop;
    if (writing_) return Next::wait;
    if (!pending_.empty()) {
      out.clear();
      out.swap(pending_);
      in_flight_ = out.size();
      writing_ = true;
      return Next::write;
    }
    return ended_ ? Next::finish : Next::wait;
  }
  void written() {
    std::lock_guard lock(mutex_);
    in_flight_ = 0;
    writing_ = false;
  }
  /// The connection is gone: refuse frames from now on.
  void detach() {
    std::lock_guard lock(mutex_);
    ended_ = true;
    kick_ = nullptr;
    pending_.clear();
  }
  std::size_t limit() const { return max_; }

 private:
  bool queue(std::string frame) {
    std::function<void()> kick;
    bool accepted = false;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return false;
      if (pending_.size() + in_flight_ + frame.size() > max_) {
        ended_ = true;
        dropped_ = true;
        pending_.clear();
      } else {
        pending_ += frame;
        accepted = true;
      }
      kick = take_kick();
    }
    if (kick) kick();
    return accepted;
  }

  // Call with the mutex held: the kick to run once unlocked, unless one is already due.
  std::function<void()> take_kick() {
    if (kicked_ || !kick_) return nullptr;
    kicked_ = true;
    return kick_;
  }

  const std::size_t max_;
  mutable std::mutex mutex_;
  std::string pending_;
  std::size_t in_flight_ = 0;
  bool writing_ = false;
  bool ended_ = false;
  bool dropped_ = false;
  bool kicked_ = false;
  std::function<void()> kick_;
};

// An HTTP field name (RFC 9110 5.1: a token).
bool is_token(std::string_view name) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\n"
    "Server: switchyard\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "X-Accel-Buffering: no\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Connection: close\r\n"
    "\r\n";

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(runtime::Io& io, ServerSettings s)
      : io(io), settings(std::move(s)), log(log::make(settings.name)),
        acceptor(asio::make_strand(io.context())) {}

  runtime::Io& io;
  ServerSettings settings;
  std::shared_ptr<spdlog::logger> log;
  tcp::acceptor acceptor;
  std::unique_ptr<ssl::context> tls;
  std::mutex open_mutex;
  bool opened = false;
  std::string bound;

  mutable std::shared_mutex routes_mutex;
  // method → path → entry. Lookups copy the shared_ptr, so a route removed while a request
  // is in its handler stays alive until that handler is done with it.
  std::map<std::string, std::map<std::string, std::shared_ptr<RouteEntry>, std::less<>>, std::less<>> routes;

  std::atomic<std::uint64_t> accepted{0}, refused{0}, active{0}, requests{0}, not_found{0},
      too_large{0}, timed_out{0}, streams_open{0}, streams_dropped{0};

  // Open event streams, ended by close().
  std::mutex streams_mutex;
  std::vector<std::weak_ptr<StreamState>> streams;

  void add_stream(const std::shared_ptr<StreamState>& stream) {
    std::lock_guard lock(streams_mutex);
    std::erase_if(streams, [](const auto& w) { return w.expired(); });
    streams.push_back(stream);
  }
  void close_streams() {
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

  // Finds the route for method + path. When only another method matches, `allow` lists them.
  std::shared_ptr<RouteEntry> find(std::string_view method, std::string_view path,
                                   std::string& allow) const {
    std::shared_lock lock(routes_mutex);
    if (auto m = routes.find(method); m != routes.end()) {
      if (auto p = m->second.find(path); p != m->second.end()) return p->second;
    }
    for (const auto& [name, paths] : routes) {
      if (paths.find(path) != paths.end()) allow += (allow.empty() ? "" : ", ") + name;
    }
    return nullptr;
  }

  Status open();
  void accept();
  template <class Stream>
  void start_session(Stream stream, std::string remote);
};

namespace {

// One client connection: reads requests one after the other (keep-alive), routes them,
// and writes answers. All of it on the connection's strand.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<Server::Impl> server, Stream stream, std::string remote)
      : server_(std::move(server)), stream_(std::move(stream)), remote_(std::move(remote)),
        handler_timer_(stream_.get_executor()) {}

  ~Session() {
    if (stream_state_) {
      stream_state_->detach();
      server_->streams_open.fetch_sub(1, std::memory_order_relaxed);
    }
    server_->active.fetch_sub(1, std::memory_order_relaxed);
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
  static bool would_block(const beast::error_code& ec) {
    return ec == asio::error::would_block || ec == asio::error::try_again;
  }

  auto& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerSettings& settings() const { return server_->settings; }

  // Waits for the first bytes of the next request (idle_timeout between keep-alive
  // requests), then gives the whole request read_timeout. The first read asks for up to
  // 16 KiB, so a typical webhook (headers and an 8 KB body) arrives in one system call.
  void wait_next(std::chrono::milliseconds wait) {
    if (buffer_.size() > 0) return read_header();
    lowest().expires_after(wait);
    stream_.async_read_some(buffer_.prepare(16 * 1024), [self = this->shared_from_this()](
                                                       beast::error_code ec, std::size_t n) {
      if (ec) return self->close();  // idle timeout or the client left: not an error
      self->buffer_.commit(n);
      self->read_header();
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
    if (ec == bhttp::error::header_limit) {
      return respond_and_close(HttpResponse::error(431, "request headers too large"));
    }
    if (ec) return fail(ec, "reading request headers");
    server_->requests.fetch_add(1, std::memory_order_relaxed);
    const auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    const auto q = target.find('?');
    path_ = std::string(target.substr(0, q));
    query_ = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
    method_ = std::string(req.method_string());

    // A Transfer-Encoding that does not end in chunked leaves the body length undefined
    // (RFC 9112 6.1): refuse it rather than guess where the next request starts.
    if (req.find(bhttp::field::transfer_encoding) != req.end() && !parser_->chunked()) {
      return respond_and_close(HttpResponse::error(400, "Transfer-Encoding must end in chunked"));
    }
    std::string allow;
    route_ = server_->find(method_, path_, allow);
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    if (!route_) {
      server_->not_found.fetch_add(1, std::memory_order_relaxed);
      HttpResponse r = allow.empty() ? HttpResponse::error(404, "no route for " + path_)
                                     : HttpResponse::error(405, method_ + " is not allowed on " + path_);
      if (!allow.empty()) r.headers.set("Allow", allow);
      // The body was not read: the connection cannot carry another request.
      return has_body ? respond_and_close(std::move(r)) : respond(std::move(r), req.keep_alive());
    }
    const std::uint64_t limit = route_->max_body != 0 ? route_->max_body : settings().max_body;
    if (parser_->content_length() && *parser_->content_length() > limit) {
      server_->too_large.fetch_add(1, std::memory_order_relaxed);
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
      server_->too_large.fetch_add(1, std::memory_order_relaxed);
      return respond_and_close(HttpResponse::error(413, "body exceeds the size limit"));
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
        if (ec == beast::error::timeout) self->server_->timed_out.fetch_add(1, std::memory_order_relaxed);
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
      if (!is_token(f.name) ||
          std::any_of(f.value.begin(), f.value.end(),
                      [](char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f; }) ||
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
    if (status != 204 && status != 304) out_ += response.body;
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
      server_->timed_out.fetch_add(1, std::memory_order_relaxed);
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

  std::shared_ptr<Server::Impl> server_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<RouteEntry> route_;
  std::string method_, path_, query_;
  bool keep_alive_ = true;
  asio::steady_timer handler_timer_;
  std::atomic<bool> dispatching_{false};
  std::thread::id dispatch_thread_;
  std::optional<HttpResponse> sync_response_;
  std::shared_ptr<StreamState> stream_state_;  // set while the connection carries an event stream
  std::string out_;  // the bytes of the write in flight (an answer, or event-stream frames)
  Clock::time_point deadline_;  // the current request must be read by then (read_timeout)
};

}  // namespace

Status Server::Impl::open() {
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
  log->info("listening on {}{}", tls ? "https://" : "http://", bound);
  asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->accept(); });
  return {};
}

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io.context()), [self = shared_from_this()](
                                                             beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      self->log->warn("accept failed: {}", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(self->acceptor.get_executor(),
                                                        std::chrono::milliseconds(50));
      timer->async_wait([self, timer](beast::error_code) { self->accept(); });
      return;
    }
    self->accepted.fetch_add(1, std::memory_order_relaxed);
    if (self->active.load(std::memory_order_relaxed) >= self->settings.max_connections) {
      self->refused.fetch_add(1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code remote_ec;
      const auto remote_ep = socket.remote_endpoint(remote_ec);
      std::string remote = remote_ec ? std::string("unknown")
                                     : format_endpoint(remote_ep.address().to_string(), remote_ep.port());
      socket.set_option(tcp::no_delay(true), remote_ec);
      self->active.fetch_add(1, std::memory_order_relaxed);
      if (self->tls) {
        self->start_session(beast::ssl_stream<beast::tcp_stream>(std::move(socket), *self->tls),
                            std::move(remote));
      } else {
        self->start_session(beast::tcp_stream(std::move(socket)), std::move(remote));
      }
    }
    self->accept();
  });
}

template <class Stream>
void Server::Impl::start_session(Stream stream, std::string remote) {
  std::make_shared<Session<Stream>>(shared_from_this(), std::move(stream), std::move(remote))->run();
}

Server::Server(runtime::Io& io, ServerSettings settings)
    : impl_(std::make_shared<Impl>(io, std::move(settings))) {}

Server::~Server() { close(); }

Status Server::open() { return impl_->open(); }

void Server::close() {
  std::lock_guard lock(impl_->open_mutex);
  if (!impl_->opened) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->close_streams();
}

std::string Server::local_endpoint() const {
  std::lock_guard lock(impl_->open_mutex);
  return impl_->bound;
}

ServerStats Server::stats() const {
  ServerStats s;
  s.accepted = impl_->accepted.load();
  s.refused = impl_->refused.load();
  s.active = impl_->active.load();
  s.requests = impl_->requests.load();
  s.not_found = impl_->not_found.load();
  s.too_large = impl_->too_large.load();
  s.timed_out = impl_->timed_out.load();
  s.streams = impl_->streams_open.load();
  s.streams_dropped = impl_->streams_dropped.load();
  return s;
}

namespace {
class RouteHandle final : public HttpRoute {
 public:
  RouteHandle(std::weak_ptr<Server::Impl> server, std::string method, std::string path,
              std::shared_ptr<RouteEntry> entry)
      : server_(std::move(server)), method_(std::move(method)), path_(std::move(path)),
        entry_(std::move(entry)) {}
  ~RouteHandle() override {
    auto server = server_.lock();
    if (!server) return;
    std::unique_lock lock(server->routes_mutex);
    auto m = server->routes.find(method_);
    if (m == server->routes.end()) return;
    auto p = m->second.find(path_);
    if (p == m->second.end()) return;
    if (p->second == entry_) {
      // The serving route goes: the one it shadowed (if any) serves again.
      if (entry_->shadowed) {
        p->second = entry_->shadowed;
      } else {
        m->second.erase(p);
      }
    } else {
      // A shadowed route goes (the old version after a reload): unlink it from the chain.
      for (auto* e = &p->second; *e; e = &(*e)->shadowed) {
        if ((*e)->shadowed == entry_) {
          (*e)->shadowed = entry_->shadowed;
          break;
        }
      }
    }
    if (m->second.empty()) server->routes.erase(m);
  }

 private:
  std::weak_ptr<Server::Impl> server_;
  std::string method_, path_;
  std::shared_ptr<RouteEntry> entry_;
};
}  // namespace

Result<std::unique_ptr<HttpRoute>> Server::add(std::string method, std::string path,
                                               HttpHandler handler, HttpRouteOptions options) {
  return add_owned({}, std::move(method), std::move(path), std::move(handler), options);
}

Result<std::unique_ptr<HttpRoute>> Server::add_owned(std::string owner, std::string method, std::string path,
                                                     HttpHandler handler, HttpRouteOptions options) {
  if (path.empty() || path.front() != '/') {
    return invalid_config("path '" + path + "' must start with '/'");
  }
  if (!handler) return invalid_config("route " + path + " has no handler");
  auto entry = std::make_shared<RouteEntry>(RouteEntry{std::move(handler), options.max_body, std::move(owner), nullptr});
  {
    std::unique_lock lock(impl_->routes_mutex);
    auto& paths = impl_->routes[method];
    auto it = paths.find(path);
    if (it != paths.end()) {
      if (entry->owner.empty() || it->second->owner != entry->owner) {
        return invalid_config(method + " " + path + " is already served by " +
                              (it->second->owner.empty() ? std::string("another component")
                                                         : "pipeline '" + it->second->owner + "'"));
      }
      // A new version of the same pipeline: it takes the path over at once.
      entry->shadowed = it->second;
      it->second = entry;
    } else {
      paths.emplace(path, entry);
    }
  }
  auto handle = std::make_unique<RouteHandle>(impl_, method, path, entry);
  if (Status s = open(); !s) return s.error();  // the handle's destructor removes the route
  impl_->log->debug("route {} {} added", method, path);
  return std::unique_ptr<HttpRoute>(std::move(handle));
}

Result<std::unique_ptr<HttpRoute>> Server::add_event_stream(std::string path, EventStreamHandler handler,
                                                            EventStreamOptions options) {
  if (path.empty() || path.front() != '/') {
    return invalid_config("path '" + path + "' must start with '/'");
  }
  if (!handler) return invalid_config("route " + path + " has no handler");
  auto entry = std::make_shared<RouteEntry>();
  entry->stream = std::move(handler);
  entry->max_buffered = options.max_buffered;
  {
    std::unique_lock lock(impl_->routes_mutex);
    auto& paths = impl_->routes["GET"];
    if (paths.find(path) != paths.end()) return invalid_config("GET " + path + " is already served");
    paths.emplace(path, entry);
  }
  auto handle = std::make_unique<RouteHandle>(impl_, "GET", path, entry);
  if (Status s = open(); !s) return s.error();  // the handle's destructor removes the route
  impl_->log->debug("event stream GET {} added", path);
  return std::unique_ptr<HttpRoute>(std::move(handle));
}

}  // namespace switchyard::http
