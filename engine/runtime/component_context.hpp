#pragma once
// Internal: the Context the engine gives each component.

#include <memory>
#include <string>

#include "http/client.hpp"
#include "log/logging.hpp"
#include "metrics/registry.hpp"
#include "runtime/io.hpp"
#include "runtime/state_store.hpp"
#include "switchyard/context.hpp"

namespace switchyard::runtime {

/// What the engine shares with every component.
struct Services {
  Io& io;
  MemoryStateStore& state;
  HttpRoutes& routes;
  /// The journal in state.dir; nullptr keeps every pipeline in memory (tests, `switchyard test`).
  journal::Journal* journal = nullptr;
  /// Where components' metrics go; nullptr: a registry nobody scrapes.
  metrics::Registry* metrics = nullptr;
};

/// The registry of engines without an admin API (tests, `switchyard test`, `plugins check`).
metrics::Registry& unscraped_metrics();

class ComponentContext final : public Context {
 public:
  ComponentContext(std::string pipeline, std::string component, Strand strand,
                   Services& services, Emitter& emitter, bool durable_state)
      : pipeline_(std::move(pipeline)),
        component_(std::move(component)),
        logger_(pipeline_ + "/" + component_),
        executor_(std::move(strand)),
        state_(services.state, pipeline_ + "/" + component_ + "/", durable_state),
        emitter_(emitter),
        services_(services),
        metrics_((services.metrics ? *services.metrics : unscraped_metrics()).scoped(pipeline_, component_)) {}

  std::string_view pipeline() const override { return pipeline_; }
  std::string_view component() const override { return component_; }
  Logger& logger() override { return logger_; }
  Executor& executor() override { return executor_; }
  StateStore& state() override { return state_; }
  Emitter& emitter() override { return emitter_; }
  HttpRoutes& routes() override { return services_.routes; }
  std::unique_ptr<HttpClient> http_client(const HttpClientOptions& options) override {
    return http::make_client(services_.io, executor_, logger_, options);
  }
  Metrics& metrics() override { return *metrics_; }
  const Strand& strand() const { return executor_.strand(); }
  /// Drops tasks the component posted but that have not run yet; call after stop().
  void close() { executor_.close(); }

 private:
  std::string pipeline_;
  std::string component_;
  log::ComponentLogger logger_;
  StrandExecutor executor_;
  ScopedStateStore state_;
  Emitter& emitter_;
  Services& services_;
  std::unique_ptr<Metrics> metrics_;
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
