#include "sink/sink.hpp"

#include <any>

namespace switchyard::postgres {
namespace {

constexpr double kBatchBuckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

// PostgreSQL names the column of a constraint violation but not of a value it cannot read
// ('invalid input syntax for type inet: "abc"'): find the parameter it quotes.
void name_column(PgError& e, const std::vector<Param>& params, const Table& table) {
  if (!e.column.empty() || !e.sqlstate.starts_with("22")) return;
  const auto open = e.message.rfind(": \"");
  if (open == std::string::npos || !e.message.ends_with('"')) return;
  const std::string quoted = e.message.substr(open + 3, e.message.size() - open - 4);
  std::string found;
  for (std::size_t i = 0; i < params.size() && i < table.columns.size(); ++i) {
    if (!params[i] || *params[i] != quoted) continue;
    if (!found.empty()) return;  // ambiguous
    found = table.columns[i].name;
  }
  e.column = found;
}

}  // namespace

Status PostgresSink::configure(const Options& options, Context& context) {
  context_ = &context;
  auto settings = read_sink_settings(options);
  if (!settings) return settings.error();
  settings_ = std::move(*settings);
  batch_rows_ = &context.metrics().histogram("switchyard_postgres_batch_rows", "Rows per committed batch.",
                                             kBatchBuckets);
  row_retries_ = &context.metrics().counter("switchyard_postgres_row_retries_total",
                                            "Batches that failed on a row and were written again row by row.");
  return {};
}

Status PostgresSink::start() {
  const ConnectTarget& target = *settings_.target;
  if (!verifies_certificate(target) && !is_local(target)) {
    context_->logger().warn(target.description + ": sslmode is " + (target.sslmode.empty() ? "prefer (the default)" : target.sslmode) +
                            ", so the server's certificate is not checked; use sslmode=verify-full");
  }
  timer_ = context_->executor().make_timer();
  Pool::Settings pool{settings_.target, settings_.pool_size, settings_.connect_timeout};
  pool_ = std::make_unique<Pool>(*context_, pool, [this](Connection& connection, std::function<void(Status)> done) {
    setup(connection, std::move(done));
  });
  accepting_ = true;
  pool_->start();
  return {};
}

void PostgresSink::stop() {
  accepting_ = false;
  if (timer_) timer_->cancel();
  alive_.reset();
  pool_.reset();  // closes the sessions: no answer comes for the batches on them
  std::vector<Row> left;
  for (auto& row : pending_) left.push_back(std::move(row));
  for (auto& batch : writing_) {
    for (auto& row : batch.rows) left.push_back(std::move(row));
  }
  pending_.clear();
  writing_.clear();
  requested_ = 0;
  for (auto& row : left) row.done(retryable("the sink stopped before the row was written"));
}

void PostgresSink::drain(std::function<void()> done) {
  drained_ = std::move(done);
  dispatch();  // no waiting for batches to fill
  check_drained();
}

void PostgresSink::check_drained() {
  if (!drained_ || !pending_.empty() || !writing_.empty() || requested_ > 0) return;
  auto done = std::move(drained_);
  drained_ = nullptr;
  done();
}

// --- batches ---

void PostgresSink::deliver(EventPtr event, DeliveryCallback done) {
  if (!accepting_) return done(retryable("the sink is not running"));
  pending_.push_back(Row{std::move(event), std::move(done), {}});
  // The engine hands the sink at most `concurrency` events at once, which the sink cannot
  // see: it learns it as the most it has held. Holding that many, no more can come before
  // some are acknowledged, so waiting out max_delay would only slow the pipeline (with
  // concurrency 1, to one event per max_delay).
  const std::size_t held = pending_.size() + writing_rows_;
  peak_ = std::max(peak_, held);
  if (pending_.size() >= settings_.max_rows || held >= peak_ || settings_.max_delay.count() == 0 || drained_) {
    return dispatch();
  }
  if (!timer_armed_ && !flush_due_) {
    timer_armed_ = true;
    timer_->expires_after(settings_.max_delay, [this] {
      timer_armed_ = false;
      dispatch();
    });
  }
}

void PostgresSink::dispatch() {
  if (timer_armed_) timer_->cancel();
  timer_armed_ = false;
  if (pending_.empty() || !pool_) return;
  flush_due_ = true;
  const std::size_t batches = (pending_.size() + settings_.max_rows - 1) / settings_.max_rows;
  while (requested_ < batches && requested_ + writing_.size() < settings_.pool_size) {
    ++requested_;
    pool_->acquire([this, alive = std::weak_ptr<char>(alive_)](Result<Connection*> session) {
      if (alive.expired()) return;
      on_session(std::move(session));
    });
  }
}

Result<std::optional<Rendering>> PostgresSink::render(const Event& event) {
  auto table = assumed_table(settings_);
  if (!table) return table.error();
  auto params = encode_row(settings_, *table, event, scratch_);
  if (!params) return params.error();
  Rendering out{.method = "SQL", .url = "postgresql://" + settings_.target->description, .headers = {}, .body = table->insert};
  for (std::size_t i = 0; i < params->size(); ++i) {
    if ((*params)[i]) out.headers.add("$" + std::to_string(i + 1), std::move(*(*params)[i]));
  }
  return std::optional<Rendering>(std::move(out));
}

void PostgresSink::on_session(Result<Connection*> session) {
  --requested_;
  std::vector<std::pair<DeliveryCallback, Error>> refused;
  if (!session) {
    // No session now (the server is down, or the pool backs off): a batch's worth fails
    // with why, and the engine retries those events after the wait the pool asks for.
    const std::size_t n = std::min(settings_.max_rows, pending_.size());
    for (std::size_t i = 0; i < n; ++i) refused.emplace_back(std::move(pending_[i].done), session.error());
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  } else {
    Connection& connection = **session;
    const auto* table = std::any_cast<std::shared_ptr<const Table>>(&connection.session_data());
    Batch batch;
    batch.table = table != nullptr ? *table : nullptr;
    std::size_t taken = 0;
    for (; taken < pending_.size() && batch.rows.size() < settings_.max_rows && batch.table; ++taken) {
      Row& row = pending_[taken];
      auto params = encode_row(settings_, *batch.table, *row.event, scratch_);
      if (!params) {
        refused.emplace_back(std::move(row.done), params.error());
        continue;
      }
      row.params = std::move(*params);
      batch.rows.push_back(std::move(row));
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(taken));
    if (batch.rows.empty()) {
      pool_->release(&connection);
    } else {
      batch.count = batch.rows.size();
      writing_rows_ += batch.count;
      writing_.push_back(std::move(batch));
      write(connection, std::prev(writing_.end()));
    }
  }
  if (pending_.empty()) flush_due_ = false;
  for (auto& [done, error] : refused) done(error);
  if (!pending_.empty() && flush_due_) dispatch();
  check_drained();
}

void PostgresSink::write(Connection& connection, Batches::iterator batch) {
  std::vector<Command> commands;
  commands.reserve(batch->rows.size());
  for (const Row& row : batch->rows) {
    commands.push_back(Command{.kind = Command::Kind::execute_prepared, .statement = kInsertStatement, .params = row.params});
  }
  connection.run(std::move(commands), settings_.timeout,
                 [this, alive = std::weak_ptr<char>(alive_), &connection, batch](ExchangeResult result) {
    if (alive.expired()) return;
    on_written(connection, batch, std::move(result));
  });
}

void PostgresSink::on_written(Connection& connection, Batches::iterator batch, ExchangeResult result) {
  const std::size_t n = batch->rows.size();
  std::optional<Error> failed;
  if (!result) {
    failed = result.error();  // lost session or no answer: retryable
  } else {
    const PgError* first = nullptr;
    for (const auto& outcome : *result) {
      if (outcome.error && !outcome.aborted) {
        first = &*outcome.error;
        break;
      }
    }
    if (first == nullptr) {
      batch_rows_->observe(static_cast<double>(n));
      failed.reset();
    } else if (is_retryable(*first) || is_schema_change(*first)) {
      // A schema change is retried on a new session, which reads the columns again.
      if (is_schema_change(*first)) connection.retire();
      failed = retryable("batch of " + std::to_string(n) + " rows: " + describe(*first, false));
    } else if (n > 1) {
      row_retries_->inc();
      return write_one_by_one(connection, batch);
    } else {
      PgError error = *first;
      name_column(error, batch->rows[0].params, *batch->table);
      failed = to_error(error, "row rejected");
    }
  }
  std::vector<Row> rows = std::move(batch->rows);
  finish(connection, batch);
  for (auto& row : rows) {
    if (failed) {
      row.done(*failed);
    } else {
      row.done({});
    }
  }
  check_drained();
}

void PostgresSink::write_one_by_one(Connection& connection, Batches::iterator batch) {
  std::vector<Command> commands;
  for (const Row& row : batch->rows) {
    commands.push_back(Command{.kind = Command::Kind::execute_prepared, .statement = kInsertStatement,
                               .params = row.params, .sync_after = true});
  }
  connection.run(std::move(commands), settings_.timeout,
                 [this, alive = std::weak_ptr<char>(alive_), &connection, batch](ExchangeResult result) {
    if (alive.expired()) return;
    std::vector<Row> rows = std::move(batch->rows);
    auto table = batch->table;
    finish(connection, batch);
    std::size_t stored = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!result) {
        rows[i].done(result.error());
        continue;
      }
      const auto& outcome = (*result)[i];
      if (!outcome.error) {
        ++stored;
        rows[i].done({});
        continue;
      }
      PgError error = *outcome.error;
      name_column(error, rows[i].params, *table);
      rows[i].done(to_error(error, "row rejected"));
    }
    if (stored > 0) batch_rows_->observe(static_cast<double>(stored));
    check_drained();
  });
}

void PostgresSink::finish(Connection& connection, Batches::iterator batch) {
  writing_rows_ -= batch->count;
  writing_.erase(batch);
  pool_->release(&connection);
  if (!pending_.empty() && (flush_due_ || pending_.size() >= settings_.max_rows)) dispatch();
}

}  // namespace switchyard::postgres
