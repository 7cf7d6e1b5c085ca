#include "journal/journal.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <set>
#include <optional>
#include <mutex>
#include <thread>
#include <variant>

#include "journal/codec.hpp"
#include "journal/files.hpp"
#include "journal/lock.hpp"
#include "journal/schema.hpp"
#include "journal/sqlite.hpp"
#include "log/logging.hpp"

namespace switchyard::journal {
namespace {

using namespace std::chrono_literals;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How often the idle writer looks for replays requested by `switchyard dlq replay`.
constexpr auto kPollInterval = 500ms;
// How often expired state entries are deleted.
constexpr auto kPurgeInterval = 60s;
// How often a busy writer looks at the journal's size (state.max_bytes, the gauge) and at
// commits by other connections (`switchyard dlq`): PRAGMAs prepared per commit cost more
// than the commit's own inserts of a few events.
constexpr auto kMeasureInterval = 50ms;
// Bits 0..62 of the pending mask name sinks; 63 stays clear so masks are positive.
constexpr std::uint64_t kMaxSinks = 63;

struct AppendOp {
  std::int64_t pipeline;
  std::uint64_t mask;
  std::string body;
  StateWrites writes;
  std::function<void(Result<std::uint64_t>)> done;
};
struct CompleteOp {
  std::uint64_t seq;
  std::uint64_t bit;
};
struct DeadLetterOp {
  Failure failure;
  std::uint64_t seq;
  std::uint64_t bit;
  std::string body;
};
// Rare work that runs inside a transaction on the writer thread (attach, flush); `after`
// runs once the transaction has committed or failed.
struct TaskOp {
  std::function<void()> run;
  std::function<void()> after;
};
struct ReplayDoneOp {
  std::int64_t dlq_id;
};
struct AttemptOp {
  std::uint64_t seq;
  std::uint64_t bit;
  std::uint32_t count;
};
using Op = std::variant<AppendOp, CompleteOp, DeadLetterOp, ReplayDoneOp, StateWrite, TaskOp, AttemptOp>;

struct Attached {
  PipelineKey key;
  std::uint64_t token = 0;
  std::map<std::string, std::uint64_t> bits;  // sink name → bit
  bool durable = true;
  std::function<void(Replay)> on_replay;
};

}  // namespace

struct Journal::Impl {
  Options options;
  std::optional<StateDirLock> lock;  // this engine's claim on state.dir
  std::filesystem::path file;
  sql::Db db;      // writer thread only (and open/attach before it starts)
  sql::Db reader;  // pending() and load_state(), under read_mutex
  std::mutex read_mutex;

  // Prepared statements of the writer.
  sql::Stmt insert_event, delete_done, clear_bit, insert_dlq_from_event, insert_dlq, delete_dlq, put_state,
      erase_state, put_attempt, drop_attempt;
  // (seq, bit) with a row in attempts (writer thread): only those cost a delete when done.
  std::set<std::pair<std::uint64_t, std::uint64_t>> attempted;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Op> queue;
  bool stopping = false;
  bool poll_now = true;
  std::thread writer;

  std::uint64_t last_seq = 0;  // writer thread
  std::atomic<std::uint64_t> committed_seq{0};
  std::uint64_t next_token = 1;
  std::int64_t page_size = 4096;
  std::int64_t data_version = -1;
  std::chrono::steady_clock::time_point next_purge;
  std::chrono::steady_clock::time_point next_measure;  // and next look at data_version
  std::uint64_t appended_since_measure = 0;            // bytes of events appended since
  bool measure_owed = false;                           // a commit since the last measure
  std::map<std::string, Attached> attached;  // writer thread

  std::atomic<bool> cap_full{false};   // live data at state.max_bytes
  std::atomic<bool> disk_full{false};  // the last commit found no space on the disk
  std::atomic<bool> failing{false};    // the last commit failed (any reason)
  std::atomic<bool> unavailable{false};  // its files were deleted or replaced: until restart
  std::chrono::steady_clock::time_point next_probe;
  std::atomic<std::uint64_t> commits{0}, appended{0}, bytes_used{0};
  std::optional<JournalFiles> files;  // writer thread
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;  // under mutex
  mutable std::mutex problem_mutex;
  std::string problem;  // under problem_mutex: why it cannot keep events; empty when it can

  void set_problem(std::string text) {
    std::lock_guard lock(problem_mutex);
    problem = std::move(text);
  }

  void push(Op op) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(op));
    }
    wake.notify_one();
  }

  void run() {
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
  bool pause_after_failure() {
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
  void watch_files() {
    if (!files || unavailable) return;
    const std::string what = files->check();
    if (what.empty()) return;
    unavailable = true;
    const std::string saved = files->save(db);
    set_problem(what + " while the engine ran; restart the engine (" + saved + ")");
    log::engine().error("journal: {} ({}) while the engine was running. Durable pipelines now refuse new events "
                        "(HTTP 503) and /readyz answers 503 until the engine is restarted; {}",
                        what, file.string(), saved);
  }

  // A journal whose files are gone takes no new event: each append fails (its source
  // answers 503); the rest of the batch still commits, to the files the engine holds.
  void refuse_appends(std::deque<Op>& batch) {
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
  void probe_space() {
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
  void recovered() {
    const bool was_full = disk_full.exchange(false);
    if (!failing.exchange(false)) return;
    if (!unavailable) set_problem({});
    measure();
    log::engine().info(was_full ? "journal: the disk has room again; accepting events" : "journal: commits work again");
  }

  // One transaction for everything queued; callbacks after it is durable. False when it
  // failed.
  bool commit(std::deque<Op>& batch) {
    std::vector<std::pair<AppendOp*, std::uint64_t>> acks;
    std::vector<std::pair<std::function<void(Replay)>, Replay>> replays;
    std::vector<std::function<void()>> tasks_done;
    const bool due = poll_due();
    if (batch.empty() && measure_owed) {  // idle (at most kPollInterval after the last commit)
      measure_owed = false;
      measure();
    }
    if (batch.empty() && !due) return true;
    recorded_dead_letter = false;
    Status status = db.exec("BEGIN IMMEDIATE");
    for (auto& op : batch) {
      if (status) {
        status = apply(op, acks);
      } else if (auto* t = std::get_if<TaskOp>(&op)) {
        t->run();  // reports its own failure; never left waiting
      }
    }
    if (status && due) status = poll(replays);
    if (status) status = db.exec("COMMIT");
    auto after_tasks = [&] {
      for (auto& op : batch) {
        if (auto* t = std::get_if<TaskOp>(&op); t && t->after) t->after();
      }
    };
    if (!status) {
      const bool no_space = (sqlite3_extended_errcode(db.get()) & 0xff) == SQLITE_FULL;
      (void)db.exec("ROLLBACK");
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

  Status apply(Op& op, std::vector<std::pair<AppendOp*, std::uint64_t>>& acks) {
    return std::visit(
        [&](auto& o) -> Status {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, AppendOp>) {
            const std::uint64_t seq = ++last_seq;
            if (o.mask != 0) {
              insert_event.bind(1, seq).bind(2, o.pipeline).bind(3, o.mask).bind_blob_static(4, o.body);
              if (Status s = insert_event.run(); !s) return s;
              appended.fetch_add(1, std::memory_order_relaxed);
              appended_since_measure += o.body.size();
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
            return state(o);
          } else {
            o.run();
            return {};
          }
        },
        op);
  }

  Status complete(std::uint64_t seq, std::uint64_t bit) {
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

  Status dead_letter(const DeadLetterOp& o) {
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

  Status forget_dead_letter(std::int64_t id) {
    delete_dlq.bind(1, id);
    return delete_dlq.run();
  }

  // A memory pipeline's replay in flight is marked with replay = kInFlight + the token of
  // the attachment that took it, so a detach (or the next open) can ask for it again.
  static constexpr std::int64_t kInFlight = 2;

  Status state(const StateWrite& w) {
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
  bool poll_due() {
    const auto now = std::chrono::steady_clock::now();
    if (!poll_now && now < next_measure && now < next_purge) return false;
    auto version = db.scalar("PRAGMA data_version");
    const bool changed = version && *version != data_version;
    if (version) data_version = *version;
    return changed || poll_now || now >= next_purge;
  }

  Status poll(std::vector<std::pair<std::function<void(Replay)>, Replay>>& replays) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_purge) {
      next_purge = now + kPurgeInterval;
      auto purge = db.prepare("DELETE FROM state WHERE expires != 0 AND expires <= ?");
      if (!purge) return purge.error();
      purge->bind(1, unix_ms());
      if (Status s = purge->run(); !s) return s;
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

  void measure() {
    auto pages = db.scalar("PRAGMA page_count");
    auto free_pages = db.scalar("PRAGMA freelist_count");
    if (!pages || !free_pages) return;
    const auto used = static_cast<std::uint64_t>((*pages - *free_pages) * page_size);
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

  // Runs `fn` on the writer thread inside a transaction and returns its result once the
  // transaction has ended.
  template <class F>
  auto on_writer(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    std::optional<R> result;
    std::exception_ptr failure;
    std::promise<void> ended;
    auto future = ended.get_future();
    push(TaskOp{[&] {
                  try {
                    result.emplace(fn());
                  } catch (...) {
                    failure = std::current_exception();
                  }
                },
                [&] { ended.set_value(); }});
    future.wait();
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }

  Result<PipelineKey> attach(const std::string& name, const std::vector<std::string>& sinks,
                             bool durable, std::function<void(Replay)> on_replay, bool replacing) {
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
    attached[name] = std::move(a);
    poll_now = true;  // replays that waited for this pipeline
    return key;
  }

  Status orphan(const std::string& pipeline, std::int64_t id, const std::string& sink, std::uint64_t bit) {
    auto move = db.prepare(
        "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
        "SELECT ?1, ?2, coalesce(json_extract(substr(body, 1, instr(body, x'0a') - 1), '$.id'), ''), "
        "coalesce(json_extract(substr(body, 1, instr(body, x'0a') - 1), '$.type'), ''), 0, "
        "'sink ' || ?2 || ' is no longer in the pipeline', ?3, body "
        "FROM events WHERE pipeline = ?4 AND (pending & ?5) != 0");
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
  std::vector<std::string> orphaned;  // messages for the caller of attach()

  // Dead-letter feeds. Whether the transaction being built recorded an entry (writer
  // thread), and who waits to hear of it once it is committed.
  bool recorded_dead_letter = false;
  std::mutex watchers_mutex;
  std::vector<std::function<void()>> dead_letter_watchers;

  void tell_dead_letter_watchers() {
    std::vector<std::function<void()>> told;
    {
      std::lock_guard lock(watchers_mutex);
      told.swap(dead_letter_watchers);
    }
    for (auto& recorded : told) recorded();
  }

  // Reads for dead-letter feeds, on a thread and connection of their own (started on first
  // use): a source's read neither blocks an engine thread nor waits for the writer, and a
  // slow read holds up no sink's read of its backlog (the `reader` connection).
  using FeedRead = std::function<void(Result<sql::Db*>)>;
  struct FeedReader {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<FeedRead> reads;
    bool stopping = false;
    std::thread thread;
  } feed;

  void feed_read(FeedRead read) {
    {
      std::lock_guard lock(feed.mutex);
      if (feed.stopping) return;  // the engine is closing: nobody is left to tell
      feed.reads.push_back(std::move(read));
      if (!feed.thread.joinable()) feed.thread = std::thread([this] { run_feed_reads(); });
    }
    feed.wake.notify_one();
  }

  void run_feed_reads() {
    std::optional<sql::Db> connection;
    for (;;) {
      FeedRead read;
      {
        std::unique_lock lock(feed.mutex);
        feed.wake.wait(lock, [&] { return feed.stopping || !feed.reads.empty(); });
        if (feed.stopping) return;
        read = std::move(feed.reads.front());
        feed.reads.pop_front();
      }
      if (!connection) {
        auto opened = sql::Db::open(file, false);
        if (!opened) {
          read(retryable("journal: cannot open a reader for the dead-letter queue: " + opened.error().message));
          continue;
        }
        connection.emplace(std::move(*opened));
      }
      read(&*connection);
    }
  }

  void stop_feed_reads() {
    {
      std::lock_guard lock(feed.mutex);
      feed.stopping = true;
      feed.reads.clear();
    }
    feed.wake.notify_one();
    if (feed.thread.joinable()) feed.thread.join();
  }
};

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Journal::~Journal() {
  impl_->stop_feed_reads();
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
  auto lock = StateDirLock::take(options.dir);
  if (!lock) return lock.error();
  impl->lock.emplace(std::move(*lock));
  impl->file = options.dir / kJournalFile;
  auto db = open_database(impl->file, /*create=*/true);
  if (!db) return db.error();
  impl->db = std::move(*db);
  auto& d = impl->db;
  if (Status s = d.exec(options.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !s) {
    return s.error();
  }
  // Debian builds SQLite with SECURE_DELETE, which writes every page an event freed back
  // as zeros: about as many bytes again as the event itself, for nothing the journal
  // promises (freed pages are reused; docs/operations.md, Security, says what stays on disk).
  if (Status s = d.exec("PRAGMA secure_delete=OFF"); !s) return s.error();
  auto reader = sql::Db::open(impl->file, false);
  if (!reader) return reader.error();
  impl->reader = std::move(*reader);

  auto prepare = [&](sql::Stmt& out, std::string_view text) -> Status {
    auto stmt = d.prepare(text);
    if (!stmt) return stmt.error();
    out = std::move(*stmt);
    return {};
  };
  for (Status s : {
           prepare(impl->insert_event, "INSERT INTO events(seq, pipeline, pending, body) VALUES (?, ?, ?, ?)"),
           prepare(impl->delete_done, "DELETE FROM events WHERE seq = ? AND pending = ?"),
           prepare(impl->clear_bit, "UPDATE events SET pending = pending & ~? WHERE seq = ?"),
           prepare(impl->insert_dlq_from_event,
                   "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
                   "SELECT ?, ?, ?, ?, ?, ?, ?, body FROM events WHERE seq = ?"),
           prepare(impl->insert_dlq,
                   "INSERT INTO dlq(pipeline, sink, event_id, type, attempts, error, failed_at, body) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
           prepare(impl->put_state,
                   "INSERT INTO state(key, value, expires) VALUES (?, ?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires"),
           prepare(impl->erase_state, "DELETE FROM state WHERE key = ?"),
           prepare(impl->delete_dlq, "DELETE FROM dlq WHERE id = ?"),
           prepare(impl->put_attempt, "INSERT OR REPLACE INTO attempts(seq, bit, count) VALUES (?, ?, ?)"),
           prepare(impl->drop_attempt, "DELETE FROM attempts WHERE seq = ? AND bit = ?"),
       }) {
    if (!s) return permanent(impl->file.string() + ": " + s.error().message);
  }
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
  auto last = d.scalar("SELECT coalesce(max(seq), 0) FROM events");
  auto page_size = d.scalar("PRAGMA page_size");
  if (!last || !page_size) return permanent(impl->file.string() + ": " + d.error());
  impl->last_seq = static_cast<std::uint64_t>(*last);
  impl->page_size = *page_size;
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
    if (it != impl_->attached.end() && it->second.key.token == token) impl_->attached.erase(it);
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
                     std::function<void(Result<std::uint64_t>)> done) {
  impl_->push(AppendOp{pipeline, mask, std::move(body), std::move(writes), std::move(done)});
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

Result<std::vector<Pending>> Journal::pending(std::int64_t pipeline, std::uint64_t bit, std::uint64_t from_seq,
                                              std::size_t limit, std::uint64_t to_seq) {
  std::lock_guard lock(impl_->read_mutex);
  auto stmt = impl_->reader.prepare(
      "SELECT e.seq, e.body, coalesce(a.count, 0) FROM events e LEFT JOIN attempts a ON a.seq = e.seq AND a.bit = ?4 "
      "WHERE e.seq >= ?1 AND e.seq <= ?2 AND e.pipeline = ?3 AND (e.pending & ?4) != 0 ORDER BY e.seq LIMIT ?5");
  if (!stmt) return stmt.error();
  stmt->bind(1, from_seq).bind(2, to_seq).bind(3, pipeline).bind(4, bit).bind(5, static_cast<std::int64_t>(limit));
  std::vector<Pending> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back(Pending{static_cast<std::uint64_t>(stmt->integer(0)), stmt->blob(1),
                          static_cast<std::uint32_t>(stmt->integer(2))});
  }
  if (rc != SQLITE_DONE) return retryable("journal read: " + impl_->reader.error());
  return out;
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
      "SELECT substr(body, 1, instr(body, x'0a')) FROM events WHERE pending != 0 ORDER BY seq LIMIT 1");
  if (!stmt) return stmt.error();
  const int rc = stmt->step();
  if (rc == SQLITE_DONE) return std::optional<std::int64_t>();
  if (rc != SQLITE_ROW) return retryable("journal read: " + impl_->reader.error());
  return envelope_time_ms(stmt->blob(0));
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

void Journal::read_dead_letters(std::int64_t after, std::size_t limit,
                                std::function<void(Result<std::vector<DeadLetter>>)> done) {
  impl_->feed_read([after, limit, done = std::move(done)](Result<sql::Db*> db) {
    if (!db) return done(db.error());
    auto stmt = (*db)->prepare(
        "SELECT id, pipeline, sink, event_id, type, attempts, error, failed_at, body FROM dlq "
        "WHERE id > ? AND replay = 0 ORDER BY id LIMIT ?");
    if (!stmt) return done(retryable("journal read: " + stmt.error().message));
    stmt->bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    std::vector<DeadLetter> out;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      DeadLetter& d = out.emplace_back();
      d.id = stmt->integer(0);
      d.pipeline = stmt->text(1);
      d.sink = stmt->text(2);
      d.event_id = stmt->text(3);
      d.type = stmt->text(4);
      d.attempts = static_cast<std::uint32_t>(stmt->integer(5));
      d.error = stmt->text(6);
      d.failed_at_ms = stmt->integer(7);
      d.body = stmt->blob(8);
    }
    if (rc != SQLITE_DONE) return done(retryable("journal read: " + (*db)->error()));
    done(std::move(out));
  });
}

void Journal::newest_dead_letter(std::function<void(Result<std::int64_t>)> done) {
  impl_->feed_read([done = std::move(done)](Result<sql::Db*> db) {
    if (!db) return done(db.error());
    // The AUTOINCREMENT counter, not max(id): it also counts entries dropped since.
    auto newest = (*db)->scalar(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'dlq'), 0), "
        "coalesce((SELECT max(id) FROM dlq), 0))");
    if (!newest) return done(retryable("journal read: " + newest.error().message));
    done(*newest);
  });
}

void Journal::when_dead_lettered(std::function<void()> recorded) {
  std::lock_guard lock(impl_->watchers_mutex);
  impl_->dead_letter_watchers.push_back(std::move(recorded));
}

void Journal::flush() {
  impl_->on_writer([] { return 0; });
}

Stats Journal::stats() const {
  return Stats{impl_->commits.load(), impl_->appended.load(), impl_->bytes_used.load(), full()};
}

}  // namespace switchyard::journal
