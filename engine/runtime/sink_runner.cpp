#include "runtime/sink_runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "journal/codec.hpp"
#include "journal/journal.hpp"
#include "metrics/registry.hpp"
#include "runtime/drops.hpp"
#include "runtime/held_payload.hpp"
#include "runtime/pipeline.hpp"

namespace switchyard::runtime {
namespace {

constexpr const char* kDeliveredHelp = "Events this sink delivered.";
constexpr const char* kFailuresHelp = "Failed delivery attempts of this sink, by reason (retryable, permanent).";
constexpr const char* kLatencyHelp = "Seconds from the source receiving an event to this sink's success.";

// A delivery's callback carries its slot and the slot's generation in one word, so that
// with the runner pointer it fits std::function's small buffer (no allocation per
// delivery) and a callback from an earlier delivery of the slot is recognised.
std::uint64_t ticket(std::uint32_t index, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | index;
}

}  // namespace

SinkRunner::SinkRunner(PipelineHooks& owner, const config::SinkConfig& config, std::string label, Strand strand)
    : host(config, std::move(label)), owner_(owner), config_(config), strand_(std::move(strand)), slots_(config.concurrency),
      rng_(std::random_device{}()) {
  for (std::size_t i = config.concurrency; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
}

SinkRunner::~SinkRunner() = default;

bool SinkRunner::idle() const {
  return queue_.empty() && free_.size() == slots_.size() && !cursor_.catching_up && delayed_in_memory_only_ == 0;
}

bool SinkRunner::settled_in_journal() const {
  if (idle()) return true;
  if (cursor_.journal == nullptr || delayed_in_memory_only_ != 0) return false;
  bool backing_off = false;
  std::vector<bool> free(slots_.size(), false);
  for (const auto index : free_) free[index] = true;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (free[i]) continue;
    if (!slots_[i].backing_off || slots_[i].entry.seq == 0) return false;
    backing_off = true;
  }
  if (!backing_off) return false;
  return std::all_of(queue_.begin(), queue_.end(), [](const Entry& e) { return e.seq != 0; });
}

void SinkRunner::register_metrics() {
  auto& m = host.context().metrics();
  delivered_metric_ = &m.counter(metrics::names::kDelivered, kDeliveredHelp);
  retryable_metric_ = &m.counter(metrics::names::kFailures, kFailuresHelp, {{"reason", "retryable"}});
  permanent_metric_ = &m.counter(metrics::names::kFailures, kFailuresHelp, {{"reason", "permanent"}});
  latency_metric_ = &m.histogram(metrics::names::kLatency, kLatencyHelp);
  filtered_metric_ = &m.counter(kDroppedMetric, kDroppedHelp, {{"reason", "filtered"}});
  dead_lettered_metric_ = &m.counter(kDroppedMetric, kDroppedHelp, {{"reason", "dead_lettered"}});
}

void SinkRunner::bind(journal::Journal* journal, std::int64_t pipeline_id, std::uint64_t bit) {
  cursor_.journal = journal;
  cursor_.pipeline_id = pipeline_id;
  cursor_.bit = bit;
}

void SinkRunner::arrive(std::uint64_t seq, EventPtr event, std::int64_t dlq_id, std::shared_ptr<DeliveryWait> wait) {
  if (seq != 0) {
    if (seq <= cursor_.loaded_through || cursor_.catching_up) {  // read (or to be read) from the journal
      if (cursor_.catching_up) skipped_through_ = std::max(skipped_through_, seq);
      return;
    }
    if (full()) {
      cursor_.catching_up = true;
      cursor_.read_from = seq;
      return;
    }
  }
  push(seq, std::move(event), dlq_id, std::move(wait));
  queued_.store(queue_.size() + delayed_.size(), std::memory_order_relaxed);
  dispatch();
}

void SinkRunner::recover() {
  if (!cursor_.journal) return;
  ++read_generation_;  // a read in flight started from elsewhere
  reading_ = false;
  cursor_.catching_up = true;
  cursor_.read_from = 0;
  cursor_.held = false;
  dispatch();
}

void SinkRunner::hold() {
  if (!cursor_.journal) return;
  ++read_generation_;
  reading_ = false;
  cursor_.catching_up = true;
  cursor_.read_from = 0;
  cursor_.held = true;
}

void SinkRunner::cancel_timers() {
  for (auto& slot : slots_) {
    if (slot.timer) slot.timer->cancel();
  }
  if (refill_timer_) refill_timer_->cancel();
  if (delay_timer_) delay_timer_->cancel();
  stopped_ = true;
}

SinkStats SinkRunner::stats() const {
  SinkStats s;
  s.name = config_.name;
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.retried = retried_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.dead_lettered = dead_lettered_.load(std::memory_order_relaxed);
  s.skipped = skipped_.load(std::memory_order_relaxed);
  s.queued = queued_.load(std::memory_order_relaxed);
  return s;
}

void SinkRunner::dispatch() {
  if (dispatching_ || stopped_) return;
  dispatching_ = true;
  release_due();
  for (;;) {
    while (!free_.empty() && !queue_.empty()) {
      auto next = queue_.begin();
      if (config_.ordered) {
        // The oldest event whose key has nothing in flight or delayed ahead of it.
        next = std::find_if(queue_.begin(), queue_.end(), [&](const Entry& e) {
          return !busy_.contains(e.key) && !delayed_keys_.contains(e.key);
        });
        if (next == queue_.end()) break;
        busy_.insert(next->key);
      }
      const std::uint32_t index = free_.back();
      free_.pop_back();
      Slot& slot = slots_[index];
      slot.entry = std::move(*next);
      queue_.erase(next);
      waiting_bytes_ -= slot.entry.bytes;
      slot.attempt = slot.entry.attempts;  // a restart resumes the count
      attempt(index);
    }
    // Refill the window from the journal when it runs low.
    if (!cursor_.catching_up || cursor_.held || queue_.size() > config_.queue_size / 2 || over_bytes(2) ||
        !refill()) {
      break;
    }
  }
  queued_.store(queue_.size() + delayed_.size(), std::memory_order_relaxed);
  dispatching_ = false;
}

// Delayed events (a transform such as rate_limit set not_before) wait in delayed_, by due
// time, outside the window: they neither fill the queue nor hold back other events.
// The ones now due go to the front of the queue, oldest due first.
void SinkRunner::release_due() {
  if (delayed_.empty()) return;
  const auto end = delayed_.upper_bound(std::chrono::system_clock::now());
  std::vector<Entry> due;
  for (auto it = delayed_.begin(); it != end; ++it) due.push_back(std::move(it->second));
  delayed_.erase(delayed_.begin(), end);
  for (auto it = due.rbegin(); it != due.rend(); ++it) {
    if (config_.ordered) delayed_keys_.erase(delayed_keys_.find(it->key));
    if (it->seq == 0) --delayed_in_memory_only_;
    queue_.push_front(std::move(*it));
  }
  if (!delayed_.empty()) wake_at(delayed_.begin()->first);
}

// Dispatches again at `when` (system clock), unless a wake-up at or before it is set.
void SinkRunner::wake_at(std::chrono::system_clock::time_point when) {
  if (delay_due_ && *delay_due_ <= when) return;
  delay_due_ = when;
  if (!delay_timer_) delay_timer_ = std::make_unique<StrandTimer>(strand_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(when - std::chrono::system_clock::now());
  // The timer drops the callback once re-armed, cancelled or destroyed with this runner.
  delay_timer_->expires_after(std::max(wait, std::chrono::milliseconds(0)), [this] {
    delay_due_.reset();
    dispatch();
  });
}

void SinkRunner::push(std::uint64_t seq, EventPtr event, std::int64_t dlq_id, std::shared_ptr<DeliveryWait> wait,
                      std::uint32_t attempts, bool shelved) {
  std::string key;
  if (config_.ordered && config_.order_key) {
    // The key may come from the payload: a deferred one is parsed for it (should that
    // fail, the event is dead-lettered when its turn comes).
    if (shelved && unshelve_payload(event)) shelved = false;
    config_.order_key->render_string(*event, key);
  }
  outstanding_.fetch_add(1, std::memory_order_relaxed);
  const bool delayed = event->not_before != std::chrono::system_clock::time_point{} &&
                       event->not_before > std::chrono::system_clock::now();
  // One that will wait keeps only its received bytes meanwhile (runtime/held_payload.hpp):
  // a large one always, a smaller one when the wait is long or the window is filling.
  if (!shelved && (delayed || !queue_.empty() || free_.empty())) {
    shelved = shelve_payload(event, delayed || over_bytes(4) ? kShelveTreesFrom : kShelveAlwaysFrom);
  }
  const std::size_t bytes = event->memory_size();
  waiting_bytes_ += bytes;
  if (delayed) {
    const auto due = event->not_before;
    if (config_.ordered) delayed_keys_.insert(key);
    if (seq == 0) ++delayed_in_memory_only_;
    delayed_.emplace(due, Entry{seq, std::move(event), std::move(key), dlq_id, std::move(wait), bytes, attempts, shelved});
    wake_at(due);
    return;
  }
  queue_.push_back(Entry{seq, std::move(event), std::move(key), dlq_id, std::move(wait), bytes, attempts, shelved});
}

void SinkRunner::attempt(std::uint32_t index) {
  Slot& slot = slots_[index];
  ++slot.attempt;
  const std::uint64_t t = ticket(index, ++slot.generation);
  if (std::exchange(slot.entry.shelved, false) && host.reads_payload()) {
    // Its bytes parsed once before (the source's parser, or the journal's): should they
    // not now, the event is not deliverable, and the dead-letter queue keeps the bytes.
    // A sink that reads only the bytes (Sink::reads_payload) has it as they are.
    if (auto parsed = unshelve_payload(slot.entry.event); !parsed) return complete(index, parsed.error());
  }
  // From its second attempt at this sink on, the event says which attempt it is (the
  // CloudEvents extension `attempt`: 2, 3, ...; absent on the first). Other sinks share the
  // event, so this sink gets a copy: a copy per retry, nothing on a first delivery.
  if (const std::uint32_t shown = slot.attempt >= 2 ? slot.attempt : 0; slot.entry.event->attempt != shown) {
    auto copy = slot.entry.event->clone();
    copy->attempt = shown;
    slot.entry.event = std::move(copy);
  }
  SinkRunner* self = this;
  host.deliver(slot.entry.event, [self, t](Status status) { self->report(t, std::move(status)); });
}

// A delivery's outcome, from any thread: handled inline on the strand, else posted there
// with the pipeline kept alive until it runs.
void SinkRunner::report(std::uint64_t t, Status status) {
  auto handle = [this, t](Status s) {
    const auto index = static_cast<std::uint32_t>(t & 0xffffffffu);
    if (stopped_ || slots_[index].generation != static_cast<std::uint32_t>(t >> 32)) return;
    ++slots_[index].generation;  // this delivery is answered: a second call is ignored
    complete(index, std::move(s));
  };
  if (strand_.running_in_this_thread()) return handle(std::move(status));
  asio::post(strand_, [alive = owner_.keep_alive(), handle, status = std::move(status)]() mutable {
    handle(std::move(status));
  });
}

// Starts a read of the backlog on the journal's reader thread (never a file read on this
// strand); its rows come back here (take()), which dispatches again. False: nothing to
// deliver yet.
bool SinkRunner::refill() {
  if (delayed_.size() >= delayed_limit()) return false;  // read on once some fall due
  if (reading_) return false;                            // its rows dispatch again
  const std::size_t room = config_.queue_size - queue_.size();
  reading_ = true;
  const std::uint64_t generation = ++read_generation_;
  const std::uint64_t read_to = cursor_.read_to;
  cursor_.journal->pending_async(
      cursor_.pipeline_id, cursor_.bit, cursor_.read_from, room, read_to,
      [this, alive = owner_.keep_alive(), generation, room, read_to](Result<std::vector<journal::Pending>> rows) mutable {
        asio::post(strand_, [this, alive = std::move(alive), generation, room, read_to, rows = std::move(rows)]() mutable {
          if (generation != read_generation_) return;  // recover() or hold() started over
          reading_ = false;
          if (stopped_) return;
          take(std::move(rows), room, read_to);
          dispatch();
        });
      });
  return false;
}

void SinkRunner::take(Result<std::vector<journal::Pending>> rows, std::size_t room, std::uint64_t read_to) {
  if (!rows) {
    // The read failed (I/O error): try again shortly rather than spin.
    owner_.logger().error("{}: reading the journal failed ({}); retrying in 1 s", host.label(), rows.error().message);
    if (!refill_timer_) refill_timer_ = std::make_unique<StrandTimer>(strand_);
    refill_timer_->expires_after(std::chrono::seconds(1), [this] { dispatch(); });
    return;
  }
  std::size_t read = 0;
  for (auto& row : *rows) {
    // The window also ends at queue_bytes: the rest is read again next time.
    if (full()) break;
    ++read;
    cursor_.read_from = row.seq + 1;
    cursor_.loaded_through = row.seq;
    // Parsed when its turn comes: until then it waits as the stored bytes.
    auto event = journal::decode_event(row.body, journal::Payload::deferred);
    if (!event) {
      // Not deliverable, but not to be lost either: the DLQ keeps the stored bytes.
      dead_lettered_.fetch_add(1, std::memory_order_relaxed);
      if (dead_lettered_metric_) dead_lettered_metric_->inc();
      owner_.logger().error("{}: journal entry {} cannot be read ({}); moved to the dead-letter queue", host.label(),
                            row.seq, event.error().message);
      cursor_.journal->dead_letter(
          journal::Failure{.pipeline = owner_.pipeline_name(), .sink = config_.name, .error = event.error().message},
          row.seq, cursor_.bit, {});
      continue;
    }
    push(row.seq, EventPtr(std::move(*event)), 0, nullptr, row.attempts, /*shelved=*/true);
  }
  // Caught up when the read came back short, unless live events skipped while it ran are
  // newer than what it read (committed after it began): those are read next. A read
  // limited to a sequence number (limit_reads: a version being replaced reads no further
  // than what was committed before its successor took over) covered everything up to that
  // limit when it came back short, whether or not this sink's last row is that number:
  // the numbers are the journal's, shared with other pipelines and sinks.
  const bool limited = read_to != JournalCursor::kNoLimit;
  const std::uint64_t covered = limited ? std::max(read_to, cursor_.loaded_through) : cursor_.loaded_through;
  if (read == rows->size() && rows->size() < room && std::min(skipped_through_, cursor_.read_to) <= covered) {
    cursor_.catching_up = false;  // live events arrive in memory again
  }
  if (!cursor_.catching_up) owner_.on_sink_progress();
}

void SinkRunner::complete(std::uint32_t index, Status status) {
  Slot& slot = slots_[index];
  if (status) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    delivered_metric_->inc();
    tap(slot, EventTap::Outcome::delivered);
    latency_metric_->observe(
        std::chrono::duration<double>(std::chrono::system_clock::now() - slot.entry.event->time).count());
    if (cursor_.journal) {
      cursor_.journal->complete(slot.entry.seq, cursor_.bit);
      cursor_.journal->replay_done(slot.entry.dlq_id);
    }
    return finish(index);
  }
  failed_.fetch_add(1, std::memory_order_relaxed);
  const Error& error = status.error();
  (error.kind == ErrorKind::retryable ? retryable_metric_ : permanent_metric_)->inc();
  owner_.note_error(host.label() + ": " + error.message);
  // The event's age counts from when its source saw it, across queueing and restarts.
  const auto age = std::chrono::system_clock::now() - slot.entry.event->time;
  const auto delay = backoff(slot, error);
  const bool can_retry = error.kind == ErrorKind::retryable && slot.attempt < config_.retry.max_attempts &&
                         age + delay < config_.retry.max_age;
  if (can_retry) return retry_later(index, error, delay);
  tap(slot, EventTap::Outcome::dead_lettered, error.message);
  dead_letter(slot.entry, slot.attempt, error);
  if (slot.entry.seq == 0 && slot.entry.wait && cursor_.journal) {
    // An event never journaled whose source answers once its sinks are through (a
    // JetStream message, acknowledged then; a webhook with acknowledge: delivered): the
    // dead letter is its only copy, so the source hears only once that is committed (the
    // writer keeps the order: this empty record commits after it).
    // Not kept (disk full): the source hears a failure and keeps the event (JetStream
    // redelivers it) rather than an acknowledgement for an event nobody has.
    auto wait = std::move(slot.entry.wait);
    cursor_.journal->append(cursor_.pipeline_id, 0, {}, {},
                            [this, alive = owner_.keep_alive(), wait](Result<std::uint64_t> committed) {
                              Status status = committed ? Status{} : Status(committed.error());
                              asio::post(strand_, [alive, wait, status = std::move(status)]() mutable {
                                wait->one_done(std::move(status));
                              });
                            });
  }
  finish(index);
}

void SinkRunner::retry_later(std::uint32_t index, const Error& error, std::chrono::milliseconds delay) {
  Slot& slot = slots_[index];
  tap(slot, EventTap::Outcome::failed, error.message);
  retried_.fetch_add(1, std::memory_order_relaxed);
  // One warning per sink per kRetryWarnEvery: a sink that is down would otherwise write a
  // line per attempt of every event. The others go to debug, counted in the next warning.
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_retry_warning_) {
    next_retry_warning_ = now + kRetryWarnEvery;
    owner_.logger().warn("{}: event {} attempt {} failed ({}), retrying in {} ms{}", host.label(), slot.entry.event->id,
                         slot.attempt, error.message, delay.count(),
                         quiet_retries_ == 0 ? std::string()
                                             : "; " + std::to_string(quiet_retries_) +
                                                   " other retries since the last warning were logged at debug");
    quiet_retries_ = 0;
  } else {
    ++quiet_retries_;
    owner_.logger().debug("{}: event {} attempt {} failed ({}), retrying in {} ms", host.label(), slot.entry.event->id,
                          slot.attempt, error.message, delay.count());
  }
  // Kept in the journal, so max_attempts still holds after a restart.
  if (cursor_.journal && slot.entry.seq != 0) cursor_.journal->attempted(slot.entry.seq, cursor_.bit, slot.attempt);
  if (!slot.timer) slot.timer = std::make_unique<StrandTimer>(strand_);
  // Dropped once cancelled (stop) or destroyed with this runner.
  slot.backing_off = true;
  slot.timer->expires_after(delay, [this, index] {
    slots_[index].backing_off = false;
    if (!stopped_) attempt(index);
  });
  // Meanwhile the event keeps only its bytes, once the sink has let go of it (a turn later;
  // should it still hold it then, the event stays as it is).
  asio::post(strand_, [this, alive = owner_.keep_alive(), index, generation = slot.generation] {
    Slot& waiting = slots_[index];
    if (!stopped_ && waiting.generation == generation && !waiting.entry.shelved) {
      waiting.entry.shelved = shelve_payload(waiting.entry.event);
    }
  });
  dispatch();
  owner_.on_sink_progress();
}

// The slot's event is done with (delivered or dead-lettered): the slot takes the next one.
void SinkRunner::finish(std::uint32_t index) {
  Slot& slot = slots_[index];
  if (config_.ordered) busy_.erase(slot.entry.key);
  if (slot.entry.wait) slot.entry.wait->one_done();
  slot.entry = {};
  free_.push_back(index);
  outstanding_.fetch_sub(1, std::memory_order_relaxed);
  dispatch();
  owner_.on_sink_progress();
}

void SinkRunner::tap(const Slot& slot, EventTap::Outcome outcome, std::string_view error) {
  if (auto* recent = owner_.tap()) {
    recent->outcome(owner_.pipeline_name(), config_.name, *slot.entry.event, outcome, slot.attempt, error);
  }
}

void SinkRunner::dead_letter(const Entry& entry, std::uint32_t attempts, const Error& error) {
  dead_lettered_.fetch_add(1, std::memory_order_relaxed);
  if (dead_lettered_metric_) dead_lettered_metric_->inc();
  const Event& event = *entry.event;
  if (!cursor_.journal) {
    owner_.logger().error("{}: event {} given up after {} attempt(s): {} ({}); no state.dir, so it is lost",
                          host.label(), event.id, attempts, error.message, to_string(error.kind));
    return;
  }
  owner_.logger().error("{}: event {} moved to the dead-letter queue after {} attempt(s): {} ({})", host.label(),
                        event.id, attempts, error.message, to_string(error.kind));
  cursor_.journal->dead_letter(journal::Failure{.pipeline = owner_.pipeline_name(),
                                                .sink = config_.name,
                                                .event_id = event.id,
                                                .type = event.type,
                                                .error = error.message,
                                                .attempts = attempts,
                                                .replaces = entry.dlq_id},
                               entry.seq, cursor_.bit, entry.seq ? std::string() : journal::encode_event(event));
}

std::chrono::milliseconds SinkRunner::backoff(const Slot& slot, const Error& error) {
  // Full jitter: uniform in [0, min(max, initial * 2^(attempt-1))].
  // https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
  const auto& retry = config_.retry;
  const int shift = static_cast<int>(std::min<std::uint32_t>(slot.attempt - 1, 30));
  const double ceiling = std::min<double>(static_cast<double>(retry.max.count()),
                                          static_cast<double>(retry.initial.count()) * (1u << shift));
  std::uniform_real_distribution<double> dist(0, ceiling);
  auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(dist(rng_)));
  if (error.retry_after && *error.retry_after > delay) delay = *error.retry_after;
  return delay;
}

}  // namespace switchyard::runtime
