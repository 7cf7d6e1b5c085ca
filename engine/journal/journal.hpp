#pragma once
// The journal: the embedded store behind the delivery promise (contract section 7).
//
// The events' stored forms are appended once to the event log, `state.dir/events/`
// (event_log.hpp), and one SQLite database in WAL mode, `state.dir/journal.db`, holds
//   events    one row per accepted event still wanted by some sink, with a bit mask of the
//             sinks that have not finished with it (each sink's own delivery state) and
//             where its body is in the log,
//   dlq       deliveries given up on, with the last error, until replayed or dropped,
//   state     the components' key-value state with expiry.
// A single writer thread applies every change in order and commits in groups: whatever
// queued up while the previous commit was being synced goes into the next transaction,
// so throughput does not pay one fsync per event. Completion callbacks run on the writer
// thread after the commit; callers post them to their own strands.
//
// The journal is also each sink's overflow queue: a sink that falls behind stops keeping
// events in memory and reads them back from here, oldest first (pending()).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::journal {

struct Options {
  std::filesystem::path dir;
  /// Refuse new events once the live data reaches this many bytes (0: no cap).
  std::uint64_t max_bytes = 0;
  /// true: fsync on every commit (survives power loss); false: survives a process crash only.
  bool fsync = true;
  /// How long closing keeps retrying commits that fail (a read-only or failing disk) when
  /// no stop_by() deadline was set; then what could not be committed is given up.
  std::chrono::milliseconds stop_timeout{30'000};
  /// Size at which the event log starts its next segment file.
  std::uint64_t segment_bytes = std::uint64_t{8} << 20;
  /// WAL pages of journal.db after which a commit has it checkpointed (SQLite's default).
  int checkpoint_pages = 1000;
};

/// A pipeline's identity in the journal: its id and one bit per sink, in configuration order.
struct PipelineKey {
  std::int64_t id = 0;
  std::uint64_t token = 0;  ///< This attachment, for detach().
  std::vector<std::uint64_t> sink_bits;
  std::vector<std::string> warnings;  ///< What attach() did that an operator should know.
};

/// What the dead-letter queue records about a delivery given up on.
struct Failure {
  std::string pipeline;
  std::string sink;
  std::string event_id;
  std::string type;
  std::string error;
  std::uint32_t attempts = 0;
  std::int64_t replaces = 0;  ///< a replayed dead-letter entry this one takes the place of
};

/// A dead-letter queue entry (`switchyard dlq`, the admin API, dead-letter feeds).
struct DeadLetter {
  std::int64_t id = 0;
  std::string pipeline;
  std::string sink;
  std::string event_id;
  std::string type;
  std::uint32_t attempts = 0;
  std::string error;
  std::int64_t failed_at_ms = 0;  ///< Unix milliseconds.
  bool replay_requested = false;
  std::string body;  ///< encode_event() form; filled by get() and read_dead_letters() only.
};


/// A change to a component's state, made durable in order with the events.
struct StateWrite {
  std::string key;  ///< remember: the key's fingerprint (runtime/key_set.hpp), 16 bytes
  std::string value;
  std::int64_t expires_ms = 0;  ///< Unix milliseconds; 0: never.
  bool erase = false;
  bool remember = false;  ///< a remembered key (StateStore::remember), kept apart from the entries
};
using StateWrites = std::vector<StateWrite>;

struct StateEntry {
  std::string key;
  std::string value;
  std::int64_t expires_ms = 0;
};

/// A remembered key's fingerprint and when it expires (Unix ms; 0: never).
struct RememberedEntry {
  std::string fingerprint;
  std::int64_t expires_ms = 0;
};

/// A journaled event a sink has not finished with.
struct Pending {
  std::uint64_t seq = 0;
  std::string body;           ///< encode_event() form.
  std::uint32_t attempts = 0;  ///< the sink's failed attempts at it so far (attempted())
};

/// A dead-lettered event an operator asked to replay, back for one sink. `seq` is 0 when the
/// pipeline keeps events in memory (nothing was journaled).
struct Replay {
  std::string sink;
  std::uint64_t seq = 0;
  std::string body;
  /// Memory pipelines (seq 0): the dead-letter entry, which stays in the DLQ, marked as in
  /// flight, until the sink is done with the event (replay_done(), or a new dead letter
  /// that replaces it). Should the pipeline stop first, the entry is requested again.
  std::int64_t dlq_id = 0;
};

struct Stats {
  std::uint64_t commits = 0;   ///< Transactions committed (one fsync each when fsync is on).
  std::uint64_t appended = 0;  ///< Events made durable.
  std::uint64_t bytes_used = 0;
  bool full = false;
  std::uint64_t checkpoints = 0;  ///< Checkpoints of journal.db's WAL run (each syncs journal.db).
};

class Journal {
 public:
  /// Opens (creating when absent) the journal in `options.dir`. A damaged or foreign file is
  /// an error that names it; nothing is overwritten.
  static Result<std::unique_ptr<Journal>> open(const Options& options);
  /// Commits what is queued, then closes.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::filesystem::path& file() const;

  /// Registers a running pipeline and its sinks (bits are kept across restarts). Deliveries
  /// still pending for sinks that are no longer configured move to the dead-letter queue,
  /// unless `replacing` (a hot reload: the previous version may still be delivering them;
  /// they move at the next start). `on_replay` (writer thread) receives dead-lettered
  /// events an operator replays; the latest attachment of a name gets them.
  Result<PipelineKey> attach(const std::string& pipeline, const std::vector<std::string>& sinks,
                             bool durable, std::function<void(Replay)> on_replay, bool replacing = false);
  /// Ends the attachment `token` of `pipeline` (a newer one stays).
  void detach(const std::string& pipeline, std::uint64_t token);
  /// Replays that attachment `token` (a memory pipeline) took and did not finish are
  /// requested again: for the pipeline's next version or its next start. Call once its
  /// sinks no longer deliver.
  void requeue_replays(std::uint64_t token);
  /// The sequence number of the latest committed event.
  std::uint64_t last_committed() const;

  /// Makes an event durable for the sinks in `mask`, together with `writes`; `done` gets its
  /// sequence number once committed, or a retryable error (disk full, I/O error). The stored
  /// form is `body` followed by `body_rest` (encode_event_pieces()), which is not copied: it
  /// must stay as it is until `done` runs (and `done` must be given with it).
  void append(std::int64_t pipeline, std::uint64_t mask, std::string body, StateWrites writes,
              std::function<void(Result<std::uint64_t>)> done, std::string_view body_rest = {});
  /// The sink with `bit` is done with event `seq`; the event goes once no sink wants it.
  void complete(std::uint64_t seq, std::uint64_t bit);
  /// The sink with `bit` has failed `attempts` times at event `seq` and will try again: kept
  /// (with the next commit) so a restart resumes the count (pending() returns it).
  void attempted(std::uint64_t seq, std::uint64_t bit, std::uint32_t attempts);
  /// Moves the delivery of `seq` to sink `bit` into the dead-letter queue. For an event that
  /// was never journaled (seq 0), `body` is stored instead.
  void dead_letter(Failure failure, std::uint64_t seq, std::uint64_t bit, std::string body);
  /// A replayed dead-letter entry of a memory pipeline (Replay::dlq_id) was delivered: it
  /// leaves the DLQ.
  void replay_done(std::int64_t dlq_id);
  /// Applies a state change in order with the events.
  void write_state(StateWrite write);

  /// Whether new events must be refused: live data at max_bytes, the last commit found the
  /// disk full (clears once space returns), or the journal's files were deleted or replaced
  /// under the running engine (until it restarts).
  bool full() const;
  /// Why the journal cannot keep events now, for readiness: its files were deleted or
  /// replaced, or commits fail (the last error). nullopt while it works.
  std::optional<std::string> problem() const;
  /// Closing gives up retrying failed commits at `deadline` (the engine's shutdown_timeout,
  /// counted from the start of its shutdown) instead of after Options::stop_timeout.
  void stop_by(std::chrono::steady_clock::time_point deadline);

  /// Up to `limit` events of `pipeline` still wanted by sink `bit`, from `from_seq` up to
  /// `to_seq`, oldest first. Thread-safe (its own connection).
  Result<std::vector<Pending>> pending(std::int64_t pipeline, std::uint64_t bit, std::uint64_t from_seq,
                                       std::size_t limit, std::uint64_t to_seq = ~std::uint64_t{0} >> 1);
  /// The same read on the journal's backlog reader thread (its own connection), for sinks:
  /// `done` runs there. Not called once the journal is closing.
  void pending_async(std::int64_t pipeline, std::uint64_t bit, std::uint64_t from_seq, std::size_t limit,
                     std::uint64_t to_seq, std::function<void(Result<std::vector<Pending>>)> done);
  /// Events of `pipeline` that a sink in `mask` has not finished with (committed so far).
  Result<std::int64_t> pending_count(std::int64_t pipeline, std::uint64_t mask);
  /// When the oldest event some sink has not finished with was received (Unix ms, from its
  /// envelope); nullopt when every sink is done.
  Result<std::optional<std::int64_t>> oldest_pending_ms();
  /// Per pipeline name, the events some sink has not finished with (committed so far).
  Result<std::vector<std::pair<std::string, std::int64_t>>> pending_by_pipeline();
  /// Every unexpired state entry.
  Result<std::vector<StateEntry>> load_state();
  /// Every unexpired remembered key.
  Result<std::vector<RememberedEntry>> load_remembered();

  /// Dead-letter feeds (runtime/dead_letter_feed.hpp, the `dlq` source). Reads run on the
  /// journal's own reader thread and connection (started on first use), never on the
  /// caller's: `done` runs there.
  /// Up to `limit` entries with an id above `after`, oldest first, with their bodies;
  /// entries an operator asked to replay are left out (they are being delivered again).
  void read_dead_letters(std::int64_t after, std::size_t limit,
                         std::function<void(Result<std::vector<DeadLetter>>)> done);
  /// The highest entry id (0 when the queue is empty); ids are never reused, so every entry
  /// recorded later has a greater one.
  void newest_dead_letter(std::function<void(Result<std::int64_t>)> done);
  /// Calls `recorded` once, on the writer thread, after the next commit that recorded a
  /// dead-letter entry (a read that starts then sees it).
  void when_dead_lettered(std::function<void()> recorded);

  /// Blocks until everything queued before the call is committed.
  void flush();
  Stats stats() const;

 private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The file name of the journal inside state.dir.
inline constexpr const char* kJournalFile = "journal.db";
/// The event log's directory inside state.dir.
inline constexpr const char* kEventLogDir = "events";

}  // namespace switchyard::journal
