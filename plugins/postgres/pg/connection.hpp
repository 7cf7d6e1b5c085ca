#pragma once
// One PostgreSQL session driven by the engine's event loop: libpq in non-blocking mode,
// connected with PQconnectStartParams/PQconnectPoll and used in pipeline mode, its socket
// watched through the SDK's FdWatch and its deadlines on SDK timers. No call here blocks.
//
// Work is sent as exchanges: commands (prepare, execute) sent together, each optionally
// followed by a Sync that ends an implicit transaction, answered together. Statements
// between two Syncs commit or fail as one: a batch of INSERTs followed by one Sync is one
// transaction, and each INSERT followed by its own Sync commits alone.

#include <libpq-fe.h>

#include <chrono>
#include <any>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pg/dsn.hpp"
#include "pg/error.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::postgres {

/// A parameter in text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;

/// One command of an exchange.
struct Command {
  enum class Kind { prepare, execute, execute_prepared, describe_prepared };
  Kind kind = Kind::execute;
  std::string statement;       ///< The prepared statement's name (prepare, execute_prepared).
  std::string sql;             ///< prepare, execute.
  std::vector<Oid> types;      ///< prepare: parameter types (0: the server infers).
  std::vector<Param> params;   ///< execute, execute_prepared.
  /// Called with each result that carries rows, as they arrive (in single-row mode when
  /// the command is the first of its exchange, so a large result is never held whole);
  /// for describe_prepared, with the description (PQnparams, PQnfields).
  std::function<void(const PGresult&)> on_rows;
  bool sync_after = false;     ///< End the implicit transaction after this command.
};

/// What became of one command.
struct CommandOutcome {
  std::optional<PgError> error;  ///< nullopt: it succeeded.
  bool aborted = false;          ///< Not run: an earlier command of its transaction failed.
};

using ExchangeResult = Result<std::vector<CommandOutcome>>;
/// Gets the outcome of every command, or a retryable error when the session was lost or
/// the exchange timed out (the session is then closed: its state is unknown).
using ExchangeDone = std::function<void(ExchangeResult)>;

class Connection {
 public:
  Connection(Context& context, std::shared_ptr<const ConnectTarget> target);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Opens the session (resolving the host off the event loop when needed); `done` runs
  /// once, on the strand, after `timeout` at the latest.
  void connect(std::chrono::milliseconds timeout, std::function<void(Status)> done);
  /// Sends `commands` (a Sync is added after the last one if it has none) and calls `done`
  /// on the strand with their outcomes. One exchange at a time. `timeout`: how long the
  /// answer may take before the session is given up.
  void run(std::vector<Command> commands, std::chrono::milliseconds timeout, ExchangeDone done);
  /// Called once on the strand when an idle session breaks (server shut down, network).
  void on_broken(std::function<void()> broken) { on_broken_ = std::move(broken); }

  bool ready() const { return state_ == State::ready; }
  bool broken() const { return state_ == State::broken; }
  bool busy() const { return exchange_ != nullptr; }
  /// Server version as PQserverVersion gives it (150004), 0 before connecting.
  int server_version() const { return conn_ ? PQserverVersion(conn_) : 0; }
  /// Escapes an identifier for SQL ("my table" → "\"my table\""); needs a connection.
  std::optional<std::string> quote_identifier(std::string_view name) const;

  /// What the owner set the session up with (a table's schema, prepared statements).
  std::any& session_data() { return session_data_; }
  /// Closes the session so that it is not used again (its setup is out of date).
  void retire() {
    on_broken_ = nullptr;
    fail(PgError{.message = "retired", .connection_lost = true});
  }

 private:
  enum class State { idle, resolving, connecting, ready, broken };
  struct Exchange;
  struct Resolution;

  void start_connect(const std::vector<std::string>& hostaddr);
  void poll_connect();
  void connected();
  void connect_failed(PgError error);
  void watch_socket();
  void wait_for(PostgresPollingStatusType direction);
  void flush();
  void on_readable();
  bool read_results();
  void fail(PgError error);
  void finish_exchange(ExchangeResult result);
  void arm_idle_watch();
  void close();

  Context& context_;
  std::shared_ptr<const ConnectTarget> target_;
  PGconn* conn_ = nullptr;
  State state_ = State::idle;
  int watched_fd_ = -1;        // our dup() of PQsocket: libpq may close its own at any time
  unsigned long watched_ino_ = 0;
  std::unique_ptr<FdWatch> watch_;
  std::unique_ptr<Timer> deadline_;
  std::function<void(Status)> connect_done_;
  std::shared_ptr<Resolution> resolution_;
  std::unique_ptr<Exchange> exchange_;
  std::function<void()> on_broken_;
  std::any session_data_;
  bool flushing_ = false;
};

}  // namespace switchyard::postgres
