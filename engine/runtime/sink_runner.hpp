#pragma once
// Internal: delivers a pipeline's events to one sink — a bounded window of events,
// `concurrency` delivery slots, retries with exponential back-off and full jitter, delayed
// events held apart until due, and (durable pipelines) a cursor into the journal, which is
// the sink's real queue. Lives on the pipeline's strand.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "runtime/component_host.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline_hooks.hpp"

namespace switchyard::journal {
class Journal;
}

namespace switchyard::runtime {

struct SinkStats;

/// Where a durable sink reads its events from the journal when they are not in memory.
/// With a journal, the in-memory window is only a view of it: an event that arrives while
/// the window is full is not kept (it is durable), the cursor notes where reading must
/// resume ("catching up"), and the runner reads it back once it has room.
struct JournalCursor {
  journal::Journal* journal = nullptr;
  std::int64_t pipeline_id = 0;
  std::uint64_t bit = 0;             // this sink's bit in the pipeline's masks
  bool catching_up = false;          // events from read_from on are read from the journal
  bool held = false;                 // catching up, but not reading yet (hot reload)
  std::uint64_t read_from = 0;
  static constexpr std::uint64_t kNoLimit = ~std::uint64_t{0} >> 1;  // as Pipeline::kNoReadLimit
  std::uint64_t read_to = kNoLimit;  // the previous version of a reloaded pipeline stops here
  std::uint64_t loaded_through = 0;  // journaled events up to here were read back already
};

/// The sinks still at work on an event emitted with Emitter::emit_until_done; the last one
/// to deliver or dead-letter it answers the source. Lives on the pipeline's strand.
class DeliveryWait {
 public:
  /// `answer` runs once every sink is through, with the first failure among them (a dead
  /// letter that could not be kept), else success.
  DeliveryWait(std::size_t sinks, std::function<void(Status)> answer) : left_(sinks), answer_(std::move(answer)) {}
  void one_done(Status status = {}) {
    if (!status && status_) status_ = std::move(status);
    if (left_ > 0 && --left_ == 0 && answer_) std::exchange(answer_, nullptr)(std::move(status_));
  }

 private:
  std::size_t left_;
  Status status_;
  std::function<void(Status)> answer_;
};

class SinkRunner {
 public:
  /// `label` names the sink in messages ("sinks[1] 'alert'").
  SinkRunner(PipelineHooks& owner, const config::SinkConfig& config, std::string label, Strand strand);
  ~SinkRunner();

  ComponentHost host;

  /// Delayed events held in memory beyond the window, at most: past it the sink is full.
  std::size_t delayed_limit() const { return config_.queue_size * 8; }
  /// The window is full: queue_size events, or queue_bytes of their memory (one event
  /// larger than that is still taken alone), or too many delayed events.
  bool full() const {
    return queue_.size() >= config_.queue_size || delayed_.size() >= delayed_limit() || over_bytes(1);
  }
  /// Nothing queued or in flight. Journaled events delayed until later do not count: the
  /// journal keeps them for the next version or the next start.
  bool idle() const;
  /// What a durable pipeline's drain waits for: idle(), or no delivery under way, only
  /// slots waiting out a retry back-off, and every event held journaled. A sink that is
  /// failing holds no shutdown for its whole timeout: its events stay in the journal for
  /// the next start (or the next version of the pipeline).
  bool settled_in_journal() const;
  const config::SinkConfig& config() const { return config_; }
  /// Whether this sink needs an event's payload parsed: its `if:` or `order_key` may read
  /// it, or the sink itself does (Sink::reads_payload). Once configured.
  bool reads_payload() const { return host.reads_payload() || config_.condition || config_.order_key; }

  /// Creates this sink's series (once its host is configured).
  void register_metrics();
  /// Journal identity, set when the pipeline attaches to the journal.
  void bind(journal::Journal* journal, std::int64_t pipeline_id, std::uint64_t bit);
  std::uint64_t bit() const { return cursor_.bit; }

  /// An event for this sink; `seq` is its journal sequence number, 0 when not journaled.
  /// Journaled events arrive in sequence order. `dlq_id`: a replayed dead-letter entry of a
  /// memory pipeline, removed from the DLQ once this sink is done with the event.
  /// `wait`: the event's emit_until_done countdown, told once this sink is done with it.
  void arrive(std::uint64_t seq, EventPtr event, std::int64_t dlq_id = 0, std::shared_ptr<DeliveryWait> wait = nullptr);
  /// Reads what the journal holds for this sink from the start (after a restart).
  void recover();
  /// Like recover(), but nothing is read until recover() is called (hot reload).
  void hold();
  /// Reads nothing committed after `seq` (the previous version of a reloaded pipeline).
  void limit_reads(std::uint64_t seq) { cursor_.read_to = seq; }
  /// Its `if:` did not select an event.
  void skip() {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    if (filtered_metric_) filtered_metric_->inc();
  }
  /// Cancels retry and delay waits and stops dispatching (and taking outcomes and backlog
  /// reads); queued events stay (in the journal, when there is one).
  void cancel_timers();

  SinkStats stats() const;
  /// Events queued or in flight; safe from any thread.
  std::size_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    EventPtr event;
    std::string key;          // ordered sinks: events with one key are delivered one at a time
    std::int64_t dlq_id = 0;  // a memory pipeline's replay: its DLQ entry, until done
    std::shared_ptr<DeliveryWait> wait;  // emit_until_done: told when this sink is done
    std::size_t bytes = 0;               // the event's memory, counted while it waits
    std::uint32_t attempts = 0;          // failed attempts before this run (from the journal)
    bool shelved = false;                // `data` is parsed from the raw bytes when its turn comes
  };
  struct Slot {
    Entry entry;
    std::uint32_t attempt = 0;
    std::uint32_t generation = 0;  // of the delivery in flight: a late or repeated callback is ignored
    std::unique_ptr<StrandTimer> timer;  // retry back-off
    bool backing_off = false;            // waiting for `timer`, no delivery under way
  };

  /// Waiting events (queued or delayed) hold at least queue_bytes / `fraction`.
  bool over_bytes(std::size_t fraction) const {
    return (!queue_.empty() || !delayed_.empty()) && config_.queue_bytes > 0 &&
           waiting_bytes_ >= config_.queue_bytes / fraction;
  }
  void dispatch();
  void release_due();
  void wake_at(std::chrono::system_clock::time_point when);
  bool refill();
  void take(Result<std::vector<journal::Pending>> rows, std::size_t room, std::uint64_t read_to);
  /// `shelved`: the event's payload is its raw bytes only (runtime/held_payload.hpp).
  void push(std::uint64_t seq, EventPtr event, std::int64_t dlq_id = 0, std::shared_ptr<DeliveryWait> wait = nullptr,
            std::uint32_t attempts = 0, bool shelved = false);
  void attempt(std::uint32_t index);
  void report(std::uint64_t ticket, Status status);
  void complete(std::uint32_t index, Status status);
  void retry_later(std::uint32_t index, const Error& error, std::chrono::milliseconds delay);
  void finish(std::uint32_t index);
  void tap(const Slot& slot, EventTap::Outcome outcome, std::string_view error = {});
  void dead_letter(const Entry& entry, std::uint32_t attempts, const Error& error);
  std::chrono::milliseconds backoff(const Slot& slot, const Error& error);

  PipelineHooks& owner_;
  const config::SinkConfig& config_;
  Strand strand_;
  std::deque<Entry> queue_;
  std::size_t waiting_bytes_ = 0;  // of the events in queue_ and delayed_
  std::unordered_set<std::string> busy_;  // ordered: keys with a delivery in flight
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  bool dispatching_ = false;  // a synchronous sink completed inside attempt(); the loop goes on
  bool stopped_ = false;
  std::mt19937_64 rng_;

  JournalCursor cursor_;
  std::unique_ptr<StrandTimer> refill_timer_;
  // A backlog read on the journal's reader thread is in flight (its rows come back to the
  // strand); a result of an older generation (recover() or hold() since) is dropped.
  bool reading_ = false;
  std::uint64_t read_generation_ = 0;
  std::uint64_t skipped_through_ = 0;  // the newest live event skipped while catching up
  // Retry warnings: at most one per kRetryWarnEvery, the rest at debug.
  static constexpr std::chrono::seconds kRetryWarnEvery{10};
  std::chrono::steady_clock::time_point next_retry_warning_{};
  std::size_t quiet_retries_ = 0;

  // Delayed events by due time (insertion order among equal times), and for ordered sinks
  // their keys: later events of such a key wait behind them.
  std::multimap<std::chrono::system_clock::time_point, Entry> delayed_;
  std::unordered_multiset<std::string> delayed_keys_;
  std::size_t delayed_in_memory_only_ = 0;  // of delayed_, those not in the journal (seq 0)
  std::unique_ptr<StrandTimer> delay_timer_;  // the next delayed event falls due
  std::optional<std::chrono::system_clock::time_point> delay_due_;

  Counter* delivered_metric_ = nullptr;
  Counter* retryable_metric_ = nullptr;
  Counter* permanent_metric_ = nullptr;
  Histogram* latency_metric_ = nullptr;
  Counter* filtered_metric_ = nullptr;       // switchyard_events_dropped_total{reason="filtered"}: its if:
  Counter* dead_lettered_metric_ = nullptr;  // {reason="dead_lettered"}

  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dead_lettered_{0}, skipped_{0};
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> outstanding_{0};
};

}  // namespace switchyard::runtime
