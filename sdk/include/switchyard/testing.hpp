#pragma once
// A header-only harness to unit-test one component without the engine: it validates the
// options against the component's declaration exactly as the engine does, and gives the
// component a captured context — a manual executor with virtual time, an in-memory state
// store, an emitter that records what a source emits, and a logger that records lines.
//
//   switchyard::testing::Harness h(kStampDecl, R"({"field": "env", "value": "prod"})");
//   ASSERT_TRUE(h.configure());
//   auto event = switchyard::testing::make_event("demo.created", R"({"id": 1})");
//   EXPECT_EQ(h.apply(*event).value(), switchyard::Verdict::keep);
//
// WebSocket routes: h.connect_websocket("/path", headers) gives a fake connection
// (switchyard/detail/fake_websocket.hpp) to send messages through and read answers from.

#include <poll.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/detail/fake_websocket.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::testing {

/// The engine's expression language, as the Switchyard::testing library lends it to the
/// harness: a test of a component with template options links that library.
struct ExpressionSupport {
  /// Compiles the template options of normalized `values`, or says what is wrong.
  Result<std::unique_ptr<TemplateSet>> (*compile)(std::span<const OptionSpec> schema, const rapidjson::Value& values);
  /// Which environment variables expressions see as `env` (the engine config's env.allow).
  void (*allow_env)(const std::vector<std::string>& names);
};

}  // namespace switchyard::testing

/// Defined by the Switchyard::testing library (a plain C name, which its link options ask
/// the linker to keep); weak here, so a test that does not link it still builds and its
/// template options fail to configure with a message saying so.
extern "C" const switchyard::testing::ExpressionSupport* switchyard_testing_expressions() __attribute__((weak));

namespace switchyard::testing {

/// Sets which environment variables expressions see as `env.NAME`, as the engine config's
/// `env.allow` does; nothing without the Switchyard::testing library.
inline void allow_env(const std::vector<std::string>& names) {
  if (switchyard_testing_expressions != nullptr) switchyard_testing_expressions()->allow_env(names);
}

/// An event with the given type and JSON payload (throws std::invalid_argument on bad JSON).
inline std::unique_ptr<Event> make_event(std::string type, std::string_view payload_json,
                                         std::string source = "test://harness") {
  auto event = std::make_unique<Event>();
  event->id = make_event_id();
  event->type = std::move(type);
  event->source = std::move(source);
  event->time = std::chrono::system_clock::now();
  event->data.Parse(payload_json.data(), payload_json.size());
  if (event->data.HasParseError()) throw std::invalid_argument("make_event: payload is not JSON");
  return event;
}

/// One captured log line.
struct LogLine {
  LogLevel level;
  std::string message;
};

class CapturedLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return true; }
  void log(LogLevel level, std::string_view message) override {
    lines.push_back({level, std::string(message)});
  }
  /// Whether any line at `level` or above contains `needle`.
  bool contains(std::string_view needle, LogLevel level = LogLevel::trace) const {
    return std::any_of(lines.begin(), lines.end(), [&](const LogLine& l) {
      return l.level >= level && l.message.find(needle) != std::string::npos;
    });
  }
  std::vector<LogLine> lines;
};

/// Runs posted tasks and timers on the test's thread, in virtual time.
class ManualExecutor final : public Executor {
 public:
  class ManualTimer final : public Timer {
   public:
    explicit ManualTimer(ManualExecutor& owner) : owner_(owner) {}
    ~ManualTimer() override { cancel(); }
    void expires_after(std::chrono::milliseconds delay, std::function<void()> fired) override {
      cancel();
      id_ = owner_.schedule(owner_.now_ + delay, std::move(fired));
    }
    void cancel() override {
      if (id_ != 0) owner_.timers_.erase(id_);
      id_ = 0;
    }

   private:
    ManualExecutor& owner_;
    std::uint64_t id_ = 0;
  };

  // Readiness is real: run_pending() polls the watched descriptors (without blocking) and
  // runs the callbacks of those that are ready.
  class ManualFdWatch final : public FdWatch {
   public:
    ManualFdWatch(ManualExecutor& owner, int fd) : owner_(owner), fd_(fd) { owner_.watches_.push_back(this); }
    ~ManualFdWatch() override { std::erase(owner_.watches_, this); }
    void when_readable(std::function<void()> ready) override { readable_ = std::move(ready); }
    void when_writable(std::function<void()> ready) override { writable_ = std::move(ready); }
    void cancel() override {
      readable_ = nullptr;
      writable_ = nullptr;
    }

   private:
    friend class ManualExecutor;
    ManualExecutor& owner_;
    int fd_;
    std::function<void()> readable_, writable_;
  };

  void post(std::function<void()> task) override { tasks_.push_back(std::move(task)); }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<ManualTimer>(*this); }
  std::unique_ptr<FdWatch> watch(int fd) override { return std::make_unique<ManualFdWatch>(*this, fd); }

  /// Runs posted tasks, and the callbacks of watched descriptors that are ready, until
  /// none is left; returns how many ran.
  std::size_t run_pending() {
    std::size_t ran = 0;
    for (;;) {
      while (!tasks_.empty()) {
        auto task = std::move(tasks_.front());
        tasks_.erase(tasks_.begin());
        task();
        ++ran;
      }
      if (!poll_watches()) return ran;
      ++ran;
    }
  }

  /// Moves virtual time forward, firing due timers in order and running posted tasks.
  void advance(std::chrono::milliseconds by) {
    const auto until = now_ + by;
    run_pending();
    for (;;) {
      auto next = std::min_element(timers_.begin(), timers_.end(), [](auto& a, auto& b) {
        return a.second.due < b.second.due;
      });
      if (next == timers_.end() || next->second.due > until) break;
      now_ = next->second.due;
      auto fired = std::move(next->second.fired);
      timers_.erase(next);
      fired();
      run_pending();
    }
    now_ = until;
  }

  /// Virtual time since the harness started.
  std::chrono::milliseconds now() const { return now_; }
  std::size_t pending_timers() const { return timers_.size(); }

 private:
  struct Pending {
    std::chrono::milliseconds due;
    std::function<void()> fired;
  };
  // Posts the callbacks of ready descriptors; false when none was ready.
  bool poll_watches() {
    bool any = false;
    for (ManualFdWatch* w : std::vector<ManualFdWatch*>(watches_)) {
      if (!w->readable_ && !w->writable_) continue;
      pollfd p{w->fd_, static_cast<short>((w->readable_ ? POLLIN : 0) | (w->writable_ ? POLLOUT : 0)), 0};
      if (::poll(&p, 1, 0) <= 0) continue;
      if (w->readable_ && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
        tasks_.push_back(std::exchange(w->readable_, nullptr));
        any = true;
      }
      if (w->writable_ && (p.revents & (POLLOUT | POLLHUP | POLLERR))) {
        tasks_.push_back(std::exchange(w->writable_, nullptr));
        any = true;
      }
    }
    return any;
  }
  std::uint64_t schedule(std::chrono::milliseconds due, std::function<void()> fired) {
    timers_.emplace(++next_id_, Pending{due, std::move(fired)});
    return next_id_;
  }

  std::vector<std::function<void()>> tasks_;
  std::map<std::uint64_t, Pending> timers_;
  std::vector<ManualFdWatch*> watches_;
  std::uint64_t next_id_ = 0;
  std::chrono::milliseconds now_{0};
};

/// State store in memory, expiring entries in the executor's virtual time.
class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(const ManualExecutor& clock) : clock_(clock) {}
  std::optional<std::string> get(std::string_view key) override {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end() || expired(it->second)) return std::nullopt;
    return it->second.value;
  }
  Status put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl) override {
    entries_[std::string(key)] = Entry{std::string(value), expiry(ttl)};
    return {};
  }
  Result<bool> put_if_absent(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) override {
    if (get(key)) return false;
    entries_[std::string(key)] = Entry{std::string(value), expiry(ttl)};
    return true;
  }
  Status erase(std::string_view key) override {
    entries_.erase(std::string(key));
    return {};
  }

 private:
  struct Entry {
    std::string value;
    std::chrono::milliseconds expires;  // zero: never
  };
  std::chrono::milliseconds expiry(std::chrono::milliseconds ttl) const {
    return ttl.count() == 0 ? ttl : clock_.now() + ttl;
  }
  bool expired(const Entry& e) const {
    return e.expires.count() != 0 && e.expires <= clock_.now();
  }
  const ManualExecutor& clock_;
  std::map<std::string, Entry> entries_;
};

/// Records what a source emits. `capacity` simulates a saturated pipeline.
class CapturingEmitter final : public Emitter {
 public:
  void emit(std::unique_ptr<Event> event, EmitCallback done) override {
    if (saturated()) {
      ++refused;
      if (done) done(retryable("pipeline saturated"));
      return;
    }
    events.push_back(std::move(event));
    if (done) done({});
  }
  bool saturated() const override { return events.size() >= capacity; }
  void when_ready(std::function<void()> ready) override { waiters.push_back(std::move(ready)); }

  /// Empties the captured events and wakes sources waiting for room.
  std::vector<std::unique_ptr<Event>> take() {
    auto out = std::move(events);
    events.clear();
    auto wake = std::move(waiters);
    waiters.clear();
    for (auto& w : wake) w();
    return out;
  }

  std::vector<std::unique_ptr<Event>> events;
  std::vector<std::function<void()>> waiters;
  std::size_t capacity = SIZE_MAX;
  std::size_t refused = 0;
};

/// The listener of the harness: records routes so a test can call them directly.
class CapturingRoutes final : public HttpRoutes {
 public:
  struct Entry {
    std::string method;
    std::string path;
    HttpHandler handler;
    HttpRouteOptions options;
    bool live = true;
    std::shared_ptr<WebSocketHandler> websocket;  // set: a WebSocket route
    WebSocketOptions websocket_options;
  };

  /// Where WebSocket callbacks run (the TestContext sets its executor).
  void use_executor(Executor& executor) { executor_ = &executor; }

  Result<std::unique_ptr<HttpRoute>> add_websocket(std::string path, std::shared_ptr<WebSocketHandler> handler,
                                                   const WebSocketOptions& options) override {
    if (!handler) return invalid_config("route " + path + " has no handler");
    auto added = add("GET", std::move(path), nullptr, {});
    if (added) {
      entries_->back().websocket = std::move(handler);
      entries_->back().websocket_options = options;
    }
    return added;
  }

  /// Runs an upgrade request on the WebSocket route `path` as the engine does: the handler's
  /// refusal, or an open connection (its opened() is queued on the executor). 404 when no
  /// WebSocket route is there.
  FakeWebSocket connect_websocket(std::string_view path, const HttpHeaders& headers, std::string_view remote) {
    const Entry* entry = find("GET", path);
    if (entry == nullptr || !entry->websocket) return {HttpResponse::error(404, "no route"), nullptr};
    std::string offered;
    for (const auto& f : headers) {
      if (iequals(f.name, "Sec-WebSocket-Protocol")) offered += (offered.empty() ? "" : ", ") + f.value;
    }
    const auto subprotocols = parse_subprotocols(offered);
    const HttpRequest request{"GET", path, {}, headers, std::string_view("", 0), remote};
    WebSocketUpgrade decision = entry->websocket->upgrade(WebSocketRequest{request, subprotocols});
    if (decision.refusal) return {std::move(decision.refusal), nullptr};
    if (!decision.subprotocol.empty() &&
        std::find(subprotocols.begin(), subprotocols.end(), decision.subprotocol) == subprotocols.end()) {
      return {HttpResponse::error(500, "the handler chose a subprotocol the client did not offer"), nullptr};
    }
    if (executor_ == nullptr) return {HttpResponse::error(500, "CapturingRoutes has no executor"), nullptr};
    auto connection = std::make_shared<FakeWebSocketConnection>(*executor_, entry->websocket, entry->websocket_options,
                                                                ++next_connection_, std::string(remote),
                                                                std::move(decision));
    executor_->post([handler = entry->websocket, connection] { handler->opened(connection); });
    return {std::nullopt, std::move(connection)};
  }

  /// The options the WebSocket route on `path` was registered with (nullptr: no such route).
  const WebSocketOptions* websocket_options(std::string_view path) const {
    const Entry* entry = find("GET", path);
    return entry && entry->websocket ? &entry->websocket_options : nullptr;
  }

  Result<std::unique_ptr<HttpRoute>> add(std::string method, std::string path,
                                         HttpHandler handler, HttpRouteOptions options) override {
    for (const auto& e : *entries_) {
      if (e.live && e.method == method && e.path == path) {
        return invalid_config(method + " " + path + " is already registered");
      }
    }
    entries_->push_back({std::move(method), std::move(path), std::move(handler), options, true});
    return std::unique_ptr<HttpRoute>(new Handle(entries_, entries_->size() - 1));
  }

  /// Whether `method path` is registered now.
  bool has(std::string_view method, std::string_view path) const {
    return find(method, path) != nullptr;
  }

  /// Calls the handler of `method path` and returns its answer; runs `pump` (e.g. the
  /// executor) until the handler replies. 404 when no route matches, as the engine does.
  HttpResponse call(std::string_view method, std::string_view path, const HttpHeaders& headers,
                    std::string_view body, const std::function<void()>& pump = {}) {
    const Entry* entry = find(method, path);
    if (entry == nullptr) return HttpResponse::error(404, "no route");
    auto outcome = std::make_shared<std::optional<HttpResponse>>();
    const std::string owned(body);  // a body is followed by a NUL, as the engine's are
    HttpRequest request{method, path, {}, headers, owned, "127.0.0.1:1"};
    entry->handler(request, [outcome](HttpResponse r) {
      if (!*outcome) *outcome = std::move(r);
    });
    for (int i = 0; i < 1000 && !*outcome && pump; ++i) pump();
    if (!*outcome) return HttpResponse::error(599, "handler did not reply");
    return std::move(**outcome);
  }

 private:
  struct Handle final : HttpRoute {
    Handle(std::shared_ptr<std::vector<Entry>> entries, std::size_t index)
        : entries(std::move(entries)), index(index) {}
    ~Handle() override { (*entries)[index].live = false; }
    std::shared_ptr<std::vector<Entry>> entries;
    std::size_t index;
  };
  const Entry* find(std::string_view method, std::string_view path) const {
    for (const auto& e : *entries_) {
      if (e.live && e.method == method && e.path == path) return &e;
    }
    return nullptr;
  }
  std::shared_ptr<std::vector<Entry>> entries_ = std::make_shared<std::vector<Entry>>();
  Executor* executor_ = nullptr;
  std::uint64_t next_connection_ = 0;
};

/// The outbound client of the harness: answers from a test-supplied function and records
/// every request. Callbacks run on the manual executor, as the engine runs them on the strand.
class ScriptedHttpClient final : public HttpClient {
 public:
  using Responder = std::function<Result<HttpClientResponse>(const HttpClientRequest&)>;
  ScriptedHttpClient(Executor& executor, std::shared_ptr<Responder> responder,
                     std::shared_ptr<std::vector<HttpClientRequest>> log)
      : executor_(executor), responder_(std::move(responder)), log_(std::move(log)) {}
  void send(HttpClientRequest request, HttpClientCallback done) override {
    log_->push_back(request);
    Result<HttpClientResponse> result =
        *responder_ ? (*responder_)(request)
                    : Result<HttpClientResponse>(permanent("no responder set in the harness"));
    executor_.post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

 private:
  Executor& executor_;
  std::shared_ptr<Responder> responder_;
  std::shared_ptr<std::vector<HttpClientRequest>> log_;
};

/// Metrics recorded in memory: value() reads a counter or gauge, observations() a histogram.
class CapturingMetrics final : public Metrics {
 public:
  /// The current value of the counter or gauge `name` with `labels` (0 when never set).
  double value(std::string_view name, const MetricLabels& labels = {}) const {
    auto it = values_.find(key(name, labels));
    return it == values_.end() ? 0 : it->second->value;
  }
  /// Every value observed by the histogram `name` with `labels`.
  std::vector<double> observations(std::string_view name, const MetricLabels& labels = {}) const {
    auto it = values_.find(key(name, labels));
    return it == values_.end() ? std::vector<double>{} : it->second->observed;
  }
  Counter& counter(std::string_view name, std::string_view, const MetricLabels& labels) override {
    return slot(name, labels);
  }
  Gauge& gauge(std::string_view name, std::string_view, const MetricLabels& labels) override {
    return slot(name, labels);
  }
  Histogram& histogram(std::string_view name, std::string_view, std::span<const double>,
                       const MetricLabels& labels) override {
    return slot(name, labels);
  }

 private:
  struct Value final : Counter, Gauge, Histogram {
    double value = 0;
    std::vector<double> observed;
    void inc(double by) override { value += by; }
    void set(double v) override { value = v; }
    void dec(double by) override { value -= by; }
    void observe(double v) override { observed.push_back(v); }
  };
  static std::string key(std::string_view name, const MetricLabels& labels) {
    std::string k(name);
    for (const auto& [n, v] : labels) k += "|" + n + "=" + v;
    return k;
  }
  Value& slot(std::string_view name, const MetricLabels& labels) {
    auto& v = values_[key(name, labels)];
    if (!v) v = std::make_unique<Value>();
    return *v;
  }
  std::map<std::string, std::unique_ptr<Value>, std::less<>> values_;
};

/// Parked requests, timed out in the executor's virtual time. Share one between the harness
/// of a source and the harness of a reply sink (TestContext::use_replies) to test the two
/// together, as the engine shares one per pipeline.
class ManualReplies final : public Replies {
 public:
  explicit ManualReplies(ManualExecutor& executor) : executor_(executor) {}
  void park(std::string event_id, std::chrono::milliseconds within, ReplyHandler handler) override {
    if (auto earlier = take(event_id)) earlier->handler(std::nullopt);
    auto timer = executor_.make_timer();
    timer->expires_after(within, [this, event_id] {
      if (auto entry = take(event_id)) entry->handler(std::nullopt);
    });
    parked_.emplace(std::move(event_id), Entry{std::move(handler), std::move(timer)});
  }
  bool answer(std::string_view event_id, Reply reply) override {
    auto entry = take(event_id);
    if (!entry) return false;
    answers.push_back(reply);
    entry->handler(std::move(reply));
    return true;
  }
  bool withdraw(std::string_view event_id) override { return take(event_id).has_value(); }
  /// Requests parked now.
  std::size_t parked() const { return parked_.size(); }
  /// Every reply handed to a parked request, in order.
  std::vector<Reply> answers;

 private:
  struct Entry {
    ReplyHandler handler;
    std::unique_ptr<Timer> timer;
  };
  std::optional<Entry> take(std::string_view event_id) {
    auto it = parked_.find(std::string(event_id));
    if (it == parked_.end()) return std::nullopt;
    Entry entry = std::move(it->second);
    parked_.erase(it);
    entry.timer->cancel();
    return entry;
  }
  ManualExecutor& executor_;
  std::map<std::string, Entry> parked_;
};

/// The captured context given to the component under test.
class TestContext final : public Context {
 public:
  explicit TestContext(std::string pipeline, std::string component)
      : pipeline_(std::move(pipeline)), component_(std::move(component)) {
    routes_.use_executor(executor_);
  }
  std::string_view pipeline() const override { return pipeline_; }
  std::string_view component() const override { return component_; }
  Logger& logger() override { return logger_; }
  Executor& executor() override { return executor_; }
  StateStore& state() override { return state_; }
  Emitter& emitter() override { return other_emitter_ ? *other_emitter_ : emitter_; }
  HttpRoutes& routes() override { return routes_; }
  std::unique_ptr<HttpClient> http_client(const HttpClientOptions& options) override {
    client_options.push_back(options);
    return std::make_unique<ScriptedHttpClient>(executor_, responder_, requests_);
  }
  Metrics& metrics() override { return metrics_; }
  Replies& replies() override { return *replies_; }
  CapturingMetrics& capturing_metrics() { return metrics_; }
  /// The parked requests (shared with another harness's context by use_replies()).
  const std::shared_ptr<ManualReplies>& manual_replies() { return replies_; }
  /// Gives the component `emitter` instead of the capturing one (a test's own pipeline
  /// double, e.g. one that blocks); nullptr goes back to the capturing one.
  void use_emitter(Emitter* emitter) { other_emitter_ = emitter; }
  /// Shares `replies` (another context's) with this one, as components of one pipeline share them.
  void use_replies(std::shared_ptr<ManualReplies> replies) { replies_ = std::move(replies); }

  /// Sets how the components' HTTP clients answer (called once per request).
  void respond_with(ScriptedHttpClient::Responder responder) { *responder_ = std::move(responder); }
  /// Every request the component's clients sent, in order.
  std::vector<HttpClientRequest>& http_requests() { return *requests_; }
  /// The options of every client the component asked for.
  std::vector<HttpClientOptions> client_options;

  CapturedLogger& captured_logger() { return logger_; }
  CapturingRoutes& capturing_routes() { return routes_; }
  ManualExecutor& manual_executor() { return executor_; }
  CapturingEmitter& capturing_emitter() { return emitter_; }

 private:
  std::string pipeline_;
  std::string component_;
  CapturedLogger logger_;
  ManualExecutor executor_;
  MemoryStateStore state_{executor_};
  CapturingEmitter emitter_;
  Emitter* other_emitter_ = nullptr;
  CapturingRoutes routes_;
  CapturingMetrics metrics_;
  std::shared_ptr<ManualReplies> replies_ = std::make_shared<ManualReplies>(executor_);
  std::shared_ptr<ScriptedHttpClient::Responder> responder_ =
      std::make_shared<ScriptedHttpClient::Responder>();
  std::shared_ptr<std::vector<HttpClientRequest>> requests_ =
      std::make_shared<std::vector<HttpClientRequest>>();
};

/// Runs one component through its lifecycle with a captured context.
class Harness {
 public:
  /// `options_json` is the component's options as JSON, in the same forms as YAML
  /// ("interval": "1s"); it is validated and defaulted against the declaration.
  Harness(const ComponentDecl& decl, std::string_view options_json = "{}",
          std::string pipeline = "test")
      : decl_(decl), context_(std::move(pipeline), decl.type) {
    rapidjson::Document input;
    input.Parse(options_json.data(), options_json.size());
    if (input.HasParseError()) throw std::invalid_argument("Harness: options are not JSON");
    normalize_options(decl_.options, input, options_, options_.GetAllocator(), option_errors_);
    component_ = decl_.create();
  }

  /// Errors found validating the options ("path: message").
  std::vector<std::string> option_errors() const {
    std::vector<std::string> out;
    for (const auto& e : option_errors_) out.push_back(e.path + ": " + e.message);
    return out;
  }

  /// Validates and configures; invalid options give an invalid_config error listing them all.
  Status configure() {
    if (!option_errors_.empty()) {
      std::string message;
      for (const auto& line : option_errors()) message += (message.empty() ? "" : "; ") + line;
      return invalid_config(message);
    }
    if (switchyard_testing_expressions != nullptr) {
      auto compiled = switchyard_testing_expressions()->compile(decl_.options, options_);
      if (!compiled) return compiled.error();
      templates_ = std::move(*compiled);
    }
    view_ = std::make_unique<Options>(options_, decl_.options, templates_.get());
    return component_->configure(*view_, context_);
  }
  Status start() { return component_->start(); }
  /// Drains and stops, running whatever the drain needs on the manual executor.
  void stop() {
    component_->drain([] {});
    executor().run_pending();
    component_->stop();
  }

  /// Applies a transform to `event`; an asynchronous one is run on the executor until it
  /// decides (a retryable "no callback" error when it does not within `timeout` of virtual time).
  /// As the engine does, the event's received payload bytes are forgotten first unless the
  /// transform says it does not change payloads.
  Result<Verdict> apply(Event& event, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto& transform = static_cast<Transform&>(*component_);
    if (transform.changes_payload()) event.clear_raw_data();
    AsyncTransform* async = transform.asynchronous();
    if (async == nullptr) return transform.apply(event);
    std::optional<Result<Verdict>> outcome;
    async->process(event, [&](Result<Verdict> verdict) { outcome = std::move(verdict); });
    for (auto waited = std::chrono::milliseconds(0); !outcome && waited < timeout;
         waited += std::chrono::milliseconds(10)) {
      executor().advance(std::chrono::milliseconds(10));
    }
    if (!outcome) return retryable("transform did not call back");
    return std::move(*outcome);
  }
  /// Runs a splitting transform (SplitTransform) on `event`: the events that replace it.
  Result<Events> split(Event& event) {
    SplitTransform* splitting = static_cast<Transform&>(*component_).splitting();
    if (splitting == nullptr) return permanent("Harness::split: the component is not a SplitTransform");
    if (splitting->changes_payload()) event.clear_raw_data();
    return splitting->split(event);
  }
  /// Delivers `event` to a sink and runs the executor until the sink reports; a sink that
  /// never calls back within `timeout` of virtual time yields a retryable "no callback" error.
  Status deliver(EventPtr event, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::optional<Status> outcome;
    static_cast<Sink&>(*component_).deliver(std::move(event), [&](Status s) {
      outcome = std::move(s);
    });
    for (auto waited = std::chrono::milliseconds(0); !outcome && waited < timeout;
         waited += std::chrono::milliseconds(10)) {
      executor().advance(std::chrono::milliseconds(10));
    }
    if (!outcome) return retryable("sink did not call back");
    return *outcome;
  }

  /// Events a source has emitted so far.
  std::vector<std::unique_ptr<Event>>& emitted() { return context_.capturing_emitter().events; }
  CapturingEmitter& emitter() { return context_.capturing_emitter(); }
  CapturedLogger& logs() { return context_.captured_logger(); }
  /// Calls one of the component's HTTP routes, running the executor until it replies.
  HttpResponse request(std::string_view method, std::string_view path,
                       const HttpHeaders& headers, std::string_view body) {
    return context_.capturing_routes().call(method, path, headers, body,
                                            [this] { advance(std::chrono::milliseconds(1)); });
  }
  CapturingRoutes& routes() { return context_.capturing_routes(); }
  /// Connects to the component's WebSocket route `path` (headers: Authorization, Origin,
  /// Sec-WebSocket-Protocol...) and runs the executor so that its opened() has run.
  FakeWebSocket connect_websocket(std::string_view path, const HttpHeaders& headers = {},
                                  std::string_view remote = "127.0.0.1:40000") {
    FakeWebSocket ws = context_.capturing_routes().connect_websocket(path, headers, remote);
    executor().run_pending();
    return ws;
  }
  /// Sets how the component's outbound HTTP requests are answered.
  void respond_with(ScriptedHttpClient::Responder responder) {
    context_.respond_with(std::move(responder));
  }
  std::vector<HttpClientRequest>& http_requests() { return context_.http_requests(); }
  /// The pipeline's parked requests, as the component's context sees them.
  ManualReplies& replies() { return *context_.manual_replies(); }
  /// What the component reported through context.metrics() (labels: its own only).
  CapturingMetrics& metrics() { return context_.capturing_metrics(); }
  ManualExecutor& executor() { return context_.manual_executor(); }
  /// Moves virtual time forward (timers fire, posted tasks run).
  void advance(std::chrono::milliseconds by) { executor().advance(by); }
  TestContext& context() { return context_; }
  template <class T>
  T& component() { return static_cast<T&>(*component_); }

 private:
  const ComponentDecl& decl_;
  TestContext context_;
  rapidjson::Document options_;
  std::vector<OptionError> option_errors_;
  std::unique_ptr<TemplateSet> templates_;
  std::unique_ptr<Options> view_;
  std::unique_ptr<Component> component_;
};

}  // namespace switchyard::testing
