#pragma once
// Internal to engine/journal: the journal's state and its writer thread (Journal::Impl),
// the operations queued to it, and the constants they share. journal.cpp opens and attaches,
// writer.cpp is the writer thread (one transaction per batch of queued operations, failures,
// the files watched), dead_letter_reads.cpp reads the dead-letter queue for feeds and runs
// the reader threads.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "journal/event_log.hpp"
#include "journal/files.hpp"
#include "journal/journal.hpp"
#include "journal/lock.hpp"
#include "journal/sqlite.hpp"

namespace switchyard::journal {


inline std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How often the idle writer looks for replays requested by `switchyard dlq replay`.
inline constexpr auto kPollInterval = std::chrono::milliseconds(500);
// How often expired state entries are deleted.
inline constexpr auto kPurgeInterval = std::chrono::seconds(60);
// How often a busy writer looks at the journal's size (state.max_bytes, the gauge) and at
// commits by other connections (`switchyard dlq`): PRAGMAs prepared per commit cost more
// than the commit's own inserts of a few events.
inline constexpr auto kMeasureInterval = std::chrono::milliseconds(50);
// How often at most the event log's released segments are let go. Often enough that the
// few kept as spares (EventLog::kSpares) cover the segments a busy log starts meanwhile.
inline constexpr auto kReleaseInterval = std::chrono::milliseconds(100);
// The most WAL frames the writer copies itself after a checkpoint on the checkpoint thread
// (checkpoint()): about what it commits in a few milliseconds under load.
inline constexpr int kCatchUpFrames = 256;
// Bits 0..62 of the pending mask name sinks; 63 stays clear so masks are positive.
inline constexpr std::uint64_t kMaxSinks = 63;

struct AppendOp {
  std::int64_t pipeline;
  std::uint64_t mask;
  std::string body;
  StateWrites writes;
  std::function<void(Result<std::uint64_t>)> done;
  std::string_view body_rest;  // the rest of the body, not owned: alive until `done` runs
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
  // The version this one is replacing, still running until its swap: it takes replays
  // again should this one go first (it failed to start).
  std::unique_ptr<Attached> replaced;
};


struct Journal::Impl {
  Options options;
  std::optional<StateDirLock> lock;  // this engine's claim on state.dir
  std::filesystem::path file;
  std::unique_ptr<EventLog> log;  // the events' bodies; rows say where (events.loc)
  sql::Db db;      // writer thread only (and open/attach before it starts)
  sql::Db reader;  // pending() and load_state(), under read_mutex
  std::mutex read_mutex;

  // Prepared statements of the writer.
  sql::Stmt insert_event, oldest_location, mark_logged, delete_done, clear_bit, insert_dlq_from_event, insert_dlq, delete_dlq, put_state,
      erase_state, put_remembered, put_attempt, drop_attempt;
  // (seq, bit) with a row in attempts (writer thread): only those cost a delete when done.
  std::set<std::pair<std::uint64_t, std::uint64_t>> attempted;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Op> queue;
  bool stopping = false;
  bool poll_now = true;
  std::thread writer;

  std::uint64_t last_seq = 0;  // writer thread
  std::uint64_t logged_seq = 0;  // writer thread: the last record added to the log
  std::uint64_t marked_seq = 0;  // writer thread: marks.logged in the transaction being built
  bool appended_since_release = false;  // writer thread: the log grew since segments were let go
  std::chrono::steady_clock::time_point next_release;  // writer thread
  int wal_pages = 0;             // writer thread: frames in journal.db's WAL (its wal hook)
  bool durable_known = false;    // a checkpoint completed since open
  std::optional<std::uint64_t> durable_oldest;  // the oldest row's location as of it, else the log's end then
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
  std::atomic<std::uint64_t> commits{0}, appended{0}, bytes_used{0}, checkpoints_run{0};
  std::optional<JournalFiles> files;  // writer thread
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;  // under mutex
  mutable std::mutex problem_mutex;
  std::string problem;  // under problem_mutex: why it cannot keep events; empty when it can

  void set_problem(std::string text);

  void push(Op op);

  void run();

  // Waits a second before the next try; false when the engine is stopping and its deadline
  // has passed: then what is still queued is given up (said in the log).
  bool pause_after_failure();

  // Before each commit and twice a second: are journal.db and its -wal still the files this
  // engine opened? Deleted or replaced, everything written from now on would be lost at the
  // next start: refuse new events, save what the connection still holds, say so loudly.
  void watch_files();

  // A journal whose files are gone takes no new event: each append fails (its source
  // answers 503); the rest of the batch still commits, to the files the engine holds.
  void refuse_appends(std::deque<Op>& batch);

  // After a failed commit (the disk full, read-only, failing), tries a small write now and
  // then; once one commits, new events are accepted again and readiness returns.
  void probe_space();

  // A commit succeeded after failures.
  void recovered();

  // One transaction for everything queued; callbacks after it is durable. False when it
  // failed.
  bool commit(std::deque<Op>& batch);

  Status apply(Op& op, std::vector<std::pair<AppendOp*, std::uint64_t>>& acks);

  Status complete(std::uint64_t seq, std::uint64_t bit);

  Status dead_letter(const DeadLetterOp& o);

  Status forget_dead_letter(std::int64_t id);

  // A memory pipeline's replay in flight is marked with replay = kInFlight + the token of
  // the attachment that took it, so a detach (or the next open) can ask for it again.
  static constexpr std::int64_t kInFlight = 2;

  Status state(const StateWrite& w);

  // Replays requested by `switchyard dlq replay` (another connection), and state expiry.
  // Whether another connection committed (a `dlq` command), a pipeline attached, or
  // expired state is due for deletion.
  bool poll_due();

  Status poll(std::vector<std::pair<std::function<void(Replay)>, Replay>>& replays);

  void measure();
  void release(std::optional<std::uint64_t> oldest);
  void checkpoint(bool idle = false);

  // Rows and state writes of records the log has and journal.db lost (open()).
  Status redo();
  // Logs `writes` (with no event) so a lost commit of journal.db gets them back.
  Status log_state(const StateWrites& writes);

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
                             bool durable, std::function<void(Replay)> on_replay, bool replacing);

  Status orphan(const std::string& pipeline, std::int64_t id, const std::string& sink, std::uint64_t bit);
  std::vector<std::string> orphaned;  // messages for the caller of attach()

  // Dead-letter feeds. Whether the transaction being built recorded an entry (writer
  // thread), and who waits to hear of it once it is committed.
  bool recorded_dead_letter = false;
  std::mutex watchers_mutex;
  std::vector<std::function<void()>> dead_letter_watchers;

  void tell_dead_letter_watchers();

  // Reads on a thread and connection of their own (started on first use), never on the
  // caller's: `feed` for dead-letter feeds, `backlog` for sinks reading their backlog
  // (pending_async()). A read neither blocks an engine thread nor waits for the writer, and
  // a slow feed read holds up no sink's backlog.
  using FeedRead = std::function<void(Result<sql::Db*>)>;
  struct ReadThread {
    const char* what = "";
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<FeedRead> reads;
    bool stopping = false;
    std::thread thread;
  };
  ReadThread feed{.what = "the dead-letter queue"};
  ReadThread backlog{.what = "backlogs"};
  // The checkpoints due after commits run here (checkpoint()): journal.db's sync then holds
  // up no group commit. What one finished with, for the writer to take (take_checkpoint()).
  ReadThread checkpoints{.what = "checkpoints"};
  struct CheckpointDone {
    bool complete = false;                ///< every WAL frame there was is in journal.db, synced
    std::optional<std::uint64_t> oldest;  ///< the oldest row's location read before it began, else the log's end then
    int frames = 0;                       ///< the WAL frames it copied
  };
  std::mutex checkpoint_mutex;
  std::optional<CheckpointDone> checkpoint_done;
  bool checkpoint_running = false;  // writer thread
  int caught_up_to = -1;  // writer thread: frames a completed checkpoint copied, until the writer copies the rest
  void take_checkpoint();

  void read_on(ReadThread& reads, FeedRead read);
  void feed_read(FeedRead read) { read_on(feed, std::move(read)); }

  void run_reads(ReadThread& reads);

  void stop_reads(ReadThread& reads);
};

}  // namespace switchyard::journal
