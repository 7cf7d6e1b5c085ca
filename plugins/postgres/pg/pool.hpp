#pragma once
// A small pool of sessions to one database, for one component. Sessions are opened one at
// a time, on demand, up to `size`, and set up by the component (SET, PREPARE, reading a
// table's schema) before they are handed out. When the database cannot be reached, the
// pool backs off (100 ms doubling to 10 s) and, while it waits, answers at once with the
// last error and how long is left, so that the engine's retries wait too instead of
// queueing behind a dead server.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace switchyard::postgres {

class Pool {
 public:
  struct Settings {
    std::shared_ptr<const ConnectTarget> target;
    std::size_t size = 2;
    std::chrono::milliseconds connect_timeout{10000};
  };
  /// Prepares a new session; calls `done` once. An error closes the session.
  using Setup = std::function<void(Connection&, std::function<void(Status)> done)>;
  /// Gets a session that is the caller's until release(), or why there is none.
  using Ready = std::function<void(Result<Connection*>)>;

  Pool(Context& context, Settings settings, Setup setup);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Opens the first session in the background, so that a wrong DSN, table or query is
  /// reported at start and the first event does not wait for a handshake.
  void start();
  /// Hands out an idle session, opening one if the pool has room. `ready` runs on the
  /// strand, later (never inside this call).
  void acquire(Ready ready);
  /// Gives a session back; a broken or retired one is closed and forgotten.
  void release(Connection* connection);
  /// Closes every session and fails the callers still waiting.
  void stop();

  std::size_t open_sessions() const { return sessions_.size(); }

 private:
  struct Session {
    std::uint64_t id = 0;
    std::unique_ptr<Connection> connection;
    bool leased = false;
    bool opening = false;  // connecting or being set up
  };

  void open();
  void opened(std::uint64_t id, Status status);
  void hand_out();
  void fail_waiters(const Error& error);
  void forget(std::uint64_t id);
  Session* find(std::uint64_t id);
  Session* find(const Connection* connection);
  std::chrono::milliseconds backoff_left() const;

  Context& context_;
  Settings settings_;
  Setup setup_;
  std::vector<Session> sessions_;
  std::deque<Ready> waiters_;
  std::uint64_t next_id_ = 0;
  bool stopped_ = false;
  int failures_ = 0;  // consecutive failed opens
  std::chrono::steady_clock::time_point retry_at_{};
  std::optional<Error> last_error_;
  std::unique_ptr<Timer> retry_timer_;
  Gauge* sessions_metric_ = nullptr;
  Counter* failures_metric_ = nullptr;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchyard::postgres
