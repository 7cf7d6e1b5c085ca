#include "pg/connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <thread>

namespace switchyard::postgres {
namespace {

using std::chrono::milliseconds;

std::string human(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// Routes server notices (NOTICE, WARNING) to the component's log instead of stderr.
void notice_to_log(void* arg, const char* message) {
  auto* logger = static_cast<Logger*>(arg);
  std::string text(message);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  logger->debug("server notice: " + text);
}

// The first address of `host` as text ("" when it cannot be resolved).
std::string lookup(const std::string& host, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    error = "could not resolve host \"" + host + "\": " + gai_strerror(rc);
    return {};
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* address = found->ai_family == AF_INET
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr);
  ::inet_ntop(found->ai_family, address, text, sizeof text);
  ::freeaddrinfo(found);
  return text;
}

}  // namespace

// A host name lookup running on a thread of its own (getaddrinfo blocks). The connection
// abandons it when it goes away; the thread then posts nothing.
struct Connection::Resolution {
  std::mutex mutex;
  Executor* executor = nullptr;  // null once abandoned (guarded by mutex)
  Connection* owner = nullptr;   // touched on the strand only
};

struct Connection::Exchange {
  std::vector<Command> commands;
  std::vector<int> steps;  // command indexes, -1 for a Sync, in the order answers come
  std::size_t cursor = 0;
  std::vector<CommandOutcome> outcomes;
  ExchangeDone done;
  milliseconds timeout{0};
};

Connection::Connection(Context& context, std::shared_ptr<const ConnectTarget> target)
    : context_(context), target_(std::move(target)), deadline_(context.executor().make_timer()) {}

Connection::~Connection() {
  if (resolution_) {
    std::lock_guard lock(resolution_->mutex);
    resolution_->executor = nullptr;
    resolution_->owner = nullptr;
  }
  deadline_.reset();
  close();
}

void Connection::close() {
  watch_.reset();  // before the descriptor it watches goes
  if (watched_fd_ >= 0) ::close(watched_fd_);
  watched_fd_ = -1;
  watched_ino_ = 0;
  if (conn_ != nullptr) PQfinish(conn_);  // non-blocking: the Terminate message is best effort
  conn_ = nullptr;
}

std::optional<std::string> Connection::quote_identifier(std::string_view name) const {
  if (conn_ == nullptr) return std::nullopt;
  char* quoted = PQescapeIdentifier(conn_, name.data(), name.size());
  if (quoted == nullptr) return std::nullopt;
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

void Connection::connect(milliseconds timeout, std::function<void(Status)> done) {
  connect_done_ = std::move(done);
  deadline_->expires_after(timeout, [this, timeout] {
    connect_failed(PgError{.message = "no connection within " + human(timeout), .connection_lost = true});
  });
  if (!target_->needs_resolution) return start_connect({});
  state_ = State::resolving;
  resolution_ = std::make_shared<Resolution>();
  resolution_->executor = &context_.executor();
  resolution_->owner = this;
  std::thread([resolution = resolution_, hosts = target_->hosts] {
    std::vector<std::string> addresses;
    std::string error;
    for (const auto& host : hosts) {
      addresses.push_back(needs_no_lookup(host) ? std::string() : lookup(host, error));
      if (!error.empty()) break;
    }
    std::lock_guard lock(resolution->mutex);
    if (resolution->executor == nullptr) return;
    resolution->executor->post([resolution, addresses = std::move(addresses), error = std::move(error)] {
      Connection* owner = resolution->owner;
      if (owner == nullptr || owner->state_ != State::resolving) return;
      owner->resolution_.reset();
      if (!error.empty()) return owner->connect_failed(PgError{.message = error, .connection_lost = true});
      owner->start_connect(addresses);
    });
  }).detach();
}

void Connection::start_connect(const std::vector<std::string>& hostaddr) {
  state_ = State::connecting;
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (std::size_t i = 0; i < target_->keywords.size(); ++i) {
    keywords.push_back(target_->keywords[i].c_str());
    values.push_back(target_->values[i].c_str());
  }
  // Connecting to the address resolved above, while `host` still names the server for
  // TLS verification (verify-full) and the password file.
  std::string addresses;
  for (std::size_t i = 0; i < hostaddr.size(); ++i) addresses += (i ? "," : "") + hostaddr[i];
  if (!hostaddr.empty()) {
    keywords.push_back("hostaddr");
    values.push_back(addresses.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keywords.data(), values.data(), 0);
  if (conn_ == nullptr) return connect_failed(PgError{.message = "out of memory", .connection_lost = true});
  if (PQstatus(conn_) == CONNECTION_BAD) return connect_failed(connection_error(conn_, "cannot connect"));
  PQsetNoticeProcessor(conn_, &notice_to_log, &context_.logger());
  // libpq: start as if PQconnectPoll had asked to wait for writing.
  wait_for(PGRES_POLLING_WRITING);
}

// libpq may close its socket and open another while connecting (next host or address, a
// retry without TLS), and closes it when the session is lost. Watching a descriptor that
// libpq closes would let the event loop's bookkeeping meet a reused descriptor number, so
// the watch is on a dup() of libpq's socket that only this class closes, replaced when
// libpq's socket changes (compared by inode, as numbers are reused).
void Connection::watch_socket() {
  const int fd = conn_ != nullptr ? PQsocket(conn_) : -1;
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    watch_.reset();
    return;
  }
  if (watched_fd_ >= 0 && watched_ino_ == st.st_ino) return;
  watch_.reset();
  if (watched_fd_ >= 0) ::close(watched_fd_);
  watched_fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  watched_ino_ = st.st_ino;
  if (watched_fd_ >= 0) watch_ = context_.executor().watch(watched_fd_);
}

void Connection::wait_for(PostgresPollingStatusType direction) {
  watch_socket();
  if (!watch_) return connect_failed(connection_error(conn_, "cannot connect"));
  if (direction == PGRES_POLLING_READING) {
    watch_->when_readable([this] { poll_connect(); });
  } else {
    watch_->when_writable([this] { poll_connect(); });
  }
}

void Connection::poll_connect() {
  if (state_ != State::connecting) return;
  switch (const auto status = PQconnectPoll(conn_)) {
    case PGRES_POLLING_OK: return connected();
    case PGRES_POLLING_FAILED: return connect_failed(connection_error(conn_, "cannot connect"));
    default: return wait_for(status);
  }
}

void Connection::connected() {
  deadline_->cancel();
  watch_socket();
  if (!watch_ || PQsetnonblocking(conn_, 1) != 0 || PQenterPipelineMode(conn_) != 1) {
    return connect_failed(connection_error(conn_, "cannot enter pipeline mode"));
  }
  state_ = State::ready;
  arm_idle_watch();
  context_.executor().post([done = std::move(connect_done_)] { done({}); });
}

void Connection::connect_failed(PgError error) {
  if (state_ == State::broken || state_ == State::ready) return;
  state_ = State::broken;
  deadline_->cancel();
  close();
  if (!connect_done_) return;
  context_.executor().post([done = std::move(connect_done_), error = std::move(error)] {
    done(retryable(describe(error)));
  });
}

void Connection::arm_idle_watch() {
  if (!watch_) return;
  // An idle session is read too: a server that shuts down (57P01) or a network that
  // drops it shows here, before the next exchange is sent into it.
  watch_->when_readable([this] {
    if (state_ != State::ready || exchange_) return;
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) == CONNECTION_BAD) {
      return fail(connection_error(conn_, "connection lost"));
    }
    arm_idle_watch();
  });
}

void Connection::run(std::vector<Command> commands, milliseconds timeout, ExchangeDone done) {
  if (state_ != State::ready || exchange_) {
    context_.executor().post([done = std::move(done)] { done(retryable("the session is not usable")); });
    return;
  }
  if (commands.empty()) {
    context_.executor().post([done = std::move(done)] { done(std::vector<CommandOutcome>{}); });
    return;
  }
  commands.back().sync_after = true;
  exchange_ = std::make_unique<Exchange>();
  Exchange& x = *exchange_;
  x.commands = std::move(commands);
  x.outcomes.resize(x.commands.size());
  x.done = std::move(done);
  x.timeout = timeout;
  std::vector<const char*> values;
  for (std::size_t i = 0; i < x.commands.size(); ++i) {
    const Command& c = x.commands[i];
    values.clear();
    for (const auto& p : c.params) values.push_back(p ? p->c_str() : nullptr);
    const int n = static_cast<int>(values.size());
    int sent = 0;
    switch (c.kind) {
      case Command::Kind::prepare:
        sent = PQsendPrepare(conn_, c.statement.c_str(), c.sql.c_str(), static_cast<int>(c.types.size()),
                             c.types.empty() ? nullptr : c.types.data());
        break;
      case Command::Kind::execute:
        sent = PQsendQueryParams(conn_, c.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
        break;
      case Command::Kind::execute_prepared:
        sent = PQsendQueryPrepared(conn_, c.statement.c_str(), n, values.data(), nullptr, nullptr, 0);
        break;
      case Command::Kind::describe_prepared:
        sent = PQsendDescribePrepared(conn_, c.statement.c_str());
        break;
    }
    if (sent != 1) return fail(connection_error(conn_, "could not send"));
    // Rows one at a time, so that a large result is never held whole; libpq allows it
    // for the command at the head of the pipeline only.
    if (i == 0 && c.on_rows && c.kind != Command::Kind::describe_prepared) PQsetSingleRowMode(conn_);
    x.steps.push_back(static_cast<int>(i));
    if (c.sync_after) {
      if (PQpipelineSync(conn_) != 1) return fail(connection_error(conn_, "could not send"));
      x.steps.push_back(-1);
    }
  }
  deadline_->expires_after(timeout, [this, timeout] {
    fail(PgError{.message = "no answer within " + human(timeout) + "; the session is closed",
                 .connection_lost = true});
  });
  watch_->cancel();
  watch_->when_readable([this] { on_readable(); });
  flush();
}

void Connection::flush() {
  if (state_ != State::ready) return;
  const int rc = PQflush(conn_);
  if (rc < 0) return fail(connection_error(conn_, "could not send"));
  flushing_ = rc == 1;
  // The rest waits for room in the socket; answers are read meanwhile (on_readable), so
  // neither side can block the other with full buffers.
  if (flushing_) watch_->when_writable([this] { flush(); });
}

void Connection::on_readable() {
  if (state_ != State::ready || !exchange_) return;
  if (PQconsumeInput(conn_) == 0) return fail(connection_error(conn_, "connection lost"));
  if (flushing_) {
    flush();
    if (state_ != State::ready) return;
  }
  if (!read_results()) return;
  watch_->when_readable([this] { on_readable(); });
}

// Takes every answer that has arrived; false once the exchange is over (or failed).
bool Connection::read_results() {
  Exchange& x = *exchange_;
  while (PQisBusy(conn_) == 0) {
    const int step = x.steps[x.cursor];
    std::unique_ptr<PGresult, decltype(&PQclear)> result(PQgetResult(conn_), &PQclear);
    if (step < 0) {
      if (!result || PQresultStatus(result.get()) != PGRES_PIPELINE_SYNC) {
        return fail(PgError{.message = "unexpected answer where a pipeline sync was due", .connection_lost = true}), false;
      }
    } else if (result) {
      CommandOutcome& outcome = x.outcomes[static_cast<std::size_t>(step)];
      switch (PQresultStatus(result.get())) {
        case PGRES_SINGLE_TUPLE:
        case PGRES_TUPLES_OK:
          if (x.commands[static_cast<std::size_t>(step)].on_rows && PQntuples(result.get()) > 0) {
            x.commands[static_cast<std::size_t>(step)].on_rows(*result);
          }
          break;
        case PGRES_COMMAND_OK:
          if (x.commands[static_cast<std::size_t>(step)].kind == Command::Kind::describe_prepared &&
              x.commands[static_cast<std::size_t>(step)].on_rows) {
            x.commands[static_cast<std::size_t>(step)].on_rows(*result);
          }
          break;
        case PGRES_PIPELINE_ABORTED:
          outcome.aborted = true;
          outcome.error = PgError{.message = "not run: an earlier statement of its transaction failed"};
          break;
        default: {
          PgError error = error_of(result.get());
          if (PQstatus(conn_) == CONNECTION_BAD) return fail(std::move(error)), false;
          error.connection_lost = false;  // a failed statement; the session goes on
          outcome.error = std::move(error);
        }
      }
      continue;  // the command's results end with a null result
    }
    if (++x.cursor == x.steps.size()) {
      finish_exchange(std::move(x.outcomes));
      return false;
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return fail(connection_error(conn_, "connection lost")), false;
  return true;
}

void Connection::finish_exchange(ExchangeResult result) {
  deadline_->cancel();
  auto done = std::move(exchange_->done);
  exchange_.reset();
  if (state_ == State::ready) {
    watch_->cancel();
    arm_idle_watch();
  }
  context_.executor().post([done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void Connection::fail(PgError error) {
  if (state_ == State::connecting || state_ == State::resolving) return connect_failed(std::move(error));
  if (state_ == State::broken) return;
  state_ = State::broken;
  deadline_->cancel();
  close();
  if (exchange_) return finish_exchange(retryable(describe(error)));
  if (on_broken_) context_.executor().post(std::move(on_broken_));
}

}  // namespace switchyard::postgres
