#include "journal/dead_letters.hpp"

#include <chrono>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "journal/journal.hpp"
#include "journal/schema.hpp"

namespace switchyard::journal {
namespace {

// " WHERE ..." for `filter` with parameters from 1 on; bind() supplies their values.
std::string where(const DeadLetterFilter& filter) {
  std::string w;
  std::vector<std::string> terms;
  if (!filter.ids.empty()) {
    std::string in = "id IN (";
    for (std::size_t i = 0; i < filter.ids.size(); ++i) in += i ? ",?" : "?";
    terms.push_back(in + ")");
  }
  if (!filter.pipeline.empty()) terms.push_back("pipeline = ?");
  if (!filter.sink.empty()) terms.push_back("sink = ?");
  if (filter.older_than) terms.push_back("failed_at <= ?");
  for (std::size_t i = 0; i < terms.size(); ++i) {
    w += i ? " AND " : " WHERE ";
    w += terms[i];
  }
  return w;
}

void bind(sql::Stmt& stmt, const DeadLetterFilter& filter) {
  int i = 1;
  for (auto id : filter.ids) stmt.bind(i++, id);
  if (!filter.pipeline.empty()) stmt.bind(i++, std::string_view(filter.pipeline));
  if (!filter.sink.empty()) stmt.bind(i++, std::string_view(filter.sink));
  if (filter.older_than) {
    const auto cutoff = std::chrono::system_clock::now() - *filter.older_than;
    stmt.bind(i++, static_cast<std::int64_t>(
                       std::chrono::duration_cast<std::chrono::milliseconds>(cutoff.time_since_epoch()).count()));
  }
}

DeadLetter row(const sql::Stmt& s, bool with_body) {
  DeadLetter d;
  d.id = s.integer(0);
  d.pipeline = s.text(1);
  d.sink = s.text(2);
  d.event_id = s.text(3);
  d.type = s.text(4);
  d.attempts = static_cast<std::uint32_t>(s.integer(5));
  d.error = s.text(6);
  d.failed_at_ms = s.integer(7);
  d.replay_requested = s.integer(8) != 0;
  if (with_body) d.body = s.blob(9);
  return d;
}

constexpr const char* kColumns = "id, pipeline, sink, event_id, type, attempts, error, failed_at, replay";

// Applies `action` ("DELETE FROM dlq", "UPDATE dlq SET replay = 1") to the matching rows a
// chunk at a time, each chunk its own transaction: a large drop or replay never holds the
// journal's write lock for long (durable sources answer 503 while it is held).
// `unchanged` is the condition that excludes rows already changed, so each chunk moves on.
Result<std::int64_t> change(sql::Db& db, const std::string& action, const DeadLetterFilter& filter,
                            const char* unchanged = nullptr) {
  constexpr int kChunk = 1000;
  const std::string w = where(filter);
  std::string sql = action;
  sql += " WHERE id IN (SELECT id FROM dlq";
  sql += w;
  if (unchanged != nullptr) {
    sql += w.empty() ? " WHERE " : " AND ";
    sql += unchanged;
  }
  sql += " ORDER BY id LIMIT " + std::to_string(kChunk) + ")";
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  std::int64_t total = 0;
  for (;;) {
    bind(*stmt, filter);
    if (Status s = stmt->run(); !s) return s.error();
    const std::int64_t n = db.changes();
    total += n;
    if (n < kChunk) return total;
  }
}

}  // namespace

std::string dead_letters_json(const std::vector<DeadLetter>& entries) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& d : entries) {
    w.StartObject();
    write_dead_letter(w, d);
    w.EndObject();
  }
  w.EndArray();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<DeadLetters> DeadLetters::open(const std::filesystem::path& state_dir) {
  auto db = open_database(state_dir / kJournalFile, /*create=*/false);
  if (!db) return db.error();
  auto log = EventLog::reader(state_dir / kEventLogDir);
  if (Status s = register_event_body(*db, *log); !s) return s.error();
  return DeadLetters(std::move(log), std::move(*db));
}

Result<std::vector<DeadLetter>> DeadLetters::list(const DeadLetterFilter& filter, std::size_t limit) {
  // Appended piecewise: g++ 12 misreports operator+ chains here (-Warray-bounds).
  std::string sql = "SELECT ";
  sql += kColumns;
  sql += " FROM dlq";
  sql += where(filter);
  sql += " ORDER BY id";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  bind(*stmt, filter);
  std::vector<DeadLetter> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) out.push_back(row(*stmt, false));
  if (rc != SQLITE_DONE) return permanent(db_.error());
  return out;
}

Result<std::optional<DeadLetter>> DeadLetters::get(std::int64_t id) {
  std::string sql = "SELECT ";
  sql += kColumns;
  sql += ", body FROM dlq WHERE id = ?";
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return std::optional<DeadLetter>(row(*stmt, true));
  if (rc == SQLITE_DONE) return std::optional<DeadLetter>();
  return permanent(db_.error());
}

Result<std::int64_t> DeadLetters::replay(const DeadLetterFilter& filter) {
  return change(db_, "UPDATE dlq SET replay = 1", filter, "replay = 0");
}

Result<std::int64_t> DeadLetters::drop(const DeadLetterFilter& filter) {
  return change(db_, "DELETE FROM dlq", filter);
}

Result<std::int64_t> DeadLetters::adopt(const std::string& pipeline, std::string_view how) {
  auto id = db_.prepare("SELECT id FROM pipelines WHERE name = ?");
  auto sinks = db_.prepare("SELECT name, bit FROM sinks WHERE pipeline = ?");
  // The event's id and type come from its envelope, the first line of the body.
  auto move = db_.prepare(
      "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
      "SELECT ?1, ?2, coalesce(json_extract(substr(b, 1, instr(b, x'0a') - 1), '$.id'), ''), "
      "coalesce(json_extract(substr(b, 1, instr(b, x'0a') - 1), '$.type'), ''), 0, "
      "'pipeline ' || ?1 || ' is no longer configured (' || ?6 || ')', ?3, b "
      "FROM (SELECT event_body(seq, body, loc) AS b FROM events WHERE pipeline = ?4 AND (pending & ?5) != 0 "
      "ORDER BY seq)");
  auto forget_events = db_.prepare("DELETE FROM events WHERE pipeline = ?");
  auto forget_sinks = db_.prepare("DELETE FROM sinks WHERE pipeline = ?");
  for (auto* stmt : {&id, &sinks, &move, &forget_events, &forget_sinks}) {
    if (!*stmt) return stmt->error();
  }
  id->bind(1, pipeline);
  if (id->step() != SQLITE_ROW) return std::int64_t{0};  // never ran: nothing to move
  const std::int64_t pipeline_id = id->integer(0);
  id->reset();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (Status s = db_.exec("BEGIN IMMEDIATE"); !s) return s.error();
  auto fail = [&](const Error& error) -> Result<std::int64_t> {
    (void)db_.exec("ROLLBACK");
    return error;
  };
  std::int64_t moved = 0;
  sinks->bind(1, pipeline_id);
  std::vector<std::pair<std::string, std::int64_t>> bits;
  while (sinks->step() == SQLITE_ROW) bits.emplace_back(sinks->text(0), sinks->integer(1));
  for (const auto& [sink, bit] : bits) {
    move->bind(1, pipeline).bind(2, sink).bind(3, now).bind(4, pipeline_id).bind(5, std::int64_t{1} << bit).bind(6, how);
    if (Status s = move->run(); !s) return fail(s.error());
    moved += db_.changes();
  }
  forget_events->bind(1, pipeline_id);
  forget_sinks->bind(1, pipeline_id);
  if (Status s = forget_events->run(); !s) return fail(s.error());
  if (Status s = forget_sinks->run(); !s) return fail(s.error());
  if (Status s = db_.exec("COMMIT"); !s) return fail(s.error());
  return moved;
}

Result<std::int64_t> DeadLetters::count() { return db_.scalar("SELECT count(*) FROM dlq"); }

Result<std::vector<std::pair<std::pair<std::string, std::string>, std::int64_t>>> DeadLetters::counts() {
  auto stmt = db_.prepare("SELECT pipeline, sink, count(*) FROM dlq GROUP BY pipeline, sink");
  if (!stmt) return stmt.error();
  std::vector<std::pair<std::pair<std::string, std::string>, std::int64_t>> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) out.push_back({{stmt->text(0), stmt->text(1)}, stmt->integer(2)});
  if (rc != SQLITE_DONE) return permanent(db_.error());
  return out;
}

}  // namespace switchyard::journal
