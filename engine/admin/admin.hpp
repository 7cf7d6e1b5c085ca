#pragma once
// The admin API on its own listener (admin.listen, loopback by default): metrics, health,
// pipelines, reload and the dead-letter queue. With admin.token set, every endpoint wants
// `Authorization: Bearer <token>` and answers 401 without it. No web page can drive it
// (admin/request_guard.hpp): a foreign Host is 403; a POST needs a JSON Content-Type (415)
// and must not come from another origin (403).
//
//   GET  /                        the live console (a page; admin/console.hpp)
//   GET  /api/stream              its Server-Sent Events stream (also takes ?token=, as does /)
//   GET  /metrics                 Prometheus text format
//   GET  /healthz                 200 while the process runs
//   GET  /readyz                  200 unless a running pipeline cannot serve (listener down,
//                                 journal unwritable, a pipeline that cannot start), else 503
//   GET  /api/pipelines           state, counters, last error, configuration (secrets redacted)
//   POST /api/reload              re-reads the pipelines directory (hot reload)
//   GET  /api/dlq                 dead-letter entries (?pipeline=&sink=&older_than=)
//   GET  /api/dlq/entry?id=N      one entry with its event
//   POST /api/dlq/replay          {"ids":[..]} or filters, or {"all":true}
//   POST /api/dlq/drop            same body

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::runtime {
class EventTap;
class Io;
class Pipeline;
}  // namespace switchyard::runtime
namespace switchyard::metrics {
class Registry;
}
namespace switchyard::journal {
class Journal;
}

namespace switchyard::admin {

/// A pipeline file that is not running (or whose latest version is not), and why.
struct PipelineProblem {
  std::string name;   ///< From the file, even when it is invalid (config::pipeline_name_hint).
  std::string file;
  std::string error;  ///< Every error, one per line (file:line:col: ...).
  /// A pipeline that should serve cannot (it failed to start for a reason other than its
  /// configuration, and no previous version runs): /readyz answers 503. An invalid or newly
  /// broken file does not make the engine unready: what runs still serves.
  bool blocks_readiness = false;
};

/// A running component that reports it cannot do its work now (Context::report_health).
struct ComponentProblem {
  std::string pipeline;
  std::string component;
  std::string problem;
};

/// The journal as /metrics shows it.
struct JournalGauges {
  std::uint64_t bytes = 0;                      ///< live data: what state.max_bytes caps
  std::optional<std::int64_t> oldest_pending;   ///< receipt time (Unix ms) of the oldest undelivered event
};

/// What the admin API reads from the engine.
struct Hooks {
  std::function<std::vector<std::shared_ptr<runtime::Pipeline>>()> pipelines;
  std::function<std::vector<PipelineProblem>()> problems;
  /// Why the journal cannot keep events (readiness), nullopt while it works. Empty: no journal.
  std::function<std::optional<std::string>()> journal;
  /// The journal's size and backlog age, read at scrape time. Empty: no journal.
  std::function<std::optional<JournalGauges>()> journal_gauges;
  /// Why the shared HTTP listener is down (readiness), nullopt while it is fine or unused.
  std::function<std::optional<std::string>()> listener;
  /// Running components that report a problem (readiness). Empty function: none.
  std::function<std::vector<ComponentProblem>()> health;
  /// Reloads the pipelines directory and calls back (any thread) with the summary or the
  /// errors. Empty: no reload endpoint.
  std::function<void(std::function<void(Result<std::string>)>)> reload;
};

struct Settings {
  std::string listen;  ///< Empty: no admin listener.
  std::string token;   ///< Empty: no authentication.
  /// Host names (besides IP addresses and localhost) requests may name; "*": any.
  std::vector<std::string> allowed_hosts;
  std::string state_dir;
  std::string version;
};

class Admin {
 public:
  Admin(runtime::Io& io, Settings settings, metrics::Registry& metrics, Hooks hooks);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  /// Registers the routes and opens the listener; an error names the address.
  Status start();
  /// Closes the listener.
  void stop();
  /// Where pipelines report recent events for the console (Services::tap); nullptr without
  /// an admin listener.
  std::shared_ptr<runtime::EventTap> tap() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchyard::admin
