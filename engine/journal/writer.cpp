// The journal's writer thread: one transaction per batch of queued operations (appends,
// completions, dead letters, state), callbacks once it is durable; failed commits retried
// and reported, the disk probed until it has room, the files watched for deletion, replays
// requested by `switchyard dlq` picked up, the size measured for state.max_bytes.
#include <algorithm>

#include "journal/codec.hpp"
#include "journal/schema.hpp"
#include "journal/writer.hpp"
#include "log/logging.hpp"

namespace switchyard::journal {

using namespace std::chrono_literals;

void Journal::Impl::set_problem(std::string text) {
  std::lock_guard lock(problem_mutex);
  problem = std::move(text);
}

void Journal::Impl::push(Op op) {
  {
    std::lock_guard lock(mutex);
    queue.push_back(std::move(op));
  }
  wake.notify_one();
}

void Journal::Impl::run() {
  std::deque<Op> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, kPollInterval, [&] { return stopping || !queue.empty() || poll_now; });
      batch.swap(queue);
      if (batch.empty() && stopping) return;
    }
    watch_files();
    if (unavailable) refuse_appends(batch);
    const bool ok = commit(batch);
    batch.clear();
    if (disk_full || failing) probe_space();
    // After a failure the changes that must not be lost are queued again: give the disk
    // (or whatever failed) a moment before trying them again, but no longer than a
    // stopping engine allows.
    if (!ok && !pause_after_failure()) return;
  }
}

// Waits a second before the next try; false when the engine is stopping and its deadline
// has passed: then what is still queued is given up (said in the log).
bool Journal::Impl::pause_after_failure() {
  std::unique_lock lock(mutex);
  auto until = std::chrono::steady_clock::now() + 1s;
  if (stopping && stop_deadline) until = std::min(until, *stop_deadline);
  wake.wait_until(lock, until, [&] { return stopping && stop_deadline && std::chrono::steady_clock::now() >= *stop_deadline; });
  if (!stopping || !stop_deadline || std::chrono::steady_clock::now() < *stop_deadline) return true;
  std::deque<Op> left;
  left.swap(queue);
  lock.unlock();
  std::string why;
  {
    std::lock_guard p(problem_mutex);
    why = problem;
  }
  // Appends are refused (their sources answer 503) and tasks answered, as after any failed
  // commit; completions, dead-letter moves and state changes are dropped.
  std::size_t dropped = 0;
  const Error error = retryable("journal: the engine is stopping and its commits fail");
  for (auto& op : left) {
    if (auto* a = std::get_if<AppendOp>(&op)) {
      if (a->done) a->done(error);
    } else if (auto* t = std::get_if<TaskOp>(&op)) {
      t->run();
      if (t->after) t->after();
    } else {
      ++dropped;
    }
  }
  log::engine().error("journal: giving up {} change(s) that could not be committed within shutdown_timeout ({}): "
                      "deliveries they completed are made again at the next start; no acknowledged event is lost",
                      dropped, why);
  return false;
}

// Before each commit and twice a second: are journal.db and its -wal still the files this
// engine opened? Deleted or replaced, everything written from now on would be lost at the
// next start: refuse new events, save what the connection still holds, say so loudly.
void Journal::Impl::watch_files() {
  if (!files || unavailable) return;
  std::string what = files->check();
  const bool log_lost = what.empty() && log;
  if (log_lost) what = log->check();
  if (what.empty()) return;
  unavailable = true;
  const std::string saved = log_lost ? log->restore() : files->save(db);
  set_problem(what + " while the engine ran; restart the engine (" + saved + ")");
  log::engine().error("journal: {} ({}) while the engine was running. Durable pipelines now refuse new events "
                      "(HTTP 503) and /readyz answers 503 until the engine is restarted; {}",
                      what, file.string(), saved);
}

// A journal whose files are gone takes no new event: each append fails (its source
// answers 503); the rest of the batch still commits, to the files the engine holds.
void Journal::Impl::refuse_appends(std::deque<Op>& batch) {
  std::string why;
  {
    std::lock_guard lock(problem_mutex);
    why = problem;
  }
  const Error error = retryable("journal unavailable: " + why, std::chrono::seconds(30));
  std::erase_if(batch, [&](Op& op) {
    auto* a = std::get_if<AppendOp>(&op);
    if (!a) return false;
    if (a->done) a->done(error);
    return true;
  });
}

// After a failed commit (the disk full, read-only, failing), tries a small write now and
// then; once one commits, new events are accepted again and readiness returns.
void Journal::Impl::probe_space() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_probe) return;
  next_probe = now + 1s;
  const bool ok = db.exec("BEGIN IMMEDIATE;"
                          "INSERT OR REPLACE INTO state(key, value, expires) VALUES ('switchyard/space-probe', zeroblob(8192), 1);"
                          "DELETE FROM state WHERE key = 'switchyard/space-probe';"
                          "COMMIT;")
                      .has_value();
  if (!ok) {
    (void)db.exec("ROLLBACK");
    return;
  }
  recovered();
}

// A commit succeeded after failures.
void Journal::Impl::recovered() {
  const bool was_full = disk_full.exchange(false);
  if (!failing.exchange(false)) return;
  if (!unavailable) set_problem({});
  measure();
  log::engine().info(was_full ? "journal: the disk has room again; accepting events" : "journal: commits work again");
}

// One transaction for everything queued; callbacks after it is durable. False when it
// failed.
bool Journal::Impl::commit(std::deque<Op>& batch) {
  std::vector<std::pair<AppendOp*, std::uint64_t>> acks;
  std::vector<std::pair<std::function<void(Replay)>, Replay>> replays;
  std::vector<std::function<void()>> tasks_done;
  const bool due = poll_due();
  if (batch.empty() && measure_owed) {  // idle (at most kPollInterval after the last commit)
    measure_owed = false;
    checkpoint(/*idle=*/true);
    measure();
  }
  if (batch.empty() && !due) return true;
  recorded_dead_letter = false;
  // A dead letter that carries its event (one never in the event log: a transform failed
  // it, or its source waits until it is through) is that event's only copy, and its source
  // hears once this commits: the WAL is synced with it. Other commits leave that to the
  // event log's fdatasync and the checkpoints (synchronous=NORMAL).
  const bool carries_events = options.fsync && std::any_of(batch.begin(), batch.end(), [](const Op& op) {
    const auto* d = std::get_if<DeadLetterOp>(&op);
    return d != nullptr && !d->body.empty();
  });
  if (carries_events) (void)db.exec("PRAGMA synchronous=FULL");
  struct Normal {
    sql::Db& db;
    bool on;
    ~Normal() {
      if (on) (void)db.exec("PRAGMA synchronous=NORMAL");
    }
  } normal{db, carries_events};
  Status status = db.exec("BEGIN IMMEDIATE");
  for (auto& op : batch) {
    if (status) {
      status = apply(op, acks);
    } else if (auto* t = std::get_if<TaskOp>(&op)) {
      t->run();  // reports its own failure; never left waiting
    }
  }
  if (status && due) status = poll(replays);
  if (status && logged_seq > marked_seq) {
    mark_logged.bind(1, logged_seq);
    status = mark_logged.run();
    if (status) marked_seq = logged_seq;
  }
  // The batch's records are durable in the event log before the rows that point at them.
  if (status) status = log->sync();
  if (status) status = db.exec("COMMIT");
  auto after_tasks = [&] {
    for (auto& op : batch) {
      if (auto* t = std::get_if<TaskOp>(&op); t && t->after) t->after();
    }
  };
  if (!status) {
    const bool no_space = (sqlite3_extended_errcode(db.get()) & 0xff) == SQLITE_FULL || log->no_space();
    (void)db.exec("ROLLBACK");
    log->discard();
    marked_seq = 0;  // written again with the next commit
    if (no_space) disk_full = true;
    failing = true;
    if (!unavailable) set_problem("commits fail: " + status.error().message);
    log::engine().error("journal commit of {} change(s) failed: {}{}", batch.size(), status.error().message,
                        no_space ? "; durable pipelines refuse new events until space returns" : "");
    // Every append of the batch reports the failure (its source answers 503 and keeps
    // nothing). Completions, dead-letter moves and state changes are idempotent and must
    // not be lost (a reloaded pipeline relies on its predecessor's completions): they go
    // back to the front of the queue, in order.
    const Error error = retryable("journal: " + status.error().message, std::chrono::seconds(5));
    std::deque<Op> again;
    for (auto& op : batch) {
      if (auto* a = std::get_if<AppendOp>(&op)) {
        if (a->done) a->done(error);
      } else if (!std::holds_alternative<TaskOp>(op)) {
        again.push_back(std::move(op));
      }
    }
    if (!again.empty()) {
      std::lock_guard lock(mutex);
      queue.insert(queue.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
    }
    after_tasks();
    return false;
  }
  if (!batch.empty()) commits.fetch_add(1, std::memory_order_relaxed);
  if (failing) recovered();
  checkpoint();
  committed_seq.store(last_seq, std::memory_order_release);
  // The size is looked at every kMeasureInterval, and sooner when the events appended
  // since could take the journal past a 64th of state.max_bytes beyond its cap.
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_measure || cap_full.load(std::memory_order_relaxed) ||
      (options.max_bytes > 0 && appended_since_measure >= std::max<std::uint64_t>(options.max_bytes / 64, 64 * 1024))) {
    next_measure = now + kMeasureInterval;
    appended_since_measure = 0;
    measure_owed = false;
    measure();
  } else {
    measure_owed = true;
  }
  if (recorded_dead_letter) tell_dead_letter_watchers();  // before the tasks' waiters hear
  for (auto& [append, seq] : acks) append->done(seq);
  for (auto& [handler, replay] : replays) handler(std::move(replay));
  after_tasks();
  return true;
}

Status Journal::Impl::apply(Op& op, std::vector<std::pair<AppendOp*, std::uint64_t>>& acks) {
  return std::visit(
      [&](auto& o) -> Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, AppendOp>) {
          const std::uint64_t seq = ++last_seq;
          if (o.mask != 0) {
            auto location = log->add(seq, o.pipeline, o.mask, o.body, encode_state_writes(o.writes), o.body_rest);
            if (!location) return location.error();
            logged_seq = seq;
            appended_since_release = true;
            insert_event.bind(1, seq).bind(2, o.pipeline).bind(3, o.mask).bind_blob_static(4, std::string_view("", 0)).bind(5, *location);
            if (Status s = insert_event.run(); !s) return s;
            appended.fetch_add(1, std::memory_order_relaxed);
            appended_since_measure += o.body.size() + o.body_rest.size();
          }
          if (o.mask == 0 && !o.writes.empty()) {
            if (Status s = log_state(o.writes); !s) return s;
          }
          for (auto& w : o.writes) {
            if (Status s = state(w); !s) return s;
          }
          if (o.done) acks.emplace_back(&o, seq);
          return {};
        } else if constexpr (std::is_same_v<T, CompleteOp>) {
          return complete(o.seq, o.bit);
        } else if constexpr (std::is_same_v<T, DeadLetterOp>) {
          return dead_letter(o);
        } else if constexpr (std::is_same_v<T, ReplayDoneOp>) {
          return forget_dead_letter(o.dlq_id);
        } else if constexpr (std::is_same_v<T, AttemptOp>) {
          put_attempt.bind(1, o.seq).bind(2, o.bit).bind(3, static_cast<std::int64_t>(o.count));
          if (Status s = put_attempt.run(); !s) return s;
          attempted.emplace(o.seq, o.bit);
          return {};
        } else if constexpr (std::is_same_v<T, StateWrite>) {
          if (Status s = log_state({o}); !s) return s;
          return state(o);
        } else {
          o.run();
          return {};
        }
      },
      op);
}

Status Journal::Impl::complete(std::uint64_t seq, std::uint64_t bit) {
  if (attempted.erase({seq, bit}) != 0) {
    drop_attempt.bind(1, seq).bind(2, bit);
    if (Status s = drop_attempt.run(); !s) return s;
  }
  // Usually the last sink: one delete. Otherwise clear this sink's bit.
  delete_done.bind(1, seq).bind(2, bit);
  if (Status s = delete_done.run(); !s) return s;
  if (db.changes() > 0) return {};
  clear_bit.bind(1, bit).bind(2, seq);
  return clear_bit.run();
}

Status Journal::Impl::dead_letter(const DeadLetterOp& o) {
  const auto& f = o.failure;
  sql::Stmt& stmt = o.seq ? insert_dlq_from_event : insert_dlq;
  stmt.bind(1, f.pipeline).bind(2, f.sink).bind(3, f.event_id).bind(4, f.type)
      .bind(5, static_cast<std::int64_t>(f.attempts)).bind(6, f.error).bind(7, unix_ms());
  if (o.seq) {
    stmt.bind(8, o.seq);
  } else {
    stmt.bind_blob_static(8, o.body);
  }
  if (Status s = stmt.run(); !s) return s;
  if (db.changes() > 0) recorded_dead_letter = true;
  if (f.replaces != 0) {
    if (Status s = forget_dead_letter(f.replaces); !s) return s;
  }
  return o.seq ? complete(o.seq, o.bit) : Status{};
}

Status Journal::Impl::forget_dead_letter(std::int64_t id) {
  delete_dlq.bind(1, id);
  return delete_dlq.run();
}

Status Journal::Impl::state(const StateWrite& w) {
  if (w.remember) {
    put_remembered.bind(1, w.expires_ms).bind_blob_static(2, w.key);
    return put_remembered.run();
  }
  if (w.erase) {
    erase_state.bind(1, w.key);
    return erase_state.run();
  }
  put_state.bind(1, w.key).bind_blob_static(2, w.value).bind(3, w.expires_ms);
  return put_state.run();
}

// Replays requested by `switchyard dlq replay` (another connection), and state expiry.
// Whether another connection committed (a `dlq` command), a pipeline attached, or
// expired state is due for deletion.
bool Journal::Impl::poll_due() {
  const auto now = std::chrono::steady_clock::now();
  if (!poll_now && now < next_measure && now < next_purge) return false;
  auto version = db.scalar("PRAGMA data_version");
  const bool changed = version && *version != data_version;
  if (version) data_version = *version;
  return changed || poll_now || now >= next_purge;
}

Status Journal::Impl::poll(std::vector<std::pair<std::function<void(Replay)>, Replay>>& replays) {
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_purge) {
    next_purge = now + kPurgeInterval;
    auto purge = db.prepare("DELETE FROM state WHERE expires != 0 AND expires <= ?");
    if (!purge) return purge.error();
    purge->bind(1, unix_ms());
    if (Status s = purge->run(); !s) return s;
    // A range of the index's start (rows are ordered by expiry).
    auto forget = db.prepare("DELETE FROM remembered WHERE expires BETWEEN 1 AND ?");
    if (!forget) return forget.error();
    forget->bind(1, unix_ms());
    if (Status s = forget->run(); !s) return s;
  }
  poll_now = false;
  if (attached.empty()) return {};
  auto select = db.prepare("SELECT id, pipeline, sink, body FROM dlq WHERE replay = 1 ORDER BY id");
  auto remove = db.prepare("DELETE FROM dlq WHERE id = ?");
  auto mark = db.prepare("UPDATE dlq SET replay = ? WHERE id = ?");
  if (!select) return select.error();
  if (!remove) return remove.error();
  if (!mark) return mark.error();
  int rc;
  while ((rc = select->step()) == SQLITE_ROW) {
    auto it = attached.find(select->text(1));
    if (it == attached.end()) continue;  // not running: replayed when it starts
    if (const std::string sink = select->text(2); sink.starts_with("transforms[")) {
      // A transform's dead letter: the pipeline runs it through its transforms again; the
      // entry stays, in flight, until the event is through (or replaced by a new failure).
      const std::int64_t id = select->integer(0);
      mark->bind(1, kInFlight + static_cast<std::int64_t>(it->second.key.token)).bind(2, id);
      if (Status s = mark->run(); !s) return s;
      replays.emplace_back(it->second.on_replay, Replay{.sink = sink, .seq = 0, .body = select->blob(3), .dlq_id = id});
      continue;
    }
    auto bit = it->second.bits.find(select->text(2));
    if (bit == it->second.bits.end()) continue;  // no such sink (yet)
    Replay replay{.sink = bit->first, .seq = 0, .body = select->blob(3)};
    const std::int64_t id = select->integer(0);
    if (it->second.durable) {
      // Into the journal and out of the DLQ in one transaction.
      replay.seq = ++last_seq;
      insert_event.bind(1, replay.seq).bind(2, it->second.key.id).bind(3, bit->second)
          .bind_blob_static(4, replay.body);
      if (Status s = insert_event.run(); !s) return s;
      remove->bind(1, id);
      if (Status s = remove->run(); !s) return s;
    } else {
      // A memory pipeline holds it only in memory: the entry stays until it is delivered.
      mark->bind(1, kInFlight + static_cast<std::int64_t>(it->second.key.token)).bind(2, id);
      if (Status s = mark->run(); !s) return s;
      replay.dlq_id = id;
    }
    replays.emplace_back(it->second.on_replay, std::move(replay));
  }
  if (rc != SQLITE_DONE) return permanent(db.error());
  return {};
}

Status Journal::Impl::log_state(const StateWrites& writes) {
  const std::uint64_t seq = ++last_seq;
  auto location = log->add(seq, 0, 0, {}, encode_state_writes(writes));
  if (!location) return location.error();
  logged_seq = seq;
  appended_since_release = true;
  return {};
}

// A segment may go once no row refers to it: no row now (`oldest`), and, since journal.db
// commits without a sync, no row a power cut could bring back: none as of its last
// checkpoint (which syncs it), nor one committed after it (a power cut may keep a prefix
// of the unsynced WAL): `durable_oldest`, the oldest row then, or the log's end then when
// there was none (every later row points at or after it). When the log has not moved
// since, no such row can exist. Without fsync nothing is promised across a power cut: only
// the rows now count. At most once per kReleaseInterval; the files are
// deleted on the backlog reader thread (freeing a large file's blocks takes milliseconds).
void Journal::Impl::release(std::optional<std::uint64_t> oldest) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_release) return;
  if (options.fsync) {
    if (!durable_known) return;
    if (durable_oldest && *durable_oldest < log->end() && (!oldest || *durable_oldest < *oldest)) oldest = durable_oldest;
  }
  const bool idle = !appended_since_release;
  if (!log->releases(oldest, idle)) return;
  next_release = now + kReleaseInterval;
  appended_since_release = false;
  if (auto deletion = log->release(oldest, idle)) {
    read_on(backlog, [deletion = std::move(deletion)](Result<sql::Db*>) {
      for (const auto& problem : deletion()) log::engine().warn("journal: {}", problem);
    });
  }
}

// SQLite's automatic checkpoint is off (open()); this one runs after a commit that left the
// WAL at Options::checkpoint_pages or more, or when the writer is idle with anything in it, and notes
// what a completed one made durable. After a commit it runs on the checkpoint thread, with
// its own connection: the writer goes on committing while journal.db is written and synced
// (a checkpoint in the writer held every request waiting on the next commit for as long).
// Idle, the writer runs it itself: nobody waits.
//
// The WAL starts again from its beginning only when a transaction begins with every frame
// copied, which under load never follows a checkpoint on another thread: the writer has
// committed more meanwhile. So the writer copies those few frames itself once that one is
// done (kCatchUpFrames at most; more, and another runs on the thread first); its next
// transaction then starts the WAL again. Without that the WAL stayed past checkpoint_pages
// and the thread checkpointed without pause, about a hundred times a second, each time
// syncing journal.db on the disk the event log waits for.
void Journal::Impl::checkpoint(bool idle) {
  take_checkpoint();
  if (checkpoint_running) return;
  const bool catch_up = caught_up_to >= 0 && wal_pages - caught_up_to <= kCatchUpFrames;
  if (!catch_up && wal_pages < (idle ? 1 : options.checkpoint_pages)) return;
  if (!idle && !catch_up) {
    checkpoint_running = true;
    // Every row committed from here on points at or after the log's end now.
    read_on(checkpoints, [this, end = log->end()](Result<sql::Db*> db) {
      CheckpointDone done;
      if (db) {
        // Read before the checkpoint starts, so the snapshot read is one it covers: a
        // location at most as far on as the oldest row journal.db holds once synced
        // (rows only leave, and new ones point further on). With no row then, rows the
        // writer commits before the checkpoint starts are in it too: they point at or
        // after `end`. Keeping a segment longer is safe.
        if (auto oldest = (*db)->prepare("SELECT loc FROM events WHERE loc IS NOT NULL ORDER BY seq LIMIT 1")) {
          done.oldest = end;
          if (oldest->step() == SQLITE_ROW) done.oldest = static_cast<std::uint64_t>(oldest->integer(0));
          oldest->reset();
          int frames = 0, backfilled = 0;
          const int rc = sqlite3_wal_checkpoint_v2((*db)->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &backfilled);
          if (rc == SQLITE_OK) checkpoints_run.fetch_add(1, std::memory_order_relaxed);
          done.complete = rc == SQLITE_OK && backfilled >= frames;
          done.frames = frames;
        }
      }
      std::lock_guard lock(checkpoint_mutex);
      checkpoint_done = done;
    });
    return;
  }
  caught_up_to = -1;
  int frames = 0, backfilled = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &backfilled);
  if (rc == SQLITE_OK) checkpoints_run.fetch_add(1, std::memory_order_relaxed);
  if (rc != SQLITE_OK || backfilled < frames) return;  // a reader holds it back: next commit
  wal_pages = 0;
  durable_oldest = log->end();  // no row: every one committed later points at or after it
  if (oldest_location.step() == SQLITE_ROW) durable_oldest = static_cast<std::uint64_t>(oldest_location.integer(0));
  oldest_location.reset();
  durable_known = true;
}

// Writer thread: what the checkpoint thread's last checkpoint made durable. One that did
// not finish (a reader held frames back) is due again with the next commit.
void Journal::Impl::take_checkpoint() {
  std::optional<CheckpointDone> done;
  {
    std::lock_guard lock(checkpoint_mutex);
    done.swap(checkpoint_done);
  }
  if (!done) return;
  checkpoint_running = false;
  if (!done->complete) return;
  caught_up_to = done->frames;
  durable_oldest = done->oldest;
  durable_known = true;
}

void Journal::Impl::measure() {
  auto pages = db.scalar("PRAGMA page_count");
  auto free_pages = db.scalar("PRAGMA freelist_count");
  if (!pages || !free_pages) return;
  // The event log from the oldest record a row refers to; the segments before it go.
  std::optional<std::uint64_t> oldest;
  if (oldest_location.step() == SQLITE_ROW) oldest = static_cast<std::uint64_t>(oldest_location.integer(0));
  oldest_location.reset();
  release(oldest);
  const auto used = static_cast<std::uint64_t>((*pages - *free_pages) * page_size) + log->live_bytes(oldest);
  bytes_used.store(used, std::memory_order_relaxed);
  const bool now_full = options.max_bytes > 0 && used >= options.max_bytes;
  const bool was_full = cap_full.exchange(now_full, std::memory_order_relaxed);
  if (now_full && !was_full) {
    log::engine().warn("journal is full ({} KiB in use, state.max_bytes {} KiB): durable pipelines refuse "
                       "new events (HTTP 503) until their sinks catch up",
                       used / 1024, options.max_bytes / 1024);
  } else if (was_full && !now_full) {
    log::engine().info("journal has room again ({} KiB in use): accepting events", used / 1024);
  }
}

}  // namespace switchyard::journal
