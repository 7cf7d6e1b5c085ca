#include "query/query.hpp"

#include "pg/types.hpp"

namespace switchyard::postgres {
namespace {

using std::chrono::milliseconds;

constexpr const char* kStatement = "switchyard_query";
// The server cancels a statement at statement_timeout; this much later the session itself
// is given up (a server that does not answer at all).
constexpr milliseconds kGrace{2000};

std::string human(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

struct PostgresQuery::Request {
  Event* event = nullptr;
  TransformCallback done;
  std::vector<Param> params;
  std::unique_ptr<Timer> deadline;
  std::chrono::steady_clock::time_point started;
  rapidjson::Value rows{rapidjson::kArrayType};  // allocated from the event's allocator
  std::size_t seen = 0;
  bool finished = false;
};

Status PostgresQuery::start() {
  const ConnectTarget& target = *settings_.target;
  if (!verifies_certificate(target) && !is_local(target)) {
    context_->logger().warn(target.description + ": sslmode is " +
                            (target.sslmode.empty() ? "prefer (the default)" : target.sslmode) +
                            ", so the server's certificate is not checked; use sslmode=verify-full");
  }
  Pool::Settings pool{settings_.target, settings_.pool_size, settings_.connect_timeout};
  pool_ = std::make_unique<Pool>(*context_, pool, [this](Connection& connection, std::function<void(Status)> done) {
    setup(connection, std::move(done));
  });
  pool_->start();
  return {};
}

void PostgresQuery::stop() {
  alive_.reset();
  pool_.reset();  // no answer comes for the queries on its sessions
  auto waiting = std::move(in_flight_);
  in_flight_.clear();
  for (const auto& request : waiting) finish(request, retryable("the transform stopped before the rows came"));
}

void PostgresQuery::setup(Connection& connection, std::function<void(Status)> done) {
  std::vector<Command> commands;
  // set_config() takes parameters where SET does not.
  commands.push_back(Command{
      .kind = Command::Kind::execute,
      .sql = "SELECT set_config('statement_timeout', $1, false), set_config('TimeZone', 'UTC', false), "
             "set_config('DateStyle', 'ISO, MDY', false), set_config('default_transaction_read_only', $2, false)",
      .params = {std::to_string(settings_.timeout.count()), std::string(settings_.read_only ? "on" : "off")}});
  commands.push_back(Command{.kind = Command::Kind::prepare, .statement = kStatement, .sql = settings_.query});
  auto expected = std::make_shared<int>(-1);
  Command describe{.kind = Command::Kind::describe_prepared, .statement = kStatement};
  describe.on_rows = [expected](const PGresult& r) { *expected = PQnparams(&r); };
  commands.push_back(std::move(describe));
  connection.run(std::move(commands), settings_.timeout + kGrace,
                 [this, alive = std::weak_ptr<char>(alive_), expected, done = std::move(done)](ExchangeResult result) {
    if (alive.expired()) return;
    if (!result) return done(result.error());
    const auto& outcomes = *result;
    if (outcomes[0].error) return done(to_error(*outcomes[0].error, "setting up the session"));
    if (outcomes[1].error) return done(to_error(*outcomes[1].error, "preparing the query"));
    if (outcomes[2].error) return done(to_error(*outcomes[2].error, "describing the query"));
    if (*expected != static_cast<int>(settings_.params.size())) {
      return done(permanent("the query takes " + std::to_string(*expected) + " parameter(s) but params lists " +
                            std::to_string(settings_.params.size())));
    }
    done({});
  });
}

void PostgresQuery::process(Event& event, TransformCallback done) {
  auto request = std::make_shared<Request>();
  in_flight_.insert(request);
  request->event = &event;
  request->done = std::move(done);
  request->started = std::chrono::steady_clock::now();
  for (const auto& param : settings_.params) {
    request->params.emplace_back(param.render(event));
    // libpq takes values as C strings: the rest would be cut off without a word.
    if (request->params.back()->find('\0') != std::string::npos) {
      return fail(request, permanent("params[" + std::to_string(request->params.size() - 1) +
                                     "]: the value holds a NUL character, which PostgreSQL cannot take"));
    }
  }
  if (!pool_) return fail(request, retryable("the transform is not running"));
  request->deadline = context_->executor().make_timer();
  request->deadline->expires_after(settings_.timeout, [this, request] {
    timeouts_->inc();
    fail(request, retryable("no rows within " + human(settings_.timeout) + " (timeout)"));
  });
  pool_->acquire([this, alive = std::weak_ptr<char>(alive_), request](Result<Connection*> session) {
    if (alive.expired()) return;
    if (!session) return fail(request, session.error());
    if (request->finished) return pool_->release(*session);  // timed out while waiting
    run(request, **session);
  });
}

void PostgresQuery::run(const std::shared_ptr<Request>& request, Connection& connection) {
  Command execute{.kind = Command::Kind::execute_prepared, .statement = kStatement, .params = request->params};
  // Rows arrive one at a time (single-row mode) and are converted into the event's own
  // memory, up to max_rows; the rest are read and discarded.
  execute.on_rows = [this, request](const PGresult& r) {
    if (request->finished) return;
    Event::Allocator& alloc = request->event->allocator();
    const int fields = PQnfields(&r);
    for (int i = 0; i < PQntuples(&r); ++i) {
      if (++request->seen > settings_.max_rows) continue;
      rapidjson::Value row(rapidjson::kObjectType);
      for (int f = 0; f < fields; ++f) {
        rapidjson::Value value;
        if (!PQgetisnull(&r, i, f)) {
          decode(std::string_view(PQgetvalue(&r, i, f), static_cast<std::size_t>(PQgetlength(&r, i, f))),
                 PQftype(&r, f), value, alloc);
        }
        row.AddMember(rapidjson::Value(PQfname(&r, f), alloc), value, alloc);
      }
      request->rows.PushBack(row, alloc);
    }
  };
  std::vector<Command> commands;
  commands.push_back(std::move(execute));
  connection.run(std::move(commands), settings_.timeout + kGrace,
                 [this, alive = std::weak_ptr<char>(alive_), request, &connection](ExchangeResult result) {
    if (alive.expired()) return;
    answered(request, connection, std::move(result));
  });
}

void PostgresQuery::answered(const std::shared_ptr<Request>& request, Connection& connection, ExchangeResult result) {
  pool_->release(&connection);
  if (request->finished) return;
  if (!result) return fail(request, result.error());
  if (const auto& e = (*result)[0].error) {
    if (e->sqlstate == "57014") {
      timeouts_->inc();
      return fail(request, retryable("no rows within " + human(settings_.timeout) + " (statement_timeout)"));
    }
    if (e->sqlstate == "25006" && settings_.read_only) {
      return fail(request, permanent("the query writes, but read_only is true: " + describe(*e)));
    }
    return fail(request, to_error(*e, "query failed"));
  }
  if (request->seen > settings_.max_rows) {
    context_->logger().debug("event " + request->event->id + ": " + std::to_string(request->seen) +
                             " rows, the first " + std::to_string(settings_.max_rows) + " attached (max_rows)");
  }
  if (request->rows.Empty() && settings_.drop_when_empty) return finish(request, Verdict::drop);
  if (Status s = attach(*request->event, request->rows); !s) return fail(request, s.error());
  finish(request, Verdict::keep);
}

Status PostgresQuery::attach(Event& event, rapidjson::Value& rows) const {
  Event::Allocator& alloc = event.allocator();
  rapidjson::Value* node = settings_.into_meta ? &event.meta : &event.data;
  if (!node->IsObject()) {
    if (!settings_.into_meta && node->IsNull()) {
      node->SetObject();
    } else {
      return permanent("into: the payload is not an object");
    }
  }
  for (std::size_t i = 0; i + 1 < settings_.into.size(); ++i) {
    const std::string& key = settings_.into[i];
    auto it = node->FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == node->MemberEnd()) {
      node->AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc),
                      rapidjson::Value(rapidjson::kObjectType), alloc);
      node = &(node->MemberEnd() - 1)->value;
    } else {
      if (!it->value.IsObject()) it->value.SetObject();
      node = &it->value;
    }
  }
  const std::string& last = settings_.into.back();
  auto it = node->FindMember(rapidjson::StringRef(last.data(), last.size()));
  if (it != node->MemberEnd()) {
    it->value = rows;  // moves
  } else {
    node->AddMember(rapidjson::Value(last.data(), static_cast<rapidjson::SizeType>(last.size()), alloc), rows, alloc);
  }
  return {};
}

void PostgresQuery::fail(const std::shared_ptr<Request>& request, Error error) {
  if (request->finished) return;
  if (!settings_.keep_on_error) return finish(request, std::move(error));
  // on_error: keep. The event goes on with null where the rows would be.
  rapidjson::Value nothing;
  if (attach(*request->event, nothing)) {
    context_->logger().warn("event " + request->event->id + ": " + error.message + "; kept without rows (on_error: keep)");
    return finish(request, Verdict::keep);
  }
  finish(request, std::move(error));
}

void PostgresQuery::finish(const std::shared_ptr<Request>& request, Result<Verdict> verdict) {
  if (request->finished) return;
  request->finished = true;
  in_flight_.erase(request);
  if (request->deadline) request->deadline->cancel();
  latency_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - request->started).count());
  auto done = std::move(request->done);
  request->deadline.reset();  // its callback holds the request: break the cycle
  done(std::move(verdict));
}

}  // namespace switchyard::postgres
