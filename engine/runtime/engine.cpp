#include "runtime/engine.hpp"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <mutex>

#include "admin/admin.hpp"
#include "http/server.hpp"
#include "journal/journal.hpp"
#include "metrics/registry.hpp"
#include "log/logging.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/state_store.hpp"

namespace switchyard::runtime {

struct Engine::State {
  explicit State(const config::EngineConfig& c)
      : config(c), io(c.threads), signals(io.context(), SIGINT, SIGTERM),
        server(io, http::ServerSettings{.name = "http",
                                        .listen = c.http.listen,
                                        .max_body = c.http.max_body,
                                        .max_header = c.http.max_header,
                                        .read_timeout = c.http.read_timeout,
                                        .idle_timeout = c.http.idle_timeout,
                                        .max_connections = c.http.max_connections,
                                        .tls_cert = c.http.tls_cert,
                                        .tls_key = c.http.tls_key}),
        services{io, store, server},
        admin(io,
              admin::Settings{.listen = c.admin.listen, .token = c.admin.token, .state_dir = c.state_dir,
                              .version = SWITCHYARD_VERSION},
              metrics,
              admin::Hooks{.pipelines = [this] { return running(); },
                           .problems = [this] { return failed(); },
                           .reload = nullptr}) {
    services.metrics = &metrics;
  }

  std::vector<std::shared_ptr<Pipeline>> running() {
    std::lock_guard lock(mutex);
    return pipelines;
  }
  std::vector<admin::PipelineProblem> failed() {
    std::lock_guard lock(mutex);
    return problems;
  }

  config::EngineConfig config;
  Io io;
  // After io (its writer thread, joined first, posts into io's strands) and before the
  // state store and pipelines, which write to it.
  std::unique_ptr<journal::Journal> journal;
  // Installed before any pipeline starts, so a signal during start-up drains too.
  boost::asio::signal_set signals;
  MemoryStateStore store;
  metrics::Registry metrics;
  http::Server server;
  Services services;
  std::vector<std::shared_ptr<Pipeline>> pipelines;   // under mutex
  std::vector<admin::PipelineProblem> problems;       // pipelines that failed to start, under mutex
  admin::Admin admin;
  std::mutex mutex;
  std::condition_variable changed;
  bool stop_requested = false;
};

Engine::Engine(const config::EngineConfig& config) : state_(std::make_unique<State>(config)) {
  state_->signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::engine().info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    request_stop();
  });
  state_->io.start();
}

Engine::~Engine() { state_->io.stop(); }

Status Engine::open_journal() {
  if (state_->config.state_dir.empty()) return {};
  auto journal = journal::Journal::open(journal::Options{.dir = state_->config.state_dir,
                                                         .max_bytes = state_->config.state_max_bytes,
                                                         .fsync = state_->config.state_fsync});
  if (!journal) return journal.error();
  auto entries = (*journal)->load_state();
  if (!entries) return entries.error();
  state_->store.attach(**journal, std::move(*entries));
  state_->journal = std::move(*journal);
  state_->services.journal = state_->journal.get();
  const auto stats = state_->journal->stats();
  log::engine().info("journal {} ({} KiB in use{})", state_->journal->file().string(), stats.bytes_used / 1024,
                     state_->config.state_fsync ? "" : ", fsync off");
  return {};
}

Status Engine::open_admin() { return state_->admin.start(); }

std::size_t Engine::start(std::vector<config::PipelineConfig> pipelines) {
  auto& log = log::engine();
  std::size_t started = 0;
  for (auto& config : pipelines) {
    auto shared = std::make_shared<const config::PipelineConfig>(std::move(config));
    if (shared->durability == config::Durability::disk && !state_->journal) {
      log.warn("pipeline {}: durability 'disk' needs state.dir; events are kept in memory", shared->name);
    }
    auto pipeline = make_pipeline(shared, state_->services);
    Status status = pipeline->build();
    if (status) status = pipeline->start();
    if (!status) {
      log.error("pipeline {} ({}) failed to start: {}", shared->name, shared->file,
                status.error().message);
      std::lock_guard lock(state_->mutex);
      state_->problems.push_back({shared->name, shared->file, status.error().message});
      continue;
    }
    log.info("pipeline {} started ({} -> {} transform(s) -> {} sink(s))", shared->name,
             shared->source.type, shared->transforms.size(), shared->sinks.size());
    std::lock_guard lock(state_->mutex);
    state_->pipelines.push_back(std::move(pipeline));
    ++started;
  }
  return started;
}

void Engine::request_stop() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop_requested = true;
  }
  state_->changed.notify_all();
}

int Engine::run() {
  auto& log = log::engine();
  {
    std::unique_lock lock(state_->mutex);
    state_->changed.wait(lock, [&] { return state_->stop_requested; });
  }
  boost::system::error_code ignored;
  state_->signals.cancel(ignored);

  const auto timeout = state_->config.shutdown_timeout;
  log.info("draining {} pipeline(s) for up to {} ms", state_->pipelines.size(), timeout.count());
  std::size_t remaining = state_->pipelines.size();
  for (auto& pipeline : state_->pipelines) {
    pipeline->drain([this, &remaining] {
      {
        std::lock_guard lock(state_->mutex);
        --remaining;
      }
      state_->changed.notify_all();
    });
  }
  bool drained = false;
  {
    std::unique_lock lock(state_->mutex);
    drained = state_->changed.wait_for(lock, timeout, [&] { return remaining == 0; });
  }
  if (!drained) log.warn("shutdown_timeout reached before every event was delivered");
  for (auto& pipeline : state_->pipelines) pipeline->stop();
  state_->admin.stop();
  state_->server.close();
  state_->io.stop();
  log.info("stopped");
  return 0;
}

std::vector<std::shared_ptr<Pipeline>> Engine::pipelines() const { return state_->running(); }

}  // namespace switchyard::runtime
