#include "http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>

#include "http/addresses.hpp"
#include "http/fields.hpp"
#include "runtime/io.hpp"

namespace switchyard::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr int kMaxRedirects = 5;
constexpr std::size_t kMaxResponseHeader = 64 * 1024;
constexpr std::size_t kReadSize = 64 * 1024;  // Beast reads at most this much at a time
// Servers close idle keep-alive connections after a while (nginx: 75 s, many CDNs: 60 s or
// less); a connection idle longer than this is closed rather than reused.
constexpr std::chrono::seconds kIdleLifetime{30};

std::string env(const char* upper, const char* lower) {
  if (const char* v = std::getenv(upper); v != nullptr && *v != '\0') return v;
  if (const char* v = std::getenv(lower); v != nullptr && *v != '\0') return v;
  return {};
}

// One pooled connection: a TCP stream, wrapped in TLS for https. It keeps its strand, so
// every exchange that borrows it runs its handlers there.
struct Connection {
  Connection(Strand s, ssl::context& ctx) : strand(std::move(s)), stream(strand, ctx) {}
  Strand strand;
  TlsStream stream;
  bool tls = false;
  std::string key;
  Clock::time_point idle_since;

  beast::tcp_stream& tcp() { return stream.next_layer(); }
  bool open() { return tcp().socket().is_open(); }
  void close() {
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().socket().close(ignored);
  }
};

struct ClientState;

// One request/response exchange, from the pool or a new connection to the callback.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ClientState> client, Url url, HttpClientRequest request,
           HttpClientCallback done, int redirects);
  void start();
  /// Abandons the exchange from any thread: no callback, sockets closed.
  void cancel_async();

 private:
  void connect_new();
  void on_resolved(beast::error_code ec, tcp::resolver::results_type results);
  void on_connected(beast::error_code ec);
  void send_connect();
  void handshake();
  void write();
  void read();
  void on_response(beast::error_code ec);
  void finish(Result<HttpClientResponse> result);
  void fail_io(beast::error_code ec, const char* stage);
  template <class F>
  void with_stream(F&& f) {
    if (conn_->tls) f(conn_->stream); else f(conn_->tcp());
  }

  std::shared_ptr<ClientState> client_;
  Url url_;
  HttpClientRequest request_;
  HttpClientCallback done_;
  int redirects_;
  bool reused_ = false;
  bool retried_ = false;
  bool timed_out_ = false;
  bool finished_ = false;
  Clock::time_point deadline_;
  std::unique_ptr<Connection> conn_;
  std::optional<Strand> strand_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::unique_ptr<tcp::resolver> resolver_;
  std::optional<Url> proxy_;
  bhttp::request<bhttp::string_body> wire_;
  // What the parser has not consumed: at most the headers, a chunk-size line with its
  // extensions or a trailer line, plus one read. Beast bounds neither chunk extensions nor
  // trailers: without this a server could fill memory until the request's timeout.
  beast::flat_buffer buffer_{kMaxResponseHeader + kReadSize};
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response_parser<bhttp::empty_body>> connect_parser_;
};

struct ClientState : std::enable_shared_from_this<ClientState> {
  ClientState(runtime::Io& io, Executor& executor, const HttpClientOptions& options)
      : io(io), executor(&executor), options(options), tls(ssl::context::tls_client) {}

  runtime::Io& io;
  std::mutex mutex;
  Executor* executor;  // null once the client is destroyed
  HttpClientOptions options;
  ssl::context tls;
  std::optional<Error> setup_error;
  std::optional<Url> https_proxy, http_proxy;
  std::string no_proxy;
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;  // oldest first
  std::map<Exchange*, std::weak_ptr<Exchange>> live;  // exchanges in flight, for cancellation
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);

  // Idle connections have no operation pending, so any thread may close them.
  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    const auto now = Clock::now();
    std::unique_ptr<Connection> found;
    while (!it->second.empty() && !found) {
      auto conn = std::move(it->second.back());
      it->second.pop_back();
      if (conn->open() && now - conn->idle_since < kIdleLifetime) found = std::move(conn);
    }
    if (it->second.empty()) idle.erase(it);
    return found;
  }

  void give_back(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mutex);
    if (executor == nullptr) return;
    const auto now = Clock::now();
    conn->idle_since = now;
    auto& list = idle[conn->key];
    while (!list.empty() && now - list.front()->idle_since >= kIdleLifetime) list.pop_front();
    if (list.size() >= options.max_idle_per_host) list.pop_front();
    list.push_back(std::move(conn));
  }

  // Runs `done(result)` on the component's strand unless the client is gone by then.
  void deliver(HttpClientCallback done, Result<HttpClientResponse> result) {
    std::lock_guard lock(mutex);
    if (executor == nullptr) return;
    executor->post([alive = alive, done = std::move(done), result = std::move(result)]() mutable {
      if (alive->load(std::memory_order_acquire)) done(std::move(result));
    });
  }
};

// Beast copies fields as they are: a newline would inject headers or a second request.
bool valid_header(std::string_view name, std::string_view value) { return is_token(name) && is_field_value(value); }

Exchange::Exchange(std::shared_ptr<ClientState> client, Url url, HttpClientRequest request,
                   HttpClientCallback done, int redirects)
    : client_(std::move(client)), url_(std::move(url)), request_(std::move(request)),
      done_(std::move(done)), redirects_(redirects) {}

void Exchange::start() {
  deadline_ = Clock::now() + request_.timeout.value_or(client_->options.request_timeout);
  const std::string key = std::string(url_.https ? "https://" : "http://") + url_.authority();
  const auto& proxy = url_.https ? client_->https_proxy : client_->http_proxy;
  if (proxy && !no_proxy_matches(client_->no_proxy, url_.host)) proxy_ = proxy;

  wire_ = {};
  wire_.method_string(request_.method);
  wire_.target(url_.target);
  wire_.version(11);
  for (const auto& f : request_.headers) wire_.insert(f.name, f.value);
  if (wire_.find(bhttp::field::host) == wire_.end()) wire_.set(bhttp::field::host, url_.authority());
  if (wire_.find(bhttp::field::user_agent) == wire_.end()) wire_.set(bhttp::field::user_agent, "switchyard/0.1");
  wire_.body() = request_.body;
  if (!request_.body.empty() || request_.method == "POST" || request_.method == "PUT" ||
      request_.method == "PATCH") {
    wire_.prepare_payload();
  }
  wire_.keep_alive(true);

  conn_ = client_->take_idle(key);
  reused_ = conn_ != nullptr;
  strand_.emplace(reused_ ? conn_->strand : asio::make_strand(client_->io.context()));
  {
    std::lock_guard lock(client_->mutex);
    client_->live.emplace(this, weak_from_this());
  }
  timer_ = std::make_unique<asio::steady_timer>(*strand_);
  timer_->expires_at(deadline_);
  timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->finished_) return;
    self->timed_out_ = true;
    if (self->resolver_) self->resolver_->cancel();
    if (self->conn_) self->conn_->close();
  });
  if (reused_) {
    asio::post(*strand_, [self = shared_from_this()] { self->write(); });
  } else {
    asio::post(*strand_, [self = shared_from_this()] { self->connect_new(); });
  }
}

void Exchange::cancel_async() {
  asio::post(*strand_, [self = shared_from_this()] {
    if (self->finished_) return;
    self->finished_ = true;
    if (self->timer_) self->timer_->cancel();
    if (self->resolver_) self->resolver_->cancel();
    if (self->conn_) self->conn_->close();
  });
}

void Exchange::connect_new() {
  if (finished_) return;
  conn_ = std::make_unique<Connection>(*strand_, client_->tls);
  conn_->tls = url_.https;
  conn_->key = std::string(url_.https ? "https://" : "http://") + url_.authority();
  resolver_ = std::make_unique<tcp::resolver>(*strand_);
  const Url& target = proxy_ ? *proxy_ : url_;
  resolver_->async_resolve(target.host, std::to_string(target.port),
                           [self = shared_from_this()](beast::error_code ec,
                                                       tcp::resolver::results_type results) {
                             self->on_resolved(ec, std::move(results));
                           });
}

void Exchange::on_resolved(beast::error_code ec, tcp::resolver::results_type results) {
  if (ec) return fail_io(ec, proxy_ ? "resolving the proxy" : "resolving the host");
  conn_->tcp().expires_after(client_->options.connect_timeout);
  conn_->tcp().async_connect(results, [self = shared_from_this()](
                                          beast::error_code e, const tcp::endpoint&) {
    self->on_connected(e);
  });
}

void Exchange::on_connected(beast::error_code ec) {
  if (ec) return fail_io(ec, proxy_ ? "connecting to the proxy" : "connecting");
  beast::error_code ignored;
  conn_->tcp().socket().set_option(tcp::no_delay(true), ignored);
  if (proxy_) return send_connect();
  if (url_.https) return handshake();
  conn_->tcp().expires_never();
  write();
}

// Through a proxy, every request goes through a CONNECT tunnel (TLS inside for https).
void Exchange::send_connect() {
  auto req = std::make_shared<bhttp::request<bhttp::empty_body>>(bhttp::verb::connect,
                                                                  format_endpoint(url_.host, url_.port), 11);
  req->set(bhttp::field::host, format_endpoint(url_.host, url_.port));
  bhttp::async_write(conn_->tcp(), *req, [self = shared_from_this(), req](beast::error_code ec, std::size_t) {
    if (ec) return self->fail_io(ec, "sending CONNECT to the proxy");
    self->connect_parser_.emplace();
    self->connect_parser_->skip(true);  // a CONNECT answer has no body
    bhttp::async_read_header(self->conn_->tcp(), self->buffer_, *self->connect_parser_,
                             [self](beast::error_code e, std::size_t) {
                               if (e) return self->fail_io(e, "reading the proxy's CONNECT answer");
                               const unsigned status = self->connect_parser_->get().result_int();
                               if (status != 200) {
                                 return self->finish(retryable("proxy refused CONNECT with HTTP " +
                                                               std::to_string(status)));
                               }
                               if (self->url_.https) return self->handshake();
                               self->conn_->tcp().expires_never();
                               self->write();
                             });
  });
}

void Exchange::handshake() {
  auto* native = conn_->stream.native_handle();
  const bool is_ip = [&] {
    beast::error_code ec;
    asio::ip::make_address(url_.host, ec);
    return !ec;
  }();
  if (!is_ip) SSL_set_tlsext_host_name(native, url_.host.c_str());  // SNI
  if (client_->options.insecure_skip_verify) {
    conn_->stream.set_verify_mode(ssl::verify_none);
  } else {
    conn_->stream.set_verify_mode(ssl::verify_peer);
    conn_->stream.set_verify_callback(ssl::host_name_verification(url_.host));
  }
  conn_->tcp().expires_after(client_->options.connect_timeout);
  conn_->stream.async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      const long verify = SSL_get_verify_result(self->conn_->stream.native_handle());
      if (verify != X509_V_OK) {
        return self->finish(permanent("TLS certificate of " + self->url_.host +
                                      " not trusted: " + X509_verify_cert_error_string(verify)));
      }
      // Anything else (reset, EOF, a server restarting) may well work next time.
      return self->fail_io(ec, "TLS handshake");
    }
    self->conn_->tcp().expires_never();
    self->write();
  });
}

void Exchange::write() {
  with_stream([&](auto& stream) {
    bhttp::async_write(stream, wire_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail_io(ec, "sending the request");
      self->read();
    });
  });
}

void Exchange::read() {
  parser_.emplace();
  parser_->header_limit(kMaxResponseHeader);
  parser_->body_limit(client_->options.max_response_bytes);
  if (request_.method == "HEAD") parser_->skip(true);
  with_stream([&](auto& stream) {
    bhttp::async_read(stream, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_response(ec);
    });
  });
}

void Exchange::on_response(beast::error_code ec) {
  if (ec == bhttp::error::body_limit) {
    conn_->close();
    return finish(permanent("response from " + url_.host + " exceeds " +
                            std::to_string(client_->options.max_response_bytes) + " bytes"));
  }
  if (ec == bhttp::error::buffer_overflow) {
    conn_->close();
    return finish(permanent("response from " + url_.host + " has a header, chunk line or trailer over " +
                            std::to_string(kMaxResponseHeader / 1024) + " KiB"));
  }
  if (ec) return fail_io(ec, "reading the response");
  auto& res = parser_->get();
  if (res.result_int() >= 100 && res.result_int() < 200 && res.result_int() != 101) {
    return read();  // 100 Continue, 103 Early Hints: the real answer follows
  }
  HttpClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.add(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  const bool keep = res.keep_alive() && !parser_->need_eof();

  if (client_->options.follow_redirects && out.status >= 300 && out.status < 400 &&
      out.status != 304 && out.headers.get("Location")) {
    if (redirects_ >= kMaxRedirects) return finish(permanent("too many redirects"));
    std::string location(*out.headers.get("Location"));
    if (!location.empty() && location.front() == '/') {
      location = std::string(url_.https ? "https://" : "http://") + url_.authority() + location;
    }
    auto next = parse_url(location);
    if (!next) return finish(permanent("redirect to an invalid URL: " + next.error().message));
    if (url_.https && !next->https) return finish(permanent("refusing a redirect from https to http"));
    HttpClientRequest again = request_;
    if (out.status == 303 || ((out.status == 301 || out.status == 302) && request_.method == "POST")) {
      again.method = "GET";
      again.body.clear();
    }
    if (!iequals(next->authority(), url_.authority()) || next->https != url_.https) {
      for (const char* secret : {"Authorization", "Cookie", "Proxy-Authorization"}) again.headers.erase(secret);
    }
    again.headers.erase("Host");
    if (keep) client_->give_back(std::move(conn_)); else conn_->close();
    finished_ = true;
    timer_->cancel();
    {
      std::lock_guard lock(client_->mutex);
      client_->live.erase(this);
    }
    auto ex = std::make_shared<Exchange>(client_, std::move(*next), std::move(again), std::move(done_),
                                         redirects_ + 1);
    ex->start();
    return;
  }
  if (keep) {
    client_->give_back(std::move(conn_));
  } else {
    conn_->close();
  }
  finish(std::move(out));
}

void Exchange::fail_io(beast::error_code ec, const char* stage) {
  if (finished_) return;  // cancelled
  if (timed_out_ || ec == beast::error::timeout) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        request_.timeout.value_or(client_->options.request_timeout));
    if (conn_) conn_->close();
    return finish(retryable(url_.host + ": timed out " + stage +
                            (ec == beast::error::timeout && !timed_out_
                                 ? " (connect_timeout)"
                                 : " (request timeout " + std::to_string(ms.count()) + " ms)")));
  }
  // A pooled connection the server had already closed: try once more on a new one.
  if (reused_ && !retried_ && (parser_ ? !parser_->got_some() : true)) {
    retried_ = true;
    reused_ = false;
    conn_->close();
    buffer_.consume(buffer_.size());
    parser_.reset();
    return connect_new();
  }
  if (conn_) conn_->close();
  finish(retryable(url_.host + ": " + stage + ": " + ec.message()));
}

void Exchange::finish(Result<HttpClientResponse> result) {
  if (finished_) return;
  finished_ = true;
  if (timer_) timer_->cancel();
  {
    std::lock_guard lock(client_->mutex);
    client_->live.erase(this);
  }
  client_->deliver(std::move(done_), std::move(result));
}

class Client final : public HttpClient {
 public:
  explicit Client(std::shared_ptr<ClientState> state) : state_(std::move(state)) {}
  ~Client() override {
    state_->alive->store(false, std::memory_order_release);
    std::lock_guard lock(state_->mutex);
    state_->executor = nullptr;
    // Requests in flight stop now rather than at their timeout: a POST must not reach the
    // server after the engine has stopped counting on it.
    for (auto& [raw, weak] : state_->live) {
      if (auto exchange = weak.lock()) exchange->cancel_async();
    }
    state_->live.clear();
    for (auto& [key, list] : state_->idle) {
      for (auto& conn : list) {
        // Closed on the connection's strand. The handler owns it: when the io_context stops
        // before running it, destroying the handler closes and frees the connection.
        Strand strand = conn->strand;
        asio::post(strand, [conn = std::move(conn)] { conn->close(); });
      }
    }
    state_->idle.clear();
  }

  void send(HttpClientRequest request, HttpClientCallback done) override {
    if (state_->setup_error) {
      state_->deliver(std::move(done), *state_->setup_error);
      return;
    }
    for (const auto& f : request.headers) {
      if (!valid_header(f.name, f.value)) {
        state_->deliver(std::move(done), permanent("header '" + f.name + "' has an invalid name or value"));
        return;
      }
    }
    if (!valid_header(request.method, "")) {
      state_->deliver(std::move(done), permanent("invalid HTTP method"));
      return;
    }
    auto url = parse_url(request.url);
    if (!url) {
      state_->deliver(std::move(done), permanent(url.error().message));
      return;
    }
    std::make_shared<Exchange>(state_, std::move(*url), std::move(request), std::move(done), 0)->start();
  }

 private:
  std::shared_ptr<ClientState> state_;
};

}  // namespace

std::unique_ptr<HttpClient> make_client(runtime::Io& io, Executor& executor, Logger& log,
                                        const HttpClientOptions& options) {
  auto state = std::make_shared<ClientState>(io, executor, options);
  state->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  beast::error_code ec;
  if (!options.ca_file.empty()) {
    state->tls.load_verify_file(options.ca_file, ec);
    if (ec) {
      state->setup_error = invalid_config("ca_file " + options.ca_file + ": " + ec.message());
      log.error(state->setup_error->message);
    }
  } else {
    state->tls.set_default_verify_paths(ec);
    if (ec) log.warn("cannot load the system certificate store: " + ec.message());
  }
  if (options.insecure_skip_verify) {
    log.warn("TLS certificate verification is OFF for this component (insecure_skip_verify)");
  }
  auto proxy = [&](const char* upper, const char* lower) -> std::optional<Url> {
    std::string value = env(upper, lower);
    if (value.empty()) return std::nullopt;
    if (value.find("://") == std::string::npos) value = "http://" + value;
    auto url = parse_url(value);
    if (!url || url->https) {
      log.warn(std::string("ignoring ") + upper + ": expected http://host:port");
      return std::nullopt;
    }
    return *url;
  };
  state->https_proxy = proxy("HTTPS_PROXY", "https_proxy");
  state->http_proxy = proxy("HTTP_PROXY", "http_proxy");
  state->no_proxy = env("NO_PROXY", "no_proxy");
  return std::make_unique<Client>(std::move(state));
}

}  // namespace switchyard::http
