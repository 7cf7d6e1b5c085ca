#include "pg/pool.hpp"

#include <algorithm>

namespace switchyard::postgres {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{10000};

}  // namespace

Pool::Pool(Context& context, Settings settings, Setup setup)
    : context_(context), settings_(std::move(settings)), setup_(std::move(setup)) {
  sessions_metric_ = &context_.metrics().gauge("switchyard_postgres_sessions", "Open PostgreSQL sessions.");
  failures_metric_ = &context_.metrics().counter("switchyard_postgres_connect_failures_total",
                                                 "Sessions that could not be opened or set up.");
}

Pool::~Pool() { stop(); }

void Pool::start() {
  if (sessions_.empty()) open();
}

void Pool::stop() {
  if (stopped_) return;
  stopped_ = true;
  alive_.reset();
  fail_waiters(retryable("the component is stopping"));
  sessions_.clear();
  sessions_metric_->set(0);
}

void Pool::acquire(Ready ready) {
  if (stopped_) {
    context_.executor().post([ready = std::move(ready)] { ready(retryable("the component is stopping")); });
    return;
  }
  waiters_.push_back(std::move(ready));
  hand_out();
}

void Pool::release(Connection* connection) {
  Session* session = find(connection);
  if (session == nullptr) return;
  if (connection->broken()) {
    forget(session->id);
  } else {
    session->leased = false;
  }
  hand_out();
}

milliseconds Pool::backoff_left() const {
  const auto now = Clock::now();
  return retry_at_ > now ? std::chrono::ceil<milliseconds>(retry_at_ - now) : milliseconds(0);
}

void Pool::hand_out() {
  if (stopped_) return;
  for (auto& session : sessions_) {
    if (waiters_.empty()) return;
    if (session.leased || session.opening || !session.connection->ready() || session.connection->busy()) continue;
    session.leased = true;
    context_.executor().post([ready = std::move(waiters_.front()), connection = session.connection.get(),
                              alive = std::weak_ptr<char>(alive_)] {
      if (alive.expired()) return ready(retryable("the component is stopping"));
      ready(connection);
    });
    waiters_.pop_front();
  }
  if (waiters_.empty() || sessions_.size() >= settings_.size) return;
  if (std::any_of(sessions_.begin(), sessions_.end(), [](const Session& s) { return s.opening; })) return;
  const milliseconds wait = backoff_left();
  if (wait.count() == 0) return open();
  // Backing off. Sessions in use will come back to the waiters; with none, they are told
  // now, with how long is left.
  if (sessions_.empty() && last_error_) {
    Error error = *last_error_;
    if (error.kind == ErrorKind::retryable) error.retry_after = wait;
    fail_waiters(error);
  }
}

void Pool::open() {
  Session session;
  session.id = ++next_id_;
  session.opening = true;
  session.connection = std::make_unique<Connection>(context_, settings_.target);
  Connection& connection = *session.connection;
  const std::uint64_t id = session.id;
  const auto alive = std::weak_ptr<char>(alive_);
  // An idle session that breaks is forgotten; one in use is the holder's to release.
  connection.on_broken([this, id, alive] {
    if (alive.expired()) return;
    Session* s = find(id);
    if (s == nullptr || s->leased || s->opening) return;
    context_.logger().warn("session to " + settings_.target->description + " lost while idle; reconnecting when needed");
    forget(id);
    hand_out();
  });
  sessions_.push_back(std::move(session));
  sessions_metric_->set(static_cast<double>(sessions_.size()));
  connection.connect(settings_.connect_timeout, [this, id, alive](Status status) {
    if (alive.expired()) return;
    Session* s = find(id);
    if (s == nullptr) return;
    if (!status) return opened(id, std::move(status));
    setup_(*s->connection, [this, id, alive](Status set_up) {
      if (alive.expired()) return;
      opened(id, std::move(set_up));
    });
  });
}

void Pool::opened(std::uint64_t id, Status status) {
  Session* session = find(id);
  if (session == nullptr) return;
  if (!status) {
    ++failures_;
    failures_metric_->inc();
    const int shift = std::min(failures_ - 1, 10);
    retry_at_ = Clock::now() + std::min(kMaxBackoff, kFirstBackoff * (1 << shift));
    Error error = status.error();
    error.message = settings_.target->description + ": " + error.message;
    const bool retryable_error = error.kind == ErrorKind::retryable;
    if (failures_ == 1) {
      context_.logger().log(retryable_error ? LogLevel::warn : LogLevel::error,
                            error.message + (retryable_error ? "; retrying with back-off while this lasts" : ""));
    } else {
      context_.logger().debug(error.message + " (attempt " + std::to_string(failures_) + ")");
    }
    last_error_ = std::move(error);
    forget(id);
    if (sessions_.empty() && !waiters_.empty()) {
      Error told = *last_error_;
      if (told.kind == ErrorKind::retryable) told.retry_after = backoff_left();
      fail_waiters(told);
    }
    return;
  }
  session->opening = false;
  if (failures_ > 0) {
    context_.logger().info("connected to " + settings_.target->description + " again after " +
                           std::to_string(failures_) + " failed attempt(s)");
  }
  failures_ = 0;
  last_error_.reset();
  retry_at_ = {};
  hand_out();
}

void Pool::fail_waiters(const Error& error) {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& ready : waiters) {
    context_.executor().post([ready = std::move(ready), error] { ready(error); });
  }
}

void Pool::forget(std::uint64_t id) {
  std::erase_if(sessions_, [id](const Session& s) { return s.id == id; });
  sessions_metric_->set(static_cast<double>(sessions_.size()));
}

Pool::Session* Pool::find(std::uint64_t id) {
  for (auto& s : sessions_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

Pool::Session* Pool::find(const Connection* connection) {
  for (auto& s : sessions_) {
    if (s.connection.get() == connection) return &s;
  }
  return nullptr;
}

}  // namespace switchyard::postgres
