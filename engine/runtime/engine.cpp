#include "runtime/engine.hpp"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "admin/admin.hpp"
#include "http/server.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "metrics/registry.hpp"
#include "log/logging.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/state_store.hpp"
#include "runtime/watch.hpp"

namespace switchyard::runtime {

struct Engine::State {
  explicit State(const config::EngineConfig& c)
      : config(c), io(c.threads), signals(io.context(), SIGINT, SIGTERM, SIGHUP),
        server(io, http::ServerSettings{.name = "http",
                                        .listen = c.http.listen,
                                        .max_body = c.http.max_body,
                                        .max_header = c.http.max_header,
                                        .read_timeout = c.http.read_timeout,
                                        .idle_timeout = c.http.idle_timeout,
                                        .max_connections = c.http.max_connections,
                                        .max_connections_per_ip = c.http.max_connections_per_ip,
                                        .exempt_loopback = c.http.exempt_loopback,
                                        .tls_cert = c.http.tls_cert,
                                        .tls_key = c.http.tls_key,
                                        .metrics = &metrics}),
        services{io, store, server},
        admin(io,
              admin::Settings{.listen = c.admin.listen, .token = c.admin.token,
                              .allowed_hosts = c.admin.allowed_hosts, .state_dir = c.state_dir,
                              .version = SWITCHYARD_VERSION},
              metrics,
              admin::Hooks{.pipelines = [this] { return running(); },
                           .problems = [this] { return failed(); },
                           .journal = [this] { return journal ? journal->problem() : std::nullopt; },
                           .journal_gauges = [this] { return journal_gauges(); },
                           .listener = [this] { return listener_down(); },
                           .health = [this] { return unhealthy(); },
                           .reload = [this](ReloadDone done) { queue_reload(std::move(done)); }}) {
    services.metrics = &metrics;
    services.health = health;
    services.tap = admin.tap();  // recent events for the admin console
    services.max_body = c.http.max_body;
  }

  void queue_reload(ReloadDone done) {
    {
      std::lock_guard lock(reload_mutex);
      if (!loader || reload_stopping) {
        if (done) done(loader ? retryable("the engine is stopping") : permanent("hot reload is not enabled"));
        return;
      }
      reload_requests.push_back(std::move(done));
    }
    reload_cv.notify_one();
  }

  std::vector<std::shared_ptr<Pipeline>> running() {
    std::lock_guard lock(mutex);
    return pipelines;
  }
  std::optional<admin::JournalGauges> journal_gauges() {
    if (!journal) return std::nullopt;
    admin::JournalGauges out{.bytes = journal->stats().bytes_used, .oldest_pending = std::nullopt};
    if (auto oldest = journal->oldest_pending_ms()) out.oldest_pending = *oldest;
    return out;
  }

  std::vector<admin::PipelineProblem> failed() {
    std::lock_guard lock(mutex);
    return problems;
  }
  std::vector<admin::ComponentProblem> unhealthy() const {
    std::vector<admin::ComponentProblem> out;
    for (auto& p : health->problems()) out.push_back({std::move(p.pipeline), std::move(p.component), std::move(p.problem)});
    return out;
  }
  std::optional<std::string> listener_down() {
    std::lock_guard lock(mutex);
    return listener_problem;
  }

  config::EngineConfig config;
  // Before io: connections still held by io's handlers when it is destroyed (keep-alive
  // clients at shutdown) count themselves out of the listener's gauges in their destructors.
  metrics::Registry metrics;
  Io io;
  // After io (its writer thread, joined first, posts into io's strands) and before the
  // state store and pipelines, which write to it.
  std::unique_ptr<journal::Journal> journal;
  // Installed before any pipeline starts, so a signal during start-up drains too.
  boost::asio::signal_set signals;
  StateTable store;
  http::Server server;
  std::shared_ptr<HealthBook> health = std::make_shared<HealthBook>();  // before services: they point to it
  Services services;
  std::vector<std::shared_ptr<Pipeline>> pipelines;   // under mutex
  std::vector<admin::PipelineProblem> problems;       // files not applied and pipelines that failed to start, under mutex
  std::optional<std::string> listener_problem;        // the shared listener could not open, under mutex
  admin::Admin admin;
  std::mutex mutex;
  std::condition_variable changed;
  bool stop_requested = false;

  // Hot reload: one thread applies reloads one at a time.
  std::mutex reload_mutex;
  std::condition_variable reload_cv;
  std::deque<ReloadDone> reload_requests;
  bool reload_stopping = false;
  bool started = false;  // start() has run: reloads asked for before wait for it
  PipelineLoader loader;
  std::thread reloader;
  std::unique_ptr<DirectoryWatcher> watcher;
  std::map<std::string, std::string> contents;  // file → content of its running pipeline
  std::vector<std::shared_future<void>> retiring;              // old versions draining after a swap
  std::map<std::string, std::shared_future<void>> last_swap;   // per pipeline name: its latest swap
};

namespace {
// A pipeline that cannot start makes the engine unready only when nothing serves in its place
// (no previous version) and its configuration is not the cause: the listener, the journal or
// a service it needs. A broken file, new or changed, leaves what runs serving.
bool blocks_readiness(bool previous_runs, const Error& error) {
  return !previous_runs && error.kind != ErrorKind::invalid_config;
}

// At most `cap` bytes: what the reload loader compares against (it reads no more).
std::string read_file(const std::string& path, std::uint64_t cap) {
  std::ifstream in(path, std::ios::binary);
  std::string out;
  char chunk[16 * 1024];
  while (in && out.size() < cap) {
    in.read(chunk, static_cast<std::streamsize>(std::min<std::uint64_t>(sizeof chunk, cap - out.size())));
    out.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  return out;
}
}  // namespace

void Engine::wait_for_signal() {
  state_->signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      log::engine().info("received SIGHUP, reloading pipelines");
      state_->queue_reload(nullptr);
      return wait_for_signal();
    }
    log::engine().info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    request_stop();
  });
}

Engine::Engine(const config::EngineConfig& config) : state_(std::make_unique<State>(config)) {
  wait_for_signal();
  state_->io.start();
}

Engine::~Engine() {
  stop_reloading();
  state_->io.stop();
}

void Engine::stop_reloading() {
  if (state_->watcher) state_->watcher->stop();
  {
    std::lock_guard lock(state_->reload_mutex);
    state_->reload_stopping = true;
  }
  state_->reload_cv.notify_all();
  if (state_->reloader.joinable()) state_->reloader.join();
  for (auto& f : state_->retiring) f.wait();
  state_->retiring.clear();
}

Status Engine::enable_reload(PipelineLoader load, bool watch) {
  {
    std::lock_guard lock(state_->reload_mutex);
    state_->loader = std::move(load);
  }
  state_->reloader = std::thread([this] {
    for (;;) {
      std::vector<ReloadDone> waiting;
      {
        std::unique_lock lock(state_->reload_mutex);
        state_->reload_cv.wait(lock, [&] {
          return state_->reload_stopping || (state_->started && !state_->reload_requests.empty());
        });
        if (state_->reload_stopping) break;
        // Requests that queued up while the last reload ran are answered by one reload.
        waiting.assign(std::make_move_iterator(state_->reload_requests.begin()),
                       std::make_move_iterator(state_->reload_requests.end()));
        state_->reload_requests.clear();
      }
      // A reload must not take the engine down, whatever a file or a plugin throws.
      Result<std::string> result = permanent("reload failed");
      try {
        result = reload();
      } catch (const std::exception& e) {
        log::engine().error("reload failed, the running pipelines stay: {}", e.what());
        result = permanent(std::string("reload failed: ") + e.what());
      }
      for (auto& done : waiting) {
        if (done) done(result);
      }
    }
    std::lock_guard lock(state_->reload_mutex);
    for (auto& done : state_->reload_requests) {
      if (done) done(retryable("the engine is stopping"));
    }
    state_->reload_requests.clear();
  });
  if (!watch) return {};
  state_->watcher = std::make_unique<DirectoryWatcher>(state_->config.pipelines_dir, std::chrono::milliseconds(50),
                                                       [this] { state_->queue_reload(nullptr); });
  return state_->watcher->start();
}

void Engine::request_reload(ReloadDone done) { state_->queue_reload(std::move(done)); }

// Starts `config` as a new pipeline, or as the new version of `previous`.
Result<std::shared_ptr<Pipeline>> Engine::launch(const config::PipelineConfig& config, bool hold) {
  auto shared = std::make_shared<const config::PipelineConfig>(config);
  if (shared->durability == config::Durability::disk && !state_->journal) {
    log::engine().warn("pipeline {}: durability 'disk' needs state.dir; events are kept in memory", shared->name);
  }
  auto pipeline = make_pipeline(shared, state_->services);
  Status status = pipeline->build();
  if (status && hold) pipeline->hold_deliveries();
  if (status) status = pipeline->start();  // a failed start stops what it started
  if (!status) return status.error();
  return pipeline;
}

// In the background: waits for the previous swap of the same pipeline, drains and stops
// `old` (if any), then releases `next` (its new version, if any), which delivers whatever
// the old ones left in the journal. Swaps of one name run one after the other, so two
// versions never read the same journal rows.
void Engine::retire(const std::string& name, std::shared_ptr<Pipeline> old, std::shared_ptr<Pipeline> next,
                    std::uint64_t last_seq) {
  const auto timeout = state_->config.shutdown_timeout;
  std::shared_future<void> before = state_->last_swap[name];
  auto task = std::async(std::launch::async, [before, old, next, timeout, last_seq] {
                if (before.valid()) before.wait();
                if (old) {
                  // The old version's source drains first: an HTTP source waits there for the
                  // requests already inside its handlers, so their events are in before it stops.
                  auto drained = std::make_shared<std::promise<void>>();
                  auto future = drained->get_future();
                  auto finish = [drained] { drained->set_value(); };
                  if (next) {
                    old->drain_for_replacement(finish, last_seq);
                  } else {
                    old->drain(finish);
                  }
                  if (future.wait_for(timeout) != std::future_status::ready) {
                    log::engine().warn("pipeline {}: the previous version did not drain within shutdown_timeout; "
                                       "what is left stays in the journal", old->name());
                  }
                  old->stop();
                  log::engine().info("pipeline {}: previous version stopped", old->name());
                }
                if (next) next->release();
              }).share();
  state_->last_swap[name] = task;
  state_->retiring.push_back(task);
  // Forget swaps that have finished.
  std::erase_if(state_->retiring, [](const std::shared_future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
}

Result<std::string> Engine::reload() {
  auto& log = log::engine();
  const auto started_at = std::chrono::steady_clock::now();
  PipelineLoader loader;
  {
    std::lock_guard lock(state_->reload_mutex);
    loader = state_->loader;
  }
  std::vector<PipelineFile> files = loader();
  std::map<std::string, std::shared_ptr<Pipeline>> running;
  for (auto& p : state_->running()) running[p->name()] = p;

  // The pipelines this reload replaces or stops yield their paths: another's new version may
  // take them over (two pipelines swapping paths, a pipeline renamed in its file).
  std::set<std::string, std::less<>> yielding;
  for (const auto& [name, p] : running) {
    const auto& file = p->config().file;
    bool unchanged = false;
    for (const auto& f : files) {
      unchanged |= f.file == file && f.config && f.config->name == name && state_->contents[file] == f.content;
    }
    if (!unchanged) yielding.insert(name);
  }
  state_->server.yield(std::move(yielding));
  struct EndYield {
    http::Server& server;
    ~EndYield() { server.yield({}); }
  } end_yield{state_->server};

  std::vector<std::string> errors, done;
  std::vector<admin::PipelineProblem> problems;
  std::set<std::string> names, invalid_files;
  // A name defined by two files: the file running it keeps it (a copy of a running
  // pipeline's file must not take it over); otherwise the first file in order does.
  std::map<std::string, std::string> owner;
  for (auto& f : files) {
    if (!f.config) continue;
    auto r = running.find(f.config->name);
    if (r != running.end() && r->second->config().file == f.file) owner[f.config->name] = f.file;
  }
  for (auto& f : files) {
    if (f.config) owner.emplace(f.config->name, f.file);
  }
  for (auto& f : files) {
    if (!f.config) {
      invalid_files.insert(f.file);
      errors.push_back(f.error);
      bool previous = false;
      std::string name = f.name;
      for (auto& [n, p] : running) {
        if (p->config().file != f.file) continue;
        name = n;
        previous = true;
      }
      problems.push_back({name, f.file, (previous ? "still running the previous version; " : "") + f.error});
      continue;
    }
    const std::string name = f.config->name;
    if (owner[name] != f.file || !names.insert(name).second) {
      errors.push_back(f.file + ": pipeline name '" + name + "' is already defined by " + owner[name]);
      invalid_files.insert(f.file);
      problems.push_back({name, f.file, errors.back()});
      continue;
    }
    auto it = running.find(name);
    const std::shared_ptr<Pipeline> previous = it == running.end() ? nullptr : it->second;
    if (previous && previous->config().file == f.file && state_->contents[f.file] == f.content) continue;
    // A version of this name may still be draining (an earlier swap, or a file removed and
    // added again): the new one then holds its deliveries until it has stopped.
    const auto swap = state_->last_swap.find(name);
    const bool swapping = swap != state_->last_swap.end() &&
                          swap->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
    const std::uint64_t last_seq = state_->journal ? state_->journal->last_committed() : 0;
    // From here on the previous version reads no newer events, though its own swap may not
    // run yet (it waits for an earlier one): those are the new version's to deliver.
    if (previous && state_->journal) previous->limit_reads(last_seq);
    auto next = launch(*f.config, previous != nullptr || swapping);
    if (!next) {
      if (previous && state_->journal) previous->limit_reads(Pipeline::kNoReadLimit);  // it stays the newest
      errors.push_back(f.file + ": pipeline " + name + " failed to start: " + next.error().message);
      problems.push_back({name, f.file, (previous ? "still running the previous version; " : "") + next.error().message,
                          blocks_readiness(previous != nullptr, next.error())});
      invalid_files.insert(f.file);  // whatever this file ran before keeps running
      continue;
    }
    {
      std::lock_guard lock(state_->mutex);
      if (previous) std::erase(state_->pipelines, previous);
      state_->pipelines.push_back(*next);
    }
    state_->contents[f.file] = std::move(f.content);
    if (previous || swapping) retire(name, previous, *next, last_seq);
    done.push_back((previous ? "replaced " : "started ") + name);
    log.info("pipeline {} {} ({})", name, previous ? "replaced by its new version" : "started", f.file);
  }
  // Running pipelines no file defines any more: stopped (drained). A pipeline whose file is
  // invalid keeps running.
  for (auto& [name, p] : running) {
    if (names.count(name) || invalid_files.count(p->config().file)) continue;
    bool replaced_by_other_file = false;
    for (auto& f : files) replaced_by_other_file |= f.config && f.config->name == name;
    if (replaced_by_other_file) continue;
    {
      std::lock_guard lock(state_->mutex);
      std::erase(state_->pipelines, p);
    }
    state_->contents.erase(p->config().file);
    retire(name, p, nullptr, 0);
    done.push_back("stopped " + name);
    log.info("pipeline {} stopped: its file is gone ({})", name, p->config().file);
  }
  {
    std::lock_guard lock(state_->mutex);
    state_->problems = problems;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_at);
  const bool ok = errors.empty();
  state_->metrics.counter(metrics::names::kReloads, "Pipeline reloads, by result (ok, error).",
                          {{"result", ok ? "ok" : "error"}})
      .inc();
  std::string summary = done.empty() ? "no changes" : "";
  for (std::size_t i = 0; i < done.size(); ++i) summary += (i ? ", " : "") + done[i];
  summary += " (" + std::to_string(ms.count()) + " ms)";
  if (ok) {
    log.info("reload: {}", summary);
    return summary;
  }
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
  log.error("reload: {} file(s) not applied, the running version stays: {} (applied: {})", errors.size(), message,
            summary);
  return invalid_config(message + "\napplied: " + summary);
}

Status Engine::open_journal() {
  if (state_->config.state_dir.empty()) return {};
  auto journal = journal::Journal::open(journal::Options{.dir = state_->config.state_dir,
                                                         .max_bytes = state_->config.state_max_bytes,
                                                         .fsync = state_->config.state_fsync,
                                                         .stop_timeout = state_->config.shutdown_timeout});
  if (!journal) return journal.error();
  auto entries = (*journal)->load_state();
  if (!entries) return entries.error();
  auto remembered = (*journal)->load_remembered();
  if (!remembered) return remembered.error();
  state_->store.attach(**journal, std::move(*entries), std::move(*remembered));
  state_->journal = std::move(*journal);
  state_->services.journal = state_->journal.get();
  const auto stats = state_->journal->stats();
  log::engine().info("journal {} ({} KiB in use{})", state_->journal->file().string(), stats.bytes_used / 1024,
                     state_->config.state_fsync ? "" : ", fsync off");
  return {};
}

Status Engine::open_admin() { return state_->admin.start(); }

std::size_t Engine::start(std::vector<config::PipelineConfig> pipelines, const std::vector<PipelineFile>& invalid) {
  auto& log = log::engine();
  std::size_t started = 0;
  // One rule for a bad file, at start as on reload: reported, listed as failed, and the
  // valid files start (`run --strict` refuses to start instead).
  for (const auto& f : invalid) {
    log.error("pipeline {} ({}) not started: its file is invalid:\n{}", f.name, f.file, f.error);
    std::lock_guard lock(state_->mutex);
    state_->problems.push_back({f.name, f.file, f.error});
  }
  // Configured paths answer 503 + Retry-After until their pipeline is up (not 404, which
  // a sender may take as "wrong URL"); with many pipelines, starting takes seconds.
  std::vector<std::vector<std::string>> paths;
  for (const auto& config : pipelines) {
    paths.emplace_back();
    for (auto& route : config::route_paths(config)) paths.back().push_back(std::move(route.path));
  }
  for (const auto& p : paths) {
    if (Status s = state_->server.expect(p); !s) {
      log.error("the HTTP listener: {}", s.error().message);
      std::lock_guard lock(state_->mutex);
      state_->listener_problem = s.error().message;
    }
  }
  for (std::size_t i = 0; i < pipelines.size(); ++i) {
    auto& config = pipelines[i];
    auto pipeline = launch(config, false);
    state_->server.forget(paths[i]);
    if (!pipeline) {
      log.error("pipeline {} ({}) failed to start: {}", config.name, config.file, pipeline.error().message);
      std::lock_guard lock(state_->mutex);
      state_->problems.push_back(
          {config.name, config.file, pipeline.error().message, blocks_readiness(false, pipeline.error())});
      continue;
    }
    std::string sources;
    for (const auto& source : config.sources) sources += (sources.empty() ? "" : " + ") + source.type;
    log.info("pipeline {} started ({} -> {} transform(s) -> {} sink(s))", config.name, sources,
             config.transforms.size(), config.sinks.size());
    state_->contents[config.file] = read_file(config.file, state_->config.pipeline_max_file_bytes + 1);
    std::lock_guard lock(state_->mutex);
    state_->pipelines.push_back(std::move(*pipeline));
    ++started;
  }
  adopt_orphans(pipelines, invalid);
  log.info("{} of {} pipeline(s) started{}", started, pipelines.size() + invalid.size(),
           invalid.empty() ? "" : fmt::format(" ({} invalid file(s), see GET /api/pipelines)", invalid.size()));
  {
    std::lock_guard lock(state_->reload_mutex);
    state_->started = true;
  }
  state_->reload_cv.notify_all();
  return started;
}

// Events journaled for a pipeline that no configured file defines (removed or renamed)
// would wait in the journal for ever, counting toward state.max_bytes: at start they move to
// the dead-letter queue, where an operator sees them and can replay them once a pipeline of
// that name runs again. A name no file defines is gone, not merely broken: an invalid file
// keeps the events of the name it gives (read from its text, else its file name), and so
// does a pipeline that failed to start.
void Engine::adopt_orphans(const std::vector<config::PipelineConfig>& configured,
                           const std::vector<PipelineFile>& invalid) {
  if (!state_->journal) return;
  auto pending = state_->journal->pending_by_pipeline();
  if (!pending) return;
  std::optional<journal::DeadLetters> dlq;
  for (const auto& [name, count] : *pending) {
    const bool known = std::any_of(configured.begin(), configured.end(),
                                   [&](const config::PipelineConfig& c) { return c.name == name; }) ||
                       std::any_of(invalid.begin(), invalid.end(), [&](const PipelineFile& f) { return f.name == name; });
    if (known) continue;
    if (!dlq) {
      auto opened = journal::DeadLetters::open(state_->config.state_dir);
      if (!opened) {
        log::engine().error("the journal holds undelivered events of pipelines no file defines, and the dead-letter "
                            "queue cannot be opened to take them: {}", opened.error().message);
        return;
      }
      dlq.emplace(std::move(*opened));
    }
    auto moved = dlq->adopt(name, "moved to the dead-letter queue at engine start");
    if (!moved) {
      log::engine().error("pipeline '{}': {} undelivered event(s) of this pipeline, which no file defines any more, "
                          "could not be moved to the dead-letter queue: {}; they stay in the journal",
                          name, count, moved.error().message);
      continue;
    }
    log::engine().warn("pipeline '{}' is no longer defined by any file (removed or renamed): its {} undelivered "
                       "event(s) moved from the journal to the dead-letter queue ({} entr{}, one per sink that still "
                       "owed each); see `switchyard dlq list --pipeline {}`, and `switchyard dlq replay --pipeline {}` "
                       "once a pipeline of that name runs again",
                       name, count, *moved, *moved == 1 ? "y" : "ies", name, name);
  }
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
  stop_reloading();  // no reload starts now; swaps in progress finish

  const auto timeout = state_->config.shutdown_timeout;
  // The journal too: commits that keep failing (a read-only disk) are given up at the end
  // of shutdown_timeout rather than retried for ever.
  if (state_->journal) state_->journal->stop_by(std::chrono::steady_clock::now() + timeout);
  const auto pipelines = state_->running();
  log.info("draining {} pipeline(s) for up to {} ms", pipelines.size(), timeout.count());
  std::size_t remaining = pipelines.size();
  for (auto& pipeline : pipelines) {
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
  for (auto& pipeline : pipelines) pipeline->stop();
  state_->admin.stop();
  state_->server.close();
  state_->io.stop();
  log.info("stopped");
  return 0;
}

std::vector<std::shared_ptr<Pipeline>> Engine::pipelines() const { return state_->running(); }

}  // namespace switchyard::runtime
