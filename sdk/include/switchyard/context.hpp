#pragma once
// Services the engine hands a component. Interfaces only: the engine implements them on
// Boost.Asio and spdlog, the test harness (switchyard/testing.hpp) with captures, and no
// plugin needs Asio or spdlog headers to use them.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/event.hpp"
#include "switchyard/http.hpp"
#include "switchyard/metrics.hpp"
#include "switchyard/replies.hpp"
#include "switchyard/result.hpp"

namespace switchyard {

/// Log severity. Error: an operator must act; warn: degraded; info: lifecycle; debug: per event.
enum class LogLevel { trace, debug, info, warn, error };

/// A logger with the pipeline and component already attached to every line.
class Logger {
 public:
  virtual ~Logger() = default;
  /// Whether a line at `level` would be written (skip building expensive messages).
  virtual bool enabled(LogLevel level) const = 0;
  /// Writes one line. Never pass secrets; payloads only at debug.
  virtual void log(LogLevel level, std::string_view message) = 0;

  void debug(std::string_view m) { if (enabled(LogLevel::debug)) log(LogLevel::debug, m); }
  void info(std::string_view m) { log(LogLevel::info, m); }
  void warn(std::string_view m) { log(LogLevel::warn, m); }
  void error(std::string_view m) { log(LogLevel::error, m); }
};

/// A one-shot timer on the engine's executor. Its callback runs on the component's strand.
class Timer {
 public:
  virtual ~Timer() = default;
  /// Arms the timer; re-arming cancels the previous wait. `fired` is not called if cancelled.
  virtual void expires_after(std::chrono::milliseconds delay, std::function<void()> fired) = 0;
  /// Cancels a pending wait. Safe to call at any time; destruction cancels too.
  virtual void cancel() = 0;
};

/// Readiness of a socket the component owns (a libpq connection, a libcurl transfer), watched
/// by the engine's event loop so that a client library never blocks an engine thread. The
/// callbacks run on the component's strand.
class FdWatch {
 public:
  /// Cancels pending waits. Never closes the descriptor: its owner does, after this is gone.
  virtual ~FdWatch() = default;
  /// Calls `ready` once the descriptor can be read from (or has an error or hang-up).
  /// A new call replaces a pending read wait.
  virtual void when_readable(std::function<void()> ready) = 0;
  /// Calls `ready` once the descriptor can be written to (or has an error).
  virtual void when_writable(std::function<void()> ready) = 0;
  /// Cancels pending waits: their callbacks do not run.
  virtual void cancel() = 0;
};

/// Runs work on the component's strand: callbacks of one component never run concurrently.
class Executor {
 public:
  virtual ~Executor() = default;
  /// Queues `task` to run soon on the component's strand.
  virtual void post(std::function<void()> task) = 0;
  /// A new timer bound to the component's strand.
  virtual std::unique_ptr<Timer> make_timer() = 0;
  /// Watches `fd` (a connected socket the component owns) for readiness. Destroy the watch
  /// before closing the descriptor.
  virtual std::unique_ptr<FdWatch> watch(int fd) = 0;
};

/// A key-value store with per-key expiry, private to one component.
class StateStore {
 public:
  virtual ~StateStore() = default;
  /// The value of `key`, or nullopt when absent or expired.
  virtual std::optional<std::string> get(std::string_view key) = 0;
  /// Stores `value` under `key` for `ttl` (zero: no expiry).
  virtual Status put(std::string_view key, std::string_view value,
                     std::chrono::milliseconds ttl) = 0;
  /// Stores `value` only if `key` is absent or expired; returns whether it stored.
  virtual Result<bool> put_if_absent(std::string_view key, std::string_view value,
                                     std::chrono::milliseconds ttl) = 0;
  /// Removes `key`.
  virtual Status erase(std::string_view key) = 0;

  /// Whether `key` is remembered (remember(), Event::remember_when_accepted()) and has not
  /// expired. Remembered keys are a set beside the entries above: get() does not see them.
  virtual bool remembers(std::string_view key) = 0;
  /// Remembers `key` for `ttl` (zero: for good). For many short-lived keys, such as the
  /// delivery ids a source has seen: the engine keeps a fixed-size fingerprint of each (tens
  /// of bytes, no allocation), not the key itself, and never gives the key back.
  virtual Status remember(std::string_view key, std::chrono::milliseconds ttl) = 0;
};

/// Called once an emitted event is safely accepted (durable where the pipeline is durable)
/// or refused. A source acknowledges upstream (e.g. a 2xx to GitHub) only on success.
using EmitCallback = std::function<void(Status)>;

/// How a source hands events to its pipeline.
class Emitter {
 public:
  virtual ~Emitter() = default;
  /// Hands an event to the pipeline. `done` (may be empty) runs exactly once: success when
  /// the event is accepted, a retryable error when the pipeline is saturated or stopping.
  virtual void emit(std::unique_ptr<Event> event, EmitCallback done) = 0;
  /// Hands an event to the pipeline and runs `done` only once it is through: every sink it
  /// is routed to has delivered it or dead-lettered it (or a transform dropped it, or no
  /// sink's `if:` took it). A retryable error when the pipeline refuses it. The event skips
  /// the journal: this is for sources whose upstream keeps the event until `done` (a
  /// JetStream consumer acknowledges only then, and redelivers what it never hears of).
  /// The default, for emitters without sinks behind them, is emit().
  virtual void emit_until_done(std::unique_ptr<Event> event, EmitCallback done) {
    emit(std::move(event), std::move(done));
  }
  /// Whether the pipeline's bounded queue is full: a pull-style source should wait.
  virtual bool saturated() const = 0;
  /// Runs `ready` once on the source's strand when the pipeline has room again.
  virtual void when_ready(std::function<void()> ready) = 0;
  /// Why the pipeline takes no events now ("pipeline saturated", "journal is full ..."),
  /// with how long to wait; nullopt when it takes them. For answers such as HTTP 503 with
  /// Retry-After that tell the sender what is wrong.
  virtual std::optional<Error> refusal() const {
    if (!saturated()) return std::nullopt;
    return retryable("pipeline is saturated", std::chrono::seconds(1));
  }
  /// Whether anything the events go to reads their payload: a transform, an `if:` or
  /// `order_key`, a sink whose Sink::reads_payload() is true. Known once the source is
  /// configured (a pipeline configures its source last) and fixed for its life. When false a
  /// source that received the payload as JSON text may keep only the text and defer parsing
  /// it (Event::payload_deferred): nothing would ever read the tree. When true it had best
  /// build the tree itself, with its own fast parser, rather than leave it to the engine.
  virtual bool payload_read() const { return true; }
};

/// A delivery the engine gave up on, as its dead-letter queue keeps it.
struct DeadLetterEntry {
  std::int64_t id = 0;     ///< Grows with every entry recorded: a reader's cursor.
  std::string pipeline;    ///< The pipeline it failed in.
  std::string component;   ///< The sink (or transform) that gave up on it.
  std::string error;       ///< The last error.
  std::uint32_t attempts = 0;
  std::chrono::system_clock::time_point failed_at;
  /// The event as stored (without its in-memory secrets); null when it cannot be read back.
  std::unique_ptr<Event> event;
};
using DeadLetterEntries = std::vector<DeadLetterEntry>;

/// The engine's dead-letter queue (every pipeline's), read in the order entries were
/// recorded: for a source that turns failures into events (the `dlq` source alerts on them).
/// Entries replayed or dropped before they are read are not seen. Callbacks run on the
/// component's strand, never after its stop().
class DeadLetterFeed {
 public:
  virtual ~DeadLetterFeed() = default;
  /// Reads up to `limit` entries whose id is greater than `after`, oldest first.
  virtual void read(std::int64_t after, std::size_t limit,
                    std::function<void(Result<DeadLetterEntries>)> done) = 0;
  /// The id of the newest entry (0 when there is none): where a reader that wants only new
  /// failures starts.
  virtual void newest(std::function<void(Result<std::int64_t>)> done) = 0;
  /// Calls `recorded` once when an entry is recorded after this call. A new call replaces a
  /// pending one.
  virtual void when_recorded(std::function<void()> recorded) = 0;
};

/// What a component gets from the engine.
class Context {
 public:
  virtual ~Context() = default;
  /// The pipeline this component belongs to.
  virtual std::string_view pipeline() const = 0;
  /// The component's name within the pipeline (a sink's `name`, else its type).
  virtual std::string_view component() const = 0;
  virtual Logger& logger() = 0;
  virtual Executor& executor() = 0;
  virtual StateStore& state() = 0;
  /// The pipeline's emit interface; meaningful for sources only.
  virtual Emitter& emitter() = 0;
  /// Routes on the engine's shared HTTP listener (`http.listen`), for sources.
  virtual HttpRoutes& routes() = 0;
  /// A new outbound HTTP(S) client whose callbacks run on this component's strand.
  virtual std::unique_ptr<HttpClient> http_client(const HttpClientOptions& options) = 0;
  /// Metrics with this component's `pipeline` and `component` labels (GET /metrics).
  virtual Metrics& metrics() = 0;
  /// Requests of this pipeline waiting for their answer: sources park them, `reply` sinks
  /// answer them (switchyard/replies.hpp).
  virtual Replies& replies() = 0;
  /// The engine's dead-letter queue as a feed, for sources. Where there is none (`validate`,
  /// a context of the test harness that was given none), reads fail with an error.
  virtual DeadLetterFeed& dead_letters();
  /// Says the component cannot do its work now and why ("NATS: no server of the cluster
  /// reachable; reconnecting"), or, with nullopt, that it can again. While a running
  /// component reports a problem the engine is not ready (/readyz answers 503 naming it)
  /// and /api/pipelines shows it. A component that stops is taken as healthy. Any thread.
  virtual void report_health(std::optional<std::string> problem) { (void)problem; }
};

namespace detail {
/// The feed of a context without a dead-letter queue: every read fails.
class NoDeadLetters final : public DeadLetterFeed {
 public:
  void read(std::int64_t, std::size_t, std::function<void(Result<DeadLetterEntries>)> done) override {
    done(invalid_config("no dead-letter queue here"));
  }
  void newest(std::function<void(Result<std::int64_t>)> done) override {
    done(invalid_config("no dead-letter queue here"));
  }
  void when_recorded(std::function<void()>) override {}
};
}  // namespace detail

inline DeadLetterFeed& Context::dead_letters() {
  static detail::NoDeadLetters none;
  return none;
}

}  // namespace switchyard
