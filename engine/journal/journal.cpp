// The journal's public face: opening (schema, lock, recovery), attaching pipelines, and the
// calls that queue work for the writer thread (writer.cpp) or read on the reader connection.
#include "journal/journal.hpp"

#include <algorithm>

#include "journal/codec.hpp"
#include "journal/schema.hpp"
#include "journal/writer.hpp"
#include "log/logging.hpp"

namespace switchyard::journal {

using namespace std::chrono_literals;

Result<PipelineKey> Journal::Impl::attach(const std::string& name, const std::vector<std::string>& sinks, bool durable, std::function<void(Replay)> on_replay, bool replacing) {
  if (sinks.size() > kMaxSinks) return invalid_config("a pipeline has at most 63 sinks");
  auto ins = db.prepare("INSERT OR IGNORE INTO pipelines(name) VALUES (?)");
  if (!ins) return ins.error();
  ins->bind(1, name);
  if (Status s = ins->run(); !s) return s.error();
  auto sel = db.prepare("SELECT id FROM pipelines WHERE name = ?");
  if (!sel) return sel.error();
  sel->bind(1, name);
  if (sel->step() != SQLITE_ROW) return permanent(db.error());
  Attached a;
  a.key.id = sel->integer(0);
  a.key.token = next_token++;
  a.durable = durable;
  a.on_replay = std::move(on_replay);

  std::map<std::string, std::uint64_t> known;
  auto list = db.prepare("SELECT name, bit FROM sinks WHERE pipeline = ?");
  if (!list) return list.error();
  list->bind(1, a.key.id);
  while (list->step() == SQLITE_ROW) known.emplace(list->text(0), std::uint64_t{1} << list->integer(1));

  // Sinks gone from the configuration: their pending deliveries go to the DLQ, where an
  // operator sees them (and can replay them if the sink comes back), and their bit is freed.
  for (auto it = known.begin(); it != known.end();) {
    if (replacing || std::find(sinks.begin(), sinks.end(), it->first) != sinks.end()) {
      ++it;
      continue;
    }
    if (Status s = orphan(name, a.key.id, it->first, it->second); !s) return s.error();
    it = known.erase(it);
  }
  std::uint64_t used = 0;
  for (auto& [_, bit] : known) used |= bit;
  auto add = db.prepare("INSERT INTO sinks(pipeline, name, bit) VALUES (?, ?, ?)");
  if (!add) return add.error();
  for (const auto& sink : sinks) {
    auto it = known.find(sink);
    if (it == known.end()) {
      std::uint64_t b = 0;
      while (b < kMaxSinks && (used & (std::uint64_t{1} << b))) ++b;
      if (b >= kMaxSinks) {
        return invalid_config("pipeline " + name + ": no free sink slot in the journal (63 sinks, counting sinks "
                              "removed by reloads since the last start); restart the engine");
      }
      used |= std::uint64_t{1} << b;
      add->bind(1, a.key.id).bind(2, sink).bind(3, b);
      if (Status s = add->run(); !s) return s.error();
      it = known.emplace(sink, std::uint64_t{1} << b).first;
    }
    a.key.sink_bits.push_back(it->second);
    a.bits.emplace(sink, it->second);
  }
  PipelineKey key = a.key;
  key.warnings = std::move(orphaned);
  orphaned.clear();
  if (auto before = attached.find(name); replacing && before != attached.end()) {
    a.replaced = std::make_unique<Attached>(std::move(before->second));
  }
  attached[name] = std::move(a);
  poll_now = true;  // replays that waited for this pipeline
  return key;
}

Status Journal::Impl::orphan(const std::string& pipeline, std::int64_t id, const std::string& sink, std::uint64_t bit) {
  auto move = db.prepare(
      "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
      "SELECT ?1, ?2, coalesce(json_extract(substr(b, 1, instr(b, x'0a') - 1), '$.id'), ''), "
      "coalesce(json_extract(substr(b, 1, instr(b, x'0a') - 1), '$.type'), ''), 0, "
      "'sink ' || ?2 || ' is no longer in the pipeline', ?3, b "
      "FROM (SELECT event_body(seq, body, loc) AS b FROM events WHERE pipeline = ?4 AND (pending & ?5) != 0 "
      "ORDER BY seq)");
  if (!move) return move.error();
  move->bind(1, pipeline).bind(2, sink).bind(3, unix_ms()).bind(4, id).bind(5, bit);
  if (Status s = move->run(); !s) return s;
  const auto moved = db.changes();
  auto clear = db.prepare("UPDATE events SET pending = pending & ~?1 WHERE pipeline = ?2 AND (pending & ?1) != 0");
  auto drop = db.prepare("DELETE FROM events WHERE pipeline = ? AND pending = 0");
  auto forget = db.prepare("DELETE FROM sinks WHERE pipeline = ? AND name = ?");
  if (!clear || !drop || !forget) return permanent(db.error());
  clear->bind(1, bit).bind(2, id);
  drop->bind(1, id);
  forget->bind(1, id).bind(2, sink);
  if (Status s = clear->run(); !s) return s;
  if (Status s = drop->run(); !s) return s;
  if (Status s = forget->run(); !s) return s;
  if (moved > 0) {
    recorded_dead_letter = true;
    orphaned.push_back(std::to_string(moved) + " pending event(s) of sink '" + sink + "' of pipeline '" +
                       pipeline + "' moved to the dead-letter queue: the sink is no longer configured");
  }
  return {};
}

namespace {

// What journal.db holds, for the event log's recovery: where its newest row's record ends
// and the highest sequence number it committed (marks.logged, absent before version 4).
Result<EventLog::Committed> committed_to(sql::Db& db) {
  EventLog::Committed out;
  auto newest = db.prepare("SELECT loc FROM events WHERE loc IS NOT NULL ORDER BY seq DESC LIMIT 1");
  if (!newest) return newest.error();
  if (newest->step() == SQLITE_ROW) out.referenced_end = static_cast<std::uint64_t>(newest->integer(0)) + 1;
  auto last = db.scalar("SELECT coalesce(max(seq), 0) FROM events");
  if (!last) return last.error();
  out.seq = static_cast<std::uint64_t>(*last);
  auto marks = db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'marks'");
  if (!marks) return marks.error();
  if (*marks > 0) {
    auto logged = db.scalar("SELECT coalesce(max(value), 0) FROM marks WHERE name = 'logged'");
    if (!logged) return logged.error();
    out.seq = std::max(out.seq, static_cast<std::uint64_t>(*logged));
  }
  return out;
}

}  // namespace

// What the log has and journal.db lost: records after marks.logged were synced to the log
// but their transaction never became durable (a power cut since; or a crash between the two,
// before the source heard of it). Their rows and state writes are made again, so every
// event the log has is delivered and its delivery ids kept.
Status Journal::Impl::redo() {
  auto logged = db.scalar("SELECT value FROM marks WHERE name = 'logged'");
  if (!logged) return logged.error();
  if (static_cast<std::uint64_t>(*logged) >= log->last_seq()) return {};
  std::size_t events = 0, writes = 0;
  if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return s;
  Status status = log->replay_after(static_cast<std::uint64_t>(*logged), [&](const EventLog::Record& r) -> Status {
    if (r.mask != 0) {
      insert_event.bind(1, r.seq).bind(2, r.pipeline).bind(3, r.mask).bind_blob_static(4, std::string_view("", 0)).bind(5, r.location);
      if (Status s = insert_event.run(); !s) return s;
      ++events;
    }
    auto decoded = decode_state_writes(r.writes);
    if (!decoded) return decoded.error();
    for (const auto& w : *decoded) {
      if (Status s = state(w); !s) return s;
      ++writes;
    }
    return {};
  });
  if (status) {
    mark_logged.bind(1, log->last_seq());
    status = mark_logged.run();
  }
  if (status) status = db.exec("COMMIT");
  if (!status) {
    (void)db.exec("ROLLBACK");
    return status;
  }
  log::engine().warn("journal: {} event(s) and {} state change(s) were in the event log but not in journal.db (a power "
                     "cut or a crash before their commit); made again from the log",
                     events, writes);
  return {};
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() {
  impl_->stop_reads(impl_->feed);
  impl_->stop_reads(impl_->backlog);
  impl_->stop_reads(impl_->checkpoints);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    if (!impl_->stop_deadline) impl_->stop_deadline = std::chrono::steady_clock::now() + impl_->options.stop_timeout;
  }
  impl_->wake.notify_one();
  if (impl_->writer.joinable()) impl_->writer.join();
  // A clean close checkpoints the WAL into the database file.
}

Result<std::unique_ptr<Journal>> Journal::open(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::error_code ec;
  // A state dir the engine makes is its own alone: the journal holds payloads as received.
  if (std::filesystem::create_directories(options.dir, ec) && !ec) {
    std::filesystem::permissions(options.dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  }
  if (ec) return permanent("state.dir " + options.dir.string() + ": " + ec.message());
  if (const auto mode = std::filesystem::status(options.dir, ec).permissions();
      !ec && (mode & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) != std::filesystem::perms::none) {
    log::engine().warn("state.dir {} can be read by other users (mode {:o}): the journal holds payloads as "
                       "received; chmod 700 it (its files are created 0600)",
                       options.dir.string(), static_cast<unsigned>(mode) & 0777u);
  }
  auto lock = StateDirLock::take(options.dir);
  if (!lock) return lock.error();
  impl->lock.emplace(std::move(*lock));
  impl->file = options.dir / kJournalFile;
  auto db = open_database(impl->file, /*create=*/true);
  if (!db) return db.error();
  impl->db = std::move(*db);
  auto& d = impl->db;
  // The event log is what makes an appended event durable (it is synced before the
  // transaction commits, and open() redoes what journal.db lost): journal.db's commits need
  // no sync of their own. Before the log deletes a segment, journal.db is synced (measure()).
  if (Status s = d.exec("PRAGMA synchronous=NORMAL"); !s) {
    return s.error();
  }
  // Debian builds SQLite with SECURE_DELETE, which writes every page an event freed back
  // as zeros: about as many bytes again as the event itself, for nothing the journal
  // promises (freed pages are reused; docs/operations.md, Security, says what stays on disk).
  if (Status s = d.exec("PRAGMA secure_delete=OFF"); !s) return s.error();
  // The writer checkpoints (Impl::checkpoint()) so it knows when journal.db is durable.
  sqlite3_wal_hook(
      d.get(),
      [](void* self, sqlite3*, const char*, int pages) {
        static_cast<Impl*>(self)->wal_pages = pages;
        return SQLITE_OK;
      },
      impl.get());
  auto reader = sql::Db::open(impl->file, false);
  if (!reader) return reader.error();
  impl->reader = std::move(*reader);
  // Segments are written over when used again, so a batch cut short by a crash may have
  // reached the disk in any order: the log may cut records after one that does not check
  // only where journal.db knows of nothing, neither a row (rows' locations grow with their
  // sequence numbers) nor a commit.
  auto committed = committed_to(d);
  if (!committed) return permanent(impl->file.string() + ": " + committed.error().message);
  auto event_log = EventLog::open({.dir = options.dir / kEventLogDir,
                                   .fsync = options.fsync,
                                   .segment_bytes = options.segment_bytes,
                                   .committed = *committed});
  if (!event_log) return event_log.error();
  impl->log = std::move(*event_log);
  for (const auto& warning : impl->log->take_warnings()) log::engine().warn("journal: {}", warning);
  for (sql::Db* connection : {&d, &impl->reader}) {
    if (Status s = register_event_body(*connection, *impl->log); !s) return s.error();
  }
  // marks.logged: the last record of the log whose row and state writes journal.db has. A
  // journal without it had every logged record committed with a sync (older versions).
  if (Status s = d.exec("CREATE TABLE IF NOT EXISTS marks(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
                        "INSERT OR IGNORE INTO marks VALUES ('logged', " + std::to_string(impl->log->last_seq()) + ")");
      !s) {
    return permanent(impl->file.string() + ": " + s.error().message);
  }

  auto prepare = [&](sql::Stmt& out, std::string_view text) -> Status {
    auto stmt = d.prepare(text);
    if (!stmt) return stmt.error();
    out = std::move(*stmt);
    return {};
  };
  for (Status s : {
           prepare(impl->insert_event, "INSERT INTO events(seq, pipeline, pending, body, loc) VALUES (?, ?, ?, ?, ?)"),
           prepare(impl->oldest_location, "SELECT loc FROM events WHERE loc IS NOT NULL ORDER BY seq LIMIT 1"),
           prepare(impl->mark_logged, "UPDATE marks SET value = ? WHERE name = 'logged'"),
           prepare(impl->delete_done, "DELETE FROM events WHERE seq = ? AND pending = ?"),
           prepare(impl->clear_bit, "UPDATE events SET pending = pending & ~? WHERE seq = ?"),
           prepare(impl->insert_dlq_from_event,
                   "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
                   "SELECT ?, ?, ?, ?, ?, ?, ?, event_body(seq, body, loc) FROM events WHERE seq = ?"),
           prepare(impl->insert_dlq,
                   "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
           prepare(impl->put_state,
                   "INSERT INTO state(key, value, expires) VALUES (?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires"),
           prepare(impl->erase_state, "DELETE FROM state WHERE key = ?"),
           prepare(impl->put_remembered, "INSERT OR IGNORE INTO remembered(expires, fingerprint) VALUES (?, ?)"),
           prepare(impl->delete_dlq, "DELETE FROM dlq WHERE id = ?"),
           prepare(impl->put_attempt, "INSERT OR REPLACE INTO attempts(seq, bit, count) VALUES (?, ?, ?)"),
           prepare(impl->drop_attempt, "DELETE FROM attempts WHERE seq = ? AND bit = ?"),
       }) {
    if (!s) return permanent(impl->file.string() + ": " + s.error().message);
  }
  if (Status s = impl->redo(); !s) return permanent(impl->file.string() + ": " + s.error().message);
  // Replays a memory pipeline of the previous run held in memory and never finished.
  if (Status s = d.exec("UPDATE dlq SET replay = 1 WHERE replay >= 2"); !s) {
    return permanent(impl->file.string() + ": " + s.error().message);
  }
  // Attempt counts of events gone by other ways (a pipeline's rows moved to the DLQ) go,
  // so a later event reusing a sequence number does not inherit them.
  if (Status s = d.exec("DELETE FROM attempts WHERE seq NOT IN (SELECT seq FROM events)"); !s) {
    return permanent(impl->file.string() + ": " + s.error().message);
  }
  {
    auto rows = d.prepare("SELECT seq, bit FROM attempts");
    if (!rows) return permanent(impl->file.string() + ": " + rows.error().message);
    while (rows->step() == SQLITE_ROW) {
      impl->attempted.emplace(static_cast<std::uint64_t>(rows->integer(0)), static_cast<std::uint64_t>(rows->integer(1)));
    }
  }
  auto page_size = d.scalar("PRAGMA page_size");
  if (!page_size) return permanent(impl->file.string() + ": " + d.error());
  // After the last row and marks.logged (records whose segments are gone: an empty log
  // would start again at 1), and after the log's last record (a batch whose transaction
  // never committed, a crash in between): those numbers are not used again. redo() added
  // rows only for records of the log.
  impl->last_seq = std::max(impl->log->last_seq(), committed->seq);
  impl->page_size = *page_size;
  if (impl->oldest_location.step() == SQLITE_ROW) {
    const auto oldest = static_cast<std::uint64_t>(impl->oldest_location.integer(0));
    impl->oldest_location.reset();
    if (Status s = impl->log->expect(oldest); !s) return s.error();
  }
  impl->oldest_location.reset();
  impl->checkpoint(/*idle=*/true);  // what journal.db holds now is durable before a segment goes
  impl->measure();
  impl->files.emplace(impl->file);
  impl->next_purge = std::chrono::steady_clock::now();
  Impl* raw = impl.get();
  raw->writer = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

const std::filesystem::path& Journal::file() const { return impl_->file; }

Result<PipelineKey> Journal::attach(const std::string& pipeline, const std::vector<std::string>& sinks,
                                    bool durable, std::function<void(Replay)> on_replay, bool replacing) {
  return impl_->on_writer([&] { return impl_->attach(pipeline, sinks, durable, std::move(on_replay), replacing); });
}

void Journal::detach(const std::string& pipeline, std::uint64_t token) {
  impl_->on_writer([&] {
    auto it = impl_->attached.find(pipeline);
    if (it == impl_->attached.end()) return 0;
    if (it->second.key.token == token) {
      // The newest version goes: the one it was replacing, if still running, takes over again.
      if (it->second.replaced) {
        it->second = std::move(*std::unique_ptr<Attached>(std::move(it->second.replaced)));
        impl_->poll_now = true;
      } else {
        impl_->attached.erase(it);
      }
      return 0;
    }
    // An older version stopped (its swap is over): the newer ones forget it.
    for (Attached* newer = &it->second; newer->replaced; newer = newer->replaced.get()) {
      if (newer->replaced->key.token == token) {
        newer->replaced = std::move(newer->replaced->replaced);
        break;
      }
    }
    return 0;
  });
}

void Journal::requeue_replays(std::uint64_t token) {
  impl_->on_writer([&] {
    auto again = impl_->db.prepare("UPDATE dlq SET replay = 1 WHERE replay = ?");
    if (!again) return 0;
    again->bind(1, Impl::kInFlight + static_cast<std::int64_t>(token));
    if (Status s = again->run(); !s) {
      log::engine().error("journal: could not request unfinished replays again: {}", s.error().message);
    } else if (impl_->db.changes() > 0) {
      impl_->poll_now = true;
    }
    return 0;
  });
}

void Journal::replay_done(std::int64_t dlq_id) {
  if (dlq_id != 0) impl_->push(ReplayDoneOp{dlq_id});
}

std::uint64_t Journal::last_committed() const { return impl_->committed_seq.load(std::memory_order_acquire); }

void Journal::append(std::int64_t pipeline, std::uint64_t mask, std::string body, StateWrites writes,
                     std::function<void(Result<std::uint64_t>)> done, std::string_view body_rest) {
  impl_->push(AppendOp{pipeline, mask, std::move(body), std::move(writes), std::move(done), body_rest});
}

void Journal::complete(std::uint64_t seq, std::uint64_t bit) {
  if (seq != 0) impl_->push(CompleteOp{seq, bit});
}

void Journal::attempted(std::uint64_t seq, std::uint64_t bit, std::uint32_t attempts) {
  if (seq != 0) impl_->push(AttemptOp{seq, bit, attempts});
}

void Journal::dead_letter(Failure failure, std::uint64_t seq, std::uint64_t bit, std::string body) {
  impl_->push(DeadLetterOp{std::move(failure), seq, bit, seq ? std::string() : std::move(body)});
}

void Journal::write_state(StateWrite write) { impl_->push(std::move(write)); }

bool Journal::full() const {
  return impl_->cap_full.load(std::memory_order_relaxed) || impl_->disk_full.load(std::memory_order_relaxed) ||
         impl_->unavailable.load(std::memory_order_relaxed);
}

std::optional<std::string> Journal::problem() const {
  std::lock_guard lock(impl_->problem_mutex);
  if (impl_->problem.empty()) return std::nullopt;
  return impl_->problem;
}

void Journal::stop_by(std::chrono::steady_clock::time_point deadline) {
  std::lock_guard lock(impl_->mutex);
  impl_->stop_deadline = deadline;
}

namespace {

// Up to `limit` events of `pipeline` still wanted by sink `bit`, from `from_seq` to `to_seq`.
Result<std::vector<Pending>> read_pending(sql::Db& db, const EventLog& log, std::int64_t pipeline, std::uint64_t bit,
                                          std::uint64_t from_seq, std::size_t limit, std::uint64_t to_seq) {
  auto stmt = db.prepare(
      "SELECT e.seq, e.body, coalesce(a.count, 0), e.loc FROM events e LEFT JOIN attempts a ON a.seq = e.seq AND a.bit = ?4 "
      "WHERE e.seq >= ?1 AND e.seq <= ?2 AND e.pipeline = ?3 AND (e.pending & ?4) != 0 ORDER BY e.seq LIMIT ?5");
  if (!stmt) return stmt.error();
  stmt->bind(1, from_seq).bind(2, to_seq).bind(3, pipeline).bind(4, bit).bind(5, static_cast<std::int64_t>(limit));
  std::vector<Pending> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    const auto seq = static_cast<std::uint64_t>(stmt->integer(0));
    const auto attempts = static_cast<std::uint32_t>(stmt->integer(2));
    if (stmt->null(3)) {
      out.push_back(Pending{seq, stmt->blob(1), attempts});
      continue;
    }
    auto body = log.read(static_cast<std::uint64_t>(stmt->integer(3)), seq);
    if (!body) return body.error();
    if (!*body) continue;  // every sink finished with it since the row was read
    out.push_back(Pending{seq, std::move(**body), attempts});
  }
  if (rc != SQLITE_DONE) return retryable("journal read: " + db.error());
  return out;
}

}  // namespace

Result<std::vector<Pending>> Journal::pending(std::int64_t pipeline, std::uint64_t bit, std::uint64_t from_seq,
                                              std::size_t limit, std::uint64_t to_seq) {
  std::lock_guard lock(impl_->read_mutex);
  return read_pending(impl_->reader, *impl_->log, pipeline, bit, from_seq, limit, to_seq);
}

void Journal::pending_async(std::int64_t pipeline, std::uint64_t bit, std::uint64_t from_seq, std::size_t limit,
                            std::uint64_t to_seq, std::function<void(Result<std::vector<Pending>>)> done) {
  const EventLog* log = impl_->log.get();
  impl_->read_on(impl_->backlog, [=, done = std::move(done)](Result<sql::Db*> db) {
    if (!db) return done(db.error());
    done(read_pending(**db, *log, pipeline, bit, from_seq, limit, to_seq));
  });
}

Result<std::int64_t> Journal::pending_count(std::int64_t pipeline, std::uint64_t mask) {
  std::lock_guard lock(impl_->read_mutex);
  auto stmt = impl_->reader.prepare("SELECT count(*) FROM events WHERE pipeline = ? AND (pending & ?) != 0");
  if (!stmt) return stmt.error();
  stmt->bind(1, pipeline).bind(2, mask);
  if (stmt->step() != SQLITE_ROW) return retryable("journal read: " + impl_->reader.error());
  return stmt->integer(0);
}

Result<std::vector<std::pair<std::string, std::int64_t>>> Journal::pending_by_pipeline() {
  std::lock_guard lock(impl_->read_mutex);
  auto stmt = impl_->reader.prepare(
      "SELECT p.name, count(*) FROM events e JOIN pipelines p ON p.id = e.pipeline "
      "WHERE e.pending != 0 GROUP BY e.pipeline ORDER BY p.name");
  if (!stmt) return stmt.error();
  std::vector<std::pair<std::string, std::int64_t>> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) out.emplace_back(stmt->text(0), stmt->integer(1));
  if (rc != SQLITE_DONE) return retryable("journal read: " + impl_->reader.error());
  return out;
}

Result<std::optional<std::int64_t>> Journal::oldest_pending_ms() {
  std::lock_guard lock(impl_->read_mutex);
  // Only the envelope line: the payload after it can be megabytes.
  auto stmt = impl_->reader.prepare(
      "SELECT substr(body, 1, instr(body, x'0a')), seq, loc FROM events WHERE pending != 0 ORDER BY seq LIMIT 1");
  if (!stmt) return stmt.error();
  const int rc = stmt->step();
  if (rc == SQLITE_DONE) return std::optional<std::int64_t>();
  if (rc != SQLITE_ROW) return retryable("journal read: " + impl_->reader.error());
  if (stmt->null(2)) return envelope_time_ms(stmt->blob(0));
  auto body = impl_->log->read(static_cast<std::uint64_t>(stmt->integer(2)), static_cast<std::uint64_t>(stmt->integer(1)));
  if (!body) return body.error();
  if (!*body) return std::optional<std::int64_t>();
  const std::string_view text = **body;
  return envelope_time_ms(text.substr(0, text.find('\n')));
}

Result<std::vector<StateEntry>> Journal::load_state() {
  std::lock_guard lock(impl_->read_mutex);
  auto stmt = impl_->reader.prepare("SELECT key, value, expires FROM state WHERE expires = 0 OR expires > ?");
  if (!stmt) return stmt.error();
  stmt->bind(1, unix_ms());
  std::vector<StateEntry> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back(StateEntry{stmt->text(0), stmt->blob(1), stmt->integer(2)});
  }
  if (rc != SQLITE_DONE) return permanent("journal read: " + impl_->reader.error());
  return out;
}

Result<std::vector<RememberedEntry>> Journal::load_remembered() {
  std::lock_guard lock(impl_->read_mutex);
  auto stmt = impl_->reader.prepare("SELECT fingerprint, expires FROM remembered WHERE expires = 0 OR expires > ?");
  if (!stmt) return stmt.error();
  stmt->bind(1, unix_ms());
  std::vector<RememberedEntry> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) out.push_back(RememberedEntry{stmt->blob(0), stmt->integer(1)});
  if (rc != SQLITE_DONE) return permanent("journal read: " + impl_->reader.error());
  return out;
}

void Journal::flush() {
  impl_->on_writer([] { return 0; });
}

Stats Journal::stats() const {
  return Stats{impl_->commits.load(), impl_->appended.load(), impl_->bytes_used.load(), full(), impl_->checkpoints_run.load()};
}

}  // namespace switchyard::journal
