#pragma once
// Internal: the Context the engine gives each component.

#include <cstdint>
#include <memory>
#include <string>

#include "http/client.hpp"
#include "http/server.hpp"
#include "log/logging.hpp"
#include "metrics/registry.hpp"
#include "runtime/dead_letter_feed.hpp"
#include "runtime/drops.hpp"
#include "runtime/health.hpp"
#include "runtime/io.hpp"
#include "runtime/state_store.hpp"
#include "switchyard/context.hpp"

namespace switchyard::runtime {

class EventTap;

/// What the engine shares with every component.
struct Services {
  Io& io;
  StateTable& state;
  http::Server& routes;
  /// The journal in state.dir; nullptr keeps every pipeline in memory (tests, `switchyard test`).
  journal::Journal* journal = nullptr;
  /// Where components' metrics go; nullptr: a registry nobody scrapes.
  metrics::Registry* metrics = nullptr;
  /// Recent events for the admin console (runtime/event_tap.hpp); nullptr: none kept.
  std::shared_ptr<EventTap> tap;
  /// http.max_body: no route takes a larger body, whatever its component asks; 0: no ceiling.
  std::uint64_t max_body = 0;
  /// What components report about their health (readiness); nullptr: not kept.
  std::shared_ptr<HealthBook> health;
};


/// The shared listener as a pipeline's components see it: routes are registered in the
/// pipeline's name, so its next version (hot reload) can take them over.
/// WebSocket callbacks run on the component's strand (`executor`).
class PipelineRoutes final : public HttpRoutes {
 public:
  /// `drops`: where a source's refusals (401 answers) are noted; nullptr: nowhere.
  PipelineRoutes(http::Server& server, std::string pipeline, std::uint64_t max_body, Executor& executor,
                 std::shared_ptr<DropBook> drops = nullptr)
      : server_(server), pipeline_(std::move(pipeline)), max_body_(max_body), executor_(executor),
        drops_(std::move(drops)) {}
  Result<std::unique_ptr<HttpRoute>> add(std::string method, std::string path, HttpHandler handler,
                                         HttpRouteOptions options) override {
    // The smaller limit applies: a source's own max_body (github.webhook's 25 MiB default)
    // may lower the operator's http.max_body, never raise it.
    if (max_body_ != 0 && (options.max_body == 0 || options.max_body > max_body_)) {
      options.max_body = static_cast<std::size_t>(max_body_);
    }
    if (drops_) {
      // The last refusal's reason, as the sender was told ("X-Hub-Signature-256 does not
      // match the body"): a wrong secret shows in the admin API and the console at once.
      handler = [handler = std::move(handler), drops = drops_](const HttpRequest& request, HttpReply reply) {
        handler(request, [reply = std::move(reply), drops](HttpResponse response) {
          if (response.status == 401) drops->refused(answer_reason(response.body));
          reply(std::move(response));
        });
      };
    }
    return server_.add_owned(pipeline_, std::move(method), std::move(path), std::move(handler), options);
  }
  Result<std::unique_ptr<HttpRoute>> add_websocket(std::string path, std::shared_ptr<WebSocketHandler> handler,
                                                   const WebSocketOptions& options) override {
    return server_.add_websocket_owned(pipeline_, std::move(path), std::move(handler), options, &executor_);
  }

 private:
  http::Server& server_;
  std::string pipeline_;
  std::uint64_t max_body_;
  Executor& executor_;
  std::shared_ptr<DropBook> drops_;
};

class ComponentContext final : public Context {
 public:
  /// `label` names the component in the log line of an exception its tasks throw; `drops`
  /// (nullptr: none) counts its drops and refusals for the admin API (runtime/drops.hpp).
  ComponentContext(std::string pipeline, std::string component, std::string label, Strand strand,
                   Services& services, Emitter& emitter, Replies& replies, bool durable_state,
                   std::shared_ptr<DropBook> drops = nullptr)
      : pipeline_(std::move(pipeline)),
        component_(std::move(component)),
        logger_(pipeline_ + "/" + component_),
        metrics_(count_drops((services.metrics ? *services.metrics : metrics::unscraped()).scoped(pipeline_, component_),
                             drops, component_)),
        failure_(task_failure(std::move(label))),
        executor_(std::move(strand), failure_),
        state_(services.state, pipeline_ + "/" + component_ + "/", durable_state),
        emitter_(emitter),
        replies_(replies),
        services_(services),
        routes_(services.routes, pipeline_, services.max_body, executor_, std::move(drops)) {
    if (services.journal) {
      dead_letters_ = std::make_unique<JournalDeadLetterFeed>(*services.journal, executor_.strand(), failure_);
    }
  }

  ~ComponentContext() override {
    close();  // nothing it queued runs on a freed context
    if (services_.health) services_.health->clear(health_key_);
  }
  ComponentContext(const ComponentContext&) = delete;
  ComponentContext& operator=(const ComponentContext&) = delete;

  std::string_view pipeline() const override { return pipeline_; }
  std::string_view component() const override { return component_; }
  Logger& logger() override { return logger_; }
  Executor& executor() override { return executor_; }
  StateStore& state() override { return state_; }
  Emitter& emitter() override { return emitter_; }
  HttpRoutes& routes() override { return routes_; }
  std::unique_ptr<HttpClient> http_client(const HttpClientOptions& options) override {
    return http::make_client(services_.io, executor_, logger_, options);
  }
  Metrics& metrics() override { return *metrics_; }
  Replies& replies() override { return replies_; }
  DeadLetterFeed& dead_letters() override { return dead_letters_ ? *dead_letters_ : Context::dead_letters(); }
  void report_health(std::optional<std::string> problem) override {
    if (!services_.health) return;
    if (problem) {
      services_.health->set(health_key_, pipeline_, component_, std::move(*problem));
    } else {
      services_.health->clear(health_key_);
    }
  }
  const Strand& strand() const { return executor_.strand(); }
  /// Drops tasks the component posted but that have not run yet; call after stop().
  void close() {
    executor_.close();
    if (dead_letters_) dead_letters_->close();
  }

 private:
  // An exception from one of the component's tasks is logged and counted; the task is
  // dropped and the rest of the engine goes on.
  TaskFailure task_failure(std::string label) {
    Counter& errors = metrics_->counter("switchyard_component_errors_total",
                                        "Exceptions thrown by a component's tasks, timers or callbacks (each task dropped).");
    return std::make_shared<const std::function<void(const char*, const std::string&)>>(
        [this, label = std::move(label), &errors](const char* where, const std::string& what) {
          errors.inc();
          logger_.error(label + ": " + where + " threw: " + what + "; it was dropped");
        });
  }

  std::string pipeline_;
  std::string component_;
  log::ComponentLogger logger_;
  std::unique_ptr<Metrics> metrics_;
  TaskFailure failure_;
  StrandExecutor executor_;
  ScopedStateStore state_;
  Emitter& emitter_;
  Replies& replies_;
  Services& services_;
  PipelineRoutes routes_;
  std::unique_ptr<JournalDeadLetterFeed> dead_letters_;  // nullptr without a journal
  std::uint64_t health_key_ = services_.health ? services_.health->enroll() : 0;
};

/// The emitter of components that are not sources: emitting is a programming error.
class RefusingEmitter final : public Emitter {
 public:
  void emit(std::unique_ptr<Event>, EmitCallback done) override {
    if (done) done(permanent("only sources can emit events"));
  }
  bool saturated() const override { return true; }
  void when_ready(std::function<void()>) override {}
};

}  // namespace switchyard::runtime
