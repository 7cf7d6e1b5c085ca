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

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/detail/fake_http.hpp"
#include "switchyard/detail/fake_services.hpp"
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
  DeadLetterFeed& dead_letters() override { return dead_letters_; }
  void report_health(std::optional<std::string> problem) override {
    std::lock_guard lock(health_mutex_);
    health_reports_.push_back(std::move(problem));
  }
  /// What the component reported through report_health(), in order (nullopt: healthy).
  std::vector<std::optional<std::string>> health() const {
    std::lock_guard lock(health_mutex_);
    return health_reports_;
  }
  CapturingMetrics& capturing_metrics() { return metrics_; }
  /// The dead-letter queue the component reads (record() entries into it).
  RecordedDeadLetters& recorded_dead_letters() { return dead_letters_; }
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
  CapturingEmitter emitter_{&state_};
  Emitter* other_emitter_ = nullptr;
  CapturingRoutes routes_;
  CapturingMetrics metrics_;
  std::shared_ptr<ManualReplies> replies_ = std::make_shared<ManualReplies>(executor_);
  RecordedDeadLetters dead_letters_{executor_};
  mutable std::mutex health_mutex_;
  std::vector<std::optional<std::string>> health_reports_;
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
  /// What the sink would send for `event` (Sink::render), sending nothing.
  Result<std::optional<Rendering>> render(const Event& event) {
    return static_cast<Sink&>(*component_).render(event);
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
