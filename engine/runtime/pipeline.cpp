#include "runtime/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_set>
#include <vector>

#include "journal/codec.hpp"
#include "journal/journal.hpp"
#include "log/logging.hpp"
#include "runtime/component_context.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/io.hpp"
#include "runtime/replies.hpp"

namespace switchyard::runtime {

metrics::Registry& unscraped_metrics() {
  static metrics::Registry registry;
  return registry;
}

namespace {

constexpr const char* kReceivedHelp = "Events the pipeline accepted from this source.";
constexpr const char* kDeliveredHelp = "Events this sink delivered.";
constexpr const char* kFailuresHelp = "Failed delivery attempts of this sink, by reason (retryable, permanent).";
constexpr const char* kLatencyHelp = "Seconds from the source receiving an event to this sink's success.";

// A configured component with everything it borrows from the engine.
struct Stage {
  const config::ComponentConfig* config = nullptr;
  std::string label;  // "sinks[1] 'alert'", for messages
  std::unique_ptr<ComponentContext> context;
  std::unique_ptr<Options> options;
  std::unique_ptr<Component> component;
};

// Calls into a plugin; exceptions never escape into the engine.
template <class F>
Status guarded(const std::string& label, const char* what, F&& call) {
  try {
    Status status = call();
    if (!status) {
      Error e = status.error();
      e.message = label + ": " + what + " failed: " + e.message;
      return e;
    }
    return {};
  } catch (const std::exception& ex) {
    return permanent(label + ": " + what + " threw: " + ex.what());
  } catch (...) {
    return permanent(label + ": " + what + " threw a non-standard exception");
  }
}

Status build_stage(Stage& stage, const config::ComponentConfig& config, std::string label,
                   const config::PipelineConfig& pipeline, Strand strand, Services& services,
                   Emitter& emitter, Replies& replies) {
  stage.config = &config;
  stage.label = std::move(label);
  stage.context = std::make_unique<ComponentContext>(pipeline.name, config.name, std::move(strand), services,
                                                     emitter, replies, pipeline.durability == config::Durability::disk);
  stage.options = std::make_unique<Options>(*config.options, config.decl->options, config.templates.get());
  return guarded(stage.label, "configure", [&]() -> Status {
    stage.component = config.decl->create();
    if (!stage.component) return permanent("factory returned nothing");
    return stage.component->configure(*stage.options, *stage.context);
  });
}

class PipelineRuntime;

// Delivers events to one sink: a bounded queue, `concurrency` slots in flight, retries
// with exponential back-off and full jitter. Lives on the pipeline's strand.
//
// With a journal, the journal is the sink's real queue and the in-memory one a window
// onto it: an event that arrives while the window is full is not kept (it is durable),
// and the sink reads it back later, in order, once it has room ("catching up"). A slow
// or failing sink therefore never blocks the pipeline or the other sinks, and after a
// restart every sink starts by catching up on what it had not finished.
class SinkRunner {
 public:
  SinkRunner(PipelineRuntime& pipeline, const config::SinkConfig& config, Strand strand)
      : pipeline_(pipeline), config_(config), strand_(std::move(strand)),
        slots_(config.concurrency), rng_(std::random_device{}()) {
    for (std::size_t i = config.concurrency; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
  }

  Stage stage;

  /// Delayed events held in memory beyond the queue, at most: past it the sink is full.
  std::size_t delayed_limit() const { return config_.queue_size * 8; }
  bool full() const { return queue_.size() >= config_.queue_size || delayed_.size() >= delayed_limit(); }
  /// Nothing queued or in flight. Journaled events delayed until later do not count: the
  /// journal keeps them for the next version or the next start.
  bool idle() const {
    return queue_.empty() && free_.size() == slots_.size() && !catching_up_ && delayed_in_memory_only_ == 0;
  }
  const config::SinkConfig& config() const { return config_; }

  /// Creates this sink's series (after its context exists).
  void register_metrics() {
    auto& m = stage.context->metrics();
    delivered_metric_ = &m.counter(metrics::names::kDelivered, kDeliveredHelp);
    retryable_metric_ = &m.counter(metrics::names::kFailures, kFailuresHelp, {{"reason", "retryable"}});
    permanent_metric_ = &m.counter(metrics::names::kFailures, kFailuresHelp, {{"reason", "permanent"}});
    latency_metric_ = &m.histogram(metrics::names::kLatency, kLatencyHelp);
  }

  /// Journal identity, set when the pipeline attaches to the journal.
  void bind(journal::Journal* journal, std::int64_t pipeline_id, std::uint64_t bit) {
    journal_ = journal;
    pipeline_id_ = pipeline_id;
    bit_ = bit;
  }
  std::uint64_t bit() const { return bit_; }

  /// An event for this sink; `seq` is its journal sequence number, 0 when not journaled.
  /// Journaled events arrive in sequence order.
  /// `dlq_id`: a replayed dead-letter entry of a memory pipeline, removed from the DLQ once
  /// this sink is done with the event (Replay::dlq_id).
  void arrive(std::uint64_t seq, EventPtr event, std::int64_t dlq_id = 0) {
    if (seq != 0) {
      if (seq <= loaded_through_ || catching_up_) return;  // read (or to be read) from the journal
      if (full()) {
        catching_up_ = true;
        read_from_ = seq;
        return;
      }
    }
    push(seq, std::move(event), dlq_id);
    queued_.store(queue_.size() + delayed_.size(), std::memory_order_relaxed);
    dispatch();
  }

  /// Reads what the journal holds for this sink from the start (after a restart).
  void recover() {
    if (!journal_) return;
    catching_up_ = true;
    read_from_ = 0;
    held_ = false;
    dispatch();
  }
  /// Like recover(), but nothing is read until recover() is called (hot reload).
  void hold() {
    if (!journal_) return;
    catching_up_ = true;
    read_from_ = 0;
    held_ = true;
  }
  /// Reads nothing committed after `seq` (the previous version of a reloaded pipeline).
  void limit_reads(std::uint64_t seq) { read_to_ = seq; }

  void skip() { skipped_.fetch_add(1, std::memory_order_relaxed); }

  // Cancels retry waits; queued events stay (in the journal, when there is one).
  void cancel_timers() {
    for (auto& slot : slots_) {
      if (slot.timer) slot.timer->cancel();
    }
    if (refill_timer_) refill_timer_->cancel();
    if (delay_timer_) delay_timer_->cancel();
    stopped_ = true;
  }

  SinkStats stats() const {
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

  /// Events queued or in flight; safe from any thread.
  std::size_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::uint64_t seq = 0;
    EventPtr event;
    std::string key;  // ordered sinks: events with one key are delivered one at a time
    std::int64_t dlq_id = 0;  // a memory pipeline's replay: its DLQ entry, until done
  };
  struct Slot {
    Entry entry;
    std::uint32_t attempt = 0;
    std::unique_ptr<StrandTimer> timer;  // retry back-off
  };

  void dispatch() {
    if (dispatching_ || stopped_) return;  // a synchronous sink completed inside attempt(); the loop goes on
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
        slot.attempt = 0;
        attempt(index);
      }
      // Refill the window from the journal when it runs low.
      if (!catching_up_ || held_ || queue_.size() > config_.queue_size / 2 || !refill()) break;
    }
    queued_.store(queue_.size() + delayed_.size(), std::memory_order_relaxed);
    dispatching_ = false;
  }

  // Delayed events (a transform such as rate_limit set not_before) wait in delayed_, by due
  // time, outside the window: they neither fill the queue nor hold back other events.
  // The ones now due go to the front of the queue, oldest due first.
  void release_due() {
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
  void wake_at(std::chrono::system_clock::time_point when) {
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

  // Reads the next events for this sink from the journal; false when nothing was added.
  bool refill();

  void push(std::uint64_t seq, EventPtr event, std::int64_t dlq_id = 0) {
    std::string key;
    if (config_.ordered && config_.order_key) config_.order_key->render_string(*event, key);
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    if (event->not_before != std::chrono::system_clock::time_point{} &&
        event->not_before > std::chrono::system_clock::now()) {
      const auto due = event->not_before;
      if (config_.ordered) delayed_keys_.insert(key);
      if (seq == 0) ++delayed_in_memory_only_;
      delayed_.emplace(due, Entry{seq, std::move(event), std::move(key), dlq_id});
      wake_at(due);
      return;
    }
    queue_.push_back(Entry{seq, std::move(event), std::move(key), dlq_id});
  }

  void attempt(std::uint32_t index) {
    Slot& slot = slots_[index];
    ++slot.attempt;
    auto* sink = static_cast<Sink*>(stage.component.get());
    // The callback is two words so it fits std::function's small buffer: no allocation.
    SinkRunner* self = this;
    try {
      sink->deliver(slot.entry.event, [self, index](Status status) { self->report(index, std::move(status)); });
    } catch (const std::exception& ex) {
      report(index, permanent(std::string("deliver threw: ") + ex.what()));
    } catch (...) {
      report(index, permanent("deliver threw a non-standard exception"));
    }
  }

  void report(std::uint32_t index, Status status) {
    if (strand_.running_in_this_thread()) {
      complete(index, std::move(status));
    } else {
      asio::post(strand_, [this, index, status = std::move(status)]() mutable {
        complete(index, std::move(status));
      });
    }
  }

  void complete(std::uint32_t index, Status status);
  void tap(const Slot& slot, EventTap::Outcome outcome, std::string_view error = {});
  void dead_letter(const Entry& entry, std::uint32_t attempts, const Error& error);
  std::chrono::milliseconds backoff(const Slot& slot, const Error& error);

  PipelineRuntime& pipeline_;
  const config::SinkConfig& config_;
  Strand strand_;
  std::deque<Entry> queue_;
  std::unordered_set<std::string> busy_;  // ordered: keys with a delivery in flight
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  bool dispatching_ = false;
  bool stopped_ = false;
  std::mt19937_64 rng_;

  // Journal: this sink's bit in its pipeline, and the catch-up cursor.
  journal::Journal* journal_ = nullptr;
  std::int64_t pipeline_id_ = 0;
  std::uint64_t bit_ = 0;
  bool catching_up_ = false;        // events from read_from_ on are read from the journal
  bool held_ = false;               // catching up, but not reading yet (hot reload)
  std::uint64_t read_from_ = 0;
  std::uint64_t read_to_ = ~std::uint64_t{0} >> 1;
  std::uint64_t loaded_through_ = 0;  // journaled events up to here were read back already
  std::unique_ptr<StrandTimer> refill_timer_;
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

  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dead_lettered_{0}, skipped_{0};
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> outstanding_{0};
};

class PipelineRuntime final : public Pipeline,
                              public Emitter,
                              public std::enable_shared_from_this<PipelineRuntime> {
 public:
  PipelineRuntime(std::shared_ptr<const config::PipelineConfig> config, Services& services)
      : config_(std::move(config)), io_(services.io), state_(services), journal_(services.journal),
        durable_(journal_ && config_->durability == config::Durability::disk),
        strand_(services.io.make_strand()), source_strand_(services.io.make_strand()),
        replies_(services.io.make_strand()), log_(log::make(config_->name)) {}

  // --- Pipeline ---
  Status build() override {
    const auto& c = *config_;
    for (std::size_t i = 0; i < c.sinks.size(); ++i) {
      auto runner = std::make_unique<SinkRunner>(*this, c.sinks[i], strand_);
      if (Status s = build_stage(runner->stage, c.sinks[i],
                                 "sinks[" + std::to_string(i) + "] '" + c.sinks[i].name + "'",
                                 c, strand_, state_, refusing_, replies_);
          !s) {
        return s;
      }
      runner->register_metrics();
      sinks_.push_back(std::move(runner));
    }
    for (std::size_t i = 0; i < c.transforms.size(); ++i) {
      Stage stage;
      if (Status s = build_stage(stage, c.transforms[i],
                                 "transforms[" + std::to_string(i) + "] '" + c.transforms[i].name + "'",
                                 c, strand_, state_, refusing_, replies_);
          !s) {
        return s;
      }
      transforms_.push_back(std::move(stage));
    }
    Status s = build_stage(source_, c.source, "source '" + c.source.name + "'", c, source_strand_, state_, *this,
                           replies_);
    if (s) received_metric_ = &source_.context->metrics().counter(metrics::names::kReceived, kReceivedHelp);
    return s;
  }

  Status start() override {
    std::vector<Stage*> order;
    for (auto& sink : sinks_) order.push_back(&sink->stage);
    for (auto& t : transforms_) order.push_back(&t);
    order.push_back(&source_);
    for (std::size_t i = 0; i < order.size(); ++i) {
      Stage& stage = *order[i];
      if (&stage == &source_) {
        // Sinks are up: resume what the journal holds for them, then let the source emit
        // (it may do so from inside its start()).
        if (Status s = attach_journal(); !s) {
          for (std::size_t j = i; j-- > 0;) stop_stage(*order[j]);
          return s;
        }
        std::lock_guard lock(mutex_);
        accepting_ = true;
      }
      Status s = run_on(stage.context->strand(), [&] {
        return guarded(stage.label, "start", [&] { return stage.component->start(); });
      });
      if (!s) {
        {
          std::lock_guard lock(mutex_);
          accepting_ = false;
        }
        if (journal_ && attached_) journal_->detach(config_->name, key_.token);
        for (std::size_t j = i; j-- > 0;) stop_stage(*order[j]);
        if (journal_ && attached_) journal_->requeue_replays(key_.token);
        return s;
      }
    }
    started_ = true;
    return {};
  }

  void drain(std::function<void()> done) override {
    auto self = shared_from_this();
    asio::post(source_strand_, [self, done = std::move(done)]() mutable {
      auto after_source = [self, done = std::move(done)]() mutable {
        {
          std::lock_guard lock(self->mutex_);
          self->accepting_ = false;
        }
        asio::post(self->strand_, [self, done = std::move(done)]() mutable {
          self->drained_ = std::move(done);
          self->check_drained();
        });
      };
      if (!self->started_ || !self->source_.component) return after_source();
      try {
        self->source_.component->drain(std::move(after_source));
      } catch (...) {
        self->log_->error("source drain threw; stopping without it");
      }
    });
  }

  void stop() override {
    {
      std::lock_guard lock(mutex_);
      accepting_ = false;
    }
    if (source_.component) stop_stage(source_);
    if (journal_ && attached_) journal_->detach(config_->name, key_.token);
    run_on(strand_, [&] {
      stopped_ = true;
      for (auto& t : transforms_) stop_stage(t);
      for (auto& sink : sinks_) {
        sink->cancel_timers();
        if (sink->stage.component) stop_stage(sink->stage);
      }
    });
    replies_.close();  // no sink answers any more: the source's fallback answers go out
    // Dead-letter replays this memory pipeline held and did not deliver go back to the DLQ's
    // queue (its sinks deliver nothing from here on).
    if (journal_ && attached_ && !durable_) journal_->requeue_replays(key_.token);
    if (durable_ && attached_) {
      if (auto left = journal_->pending_count(key_.id, ~std::uint64_t{0} >> 1); left && *left > 0) {
        log_->info("stopped with {} event(s) not yet delivered to every sink; they stay in the journal "
                   "for the next start", *left);
      }
    } else if (const std::size_t left = in_flight(); left > 0) {
      log_->warn("stopped with {} event(s) not delivered", left);
    }
  }

  const std::string& name() const override { return config_->name; }

  // With a journal, even a memory pipeline may have journaled leftovers of a durable
  // predecessor: it holds too.
  void hold_deliveries() override { hold_ = journal_ != nullptr; }

  void release() override {
    if (!hold_) return;
    hold_ = false;
    journal_->flush();  // the previous version's completions are committed: none is read twice
    run_on(strand_, [&] {
      for (auto& sink : sinks_) sink->recover();
    });
  }

  void drain_for_replacement(std::function<void()> done, std::uint64_t last_seq) override {
    if (attached_) {
      run_on(strand_, [&] {
        for (auto& sink : sinks_) sink->limit_reads(last_seq);
      });
    }
    drain(std::move(done));
  }

  PipelineStats stats(bool backlog) const override {
    PipelineStats s;
    s.received = received_.load(std::memory_order_relaxed);
    s.refused = refused_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.transform_errors = transform_errors_.load(std::memory_order_relaxed);
    {
      std::lock_guard lock(error_mutex_);
      s.last_error = last_error_;
    }
    for (const auto& sink : sinks_) {
      SinkStats ss = sink->stats();
      ss.backlog = sink->outstanding();
      if (backlog && durable_ && attached_) {
        if (auto n = journal_->pending_count(key_.id, sink->bit()); n) ss.backlog = static_cast<std::size_t>(*n);
      }
      s.sinks.push_back(std::move(ss));
    }
    return s;
  }

  const config::PipelineConfig& config() const override { return *config_; }

  /// Remembers the latest failure for the admin API (any thread).
  void note_error(std::string what) {
    std::lock_guard lock(error_mutex_);
    last_error_ = format_rfc3339(std::chrono::system_clock::now()) + " " + std::move(what);
  }

  std::size_t in_flight() const override {
    std::size_t n = queued_.load();
    for (const auto& sink : sinks_) n += sink->outstanding();
    return n;
  }

  // --- Emitter (the source's view) ---
  void emit(std::unique_ptr<Event> event, EmitCallback done) override {
    if (!event) {
      if (done) done(permanent("emit: no event"));
      return;
    }
    if (event->id.empty()) event->id = make_event_id();
    if (event->time == std::chrono::system_clock::time_point{}) {
      event->time = std::chrono::system_clock::now();
    }
    event->pipeline = config_->name;
    bool schedule = false;
    {
      std::lock_guard lock(mutex_);
      auto refused = accepting_ ? refusal() : std::optional<Error>(retryable("pipeline is stopping"));
      if (refused) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        if (done) done(std::move(*refused));
        return;
      }
      // Durable: the source hears back once the event is in the journal. Memory: now.
      ingress_.push_back(Incoming{std::move(event), durable_ ? std::move(done) : EmitCallback()});
      queued_.fetch_add(1, std::memory_order_relaxed);
      schedule = !scheduled_;
      scheduled_ = true;
    }
    received_.fetch_add(1, std::memory_order_relaxed);
    received_metric_->inc();
    // Deferred, not posted: when the source runs on a pool thread (an HTTP handler), the
    // batch is processed by this same thread once the handler returns, instead of waking
    // another thread for it (a futex and an inter-processor interrupt per request).
    if (schedule) asio::defer(strand_, [self = shared_from_this()] { self->process(); });
    if (done && !durable_) done({});
  }

  bool saturated() const override { return refusal().has_value(); }

  // The one place that decides whether the pipeline takes events (emit, saturated, HTTP
  // sources' 503 answers).
  std::optional<Error> refusal() const override {
    if (durable_ && journal_->full()) {
      return retryable("journal is full (state.max_bytes or the disk)", std::chrono::seconds(5));
    }
    if (queued_.load(std::memory_order_relaxed) >= config_->queue_size) {
      return retryable("pipeline is saturated", std::chrono::seconds(1));
    }
    return std::nullopt;
  }

  void when_ready(std::function<void()> ready) override {
    {
      std::lock_guard lock(mutex_);
      if (queued_.load(std::memory_order_relaxed) >= config_->queue_size) {
        waiters_.push_back(std::move(ready));
        return;
      }
    }
    source_.context->executor().post(std::move(ready));
  }

  // --- called by sink runners, on the strand ---
  void on_sink_progress() {
    if (blocked_ && !processing_) {
      blocked_ = false;
      asio::post(strand_, [self = shared_from_this()] { self->process(); });
    }
    check_drained();
  }
  spdlog::logger& logger() { return *log_; }
  EventTap* tap() const { return state_.tap.get(); }
  const std::string& pipeline_name() const { return config_->name; }

 private:
  static constexpr std::size_t kBatch = 512;  // events per strand turn, for fairness

  struct Incoming {
    std::unique_ptr<Event> event;
    EmitCallback done;  // durable pipelines only: answered once the event is journaled
  };

  // Registers with the journal and makes every sink catch up on what it holds.
  Status attach_journal() {
    if (!journal_) return {};
    std::vector<std::string> names;
    for (const auto& sink : config_->sinks) names.push_back(sink.name);
    std::weak_ptr<PipelineRuntime> weak = weak_from_this();
    auto key = journal_->attach(
        config_->name, names, durable_,
        [weak](journal::Replay replay) {
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, replay = std::move(replay)]() mutable { self->replayed(std::move(replay)); });
          }
        },
        /*replacing=*/hold_);
    if (!key) return Error{key.error().kind, "journal: " + key.error().message, std::nullopt};
    for (const auto& warning : key->warnings) log_->warn("{}", warning);
    key_ = std::move(*key);
    attached_ = true;
    run_on(strand_, [&] {
      for (std::size_t i = 0; i < sinks_.size(); ++i) {
        sinks_[i]->bind(journal_, key_.id, key_.sink_bits[i]);
        if (hold_) {
          sinks_[i]->hold();
        } else {
          sinks_[i]->recover();
        }
      }
      bound_ = true;
      for (auto& replay : std::exchange(early_replays_, {})) replayed(std::move(replay));
    });
    return {};
  }

  // A dead-lettered event an operator replayed, for one sink.
  void replayed(journal::Replay replay) {
    if (stopped_) return;  // still journaled (or back in the DLQ's hands at the next start)
    // Replays can be handed over while attach_journal() is still binding the sinks; a
    // journaled one is then read back by the sinks' recovery, so taking it here would
    // deliver it twice.
    if (replay.seq != 0 && !bound_) return;
    // A memory pipeline's replay exists only here: it waits until the sinks know the
    // journal (to take it out of the DLQ once delivered).
    if (!bound_) return early_replays_.push_back(std::move(replay));
    auto event = journal::decode_event(replay.body);
    auto sink = std::find_if(sinks_.begin(), sinks_.end(),
                             [&](const auto& s) { return s->config().name == replay.sink; });
    if (!event || sink == sinks_.end()) return;
    log_->info("event {} replayed from the dead-letter queue to sink '{}'", (*event)->id, replay.sink);
    (*sink)->arrive(replay.seq, EventPtr(std::move(*event)), replay.dlq_id);
  }

  void process() {
    if (stopped_) return;  // nothing runs through stopped components
    processing_ = true;
    {
      std::lock_guard lock(mutex_);
      for (auto& e : ingress_) pending_.push_back(std::move(e));
      ingress_.clear();
      scheduled_ = false;
    }
    std::size_t budget = kBatch;
    while (!pending_.empty() && budget-- > 0) {
      // In memory, a full sink pushes back on the whole pipeline; with a journal it reads
      // its overflow back later instead.
      if (!durable_ && std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->full(); })) {
        blocked_ = true;
        break;
      }
      Incoming incoming = std::move(pending_.front());
      pending_.pop_front();
      if (handle(std::move(incoming))) queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    processing_ = false;
    if (!pending_.empty() && !blocked_) {
      asio::post(strand_, [self = shared_from_this()] { self->process(); });
    }
    wake_waiters();
    check_drained();
  }

  // Runs the transforms and hands the event to its sinks. Returns false when the event
  // is still on its way into the journal (it leaves the ingress count once committed).
  bool handle(Incoming incoming) {
    Event& event = *incoming.event;
    journal::StateWrites writes;
    const bool kept = [&] {
      std::optional<StateWriteCapture> capture;
      if (durable_) capture.emplace(writes);
      return transform(event);
    }();
    if (state_.tap) state_.tap->accepted(config_->name, event, kept);
    std::uint64_t mask = 0;
    std::vector<SinkRunner*> selected;
    if (kept) {
      for (auto& sink : sinks_) {
        const auto& condition = sink->config().condition;
        if (condition && !condition->evaluate(event)) {
          sink->skip();
          continue;
        }
        selected.push_back(sink.get());
        mask |= sink->bit();
      }
    }
    if (!durable_) {
      EventPtr shared(std::move(incoming.event));
      for (auto* sink : selected) sink->arrive(0, shared);
      return true;
    }
    if (selected.empty()) {
      // Nothing to deliver: only the transforms' state changes need the journal.
      if (!writes.empty()) journal_->append(key_.id, 0, {}, std::move(writes), nullptr);
      acknowledge(std::move(incoming.done), {});
      return true;
    }
    std::string body = journal::encode_event(event);
    std::vector<std::string> keys;
    for (const auto& w : writes) keys.push_back(w.key);
    auto self = shared_from_this();
    journal_->append(
        key_.id, mask, std::move(body), std::move(writes),
        [self, event = EventPtr(std::move(incoming.event)), selected = std::move(selected),
         done = std::move(incoming.done), keys = std::move(keys)](Result<std::uint64_t> seq) mutable {
          asio::post(self->strand_, [self, event = std::move(event), selected = std::move(selected),
                                     done = std::move(done), keys = std::move(keys),
                                     seq = std::move(seq)]() mutable {
            self->committed(seq, event, selected, std::move(done), keys);
          });
        });
    return false;
  }

  // The journal has the event (or failed to take it): deliver and acknowledge the source.
  void committed(const Result<std::uint64_t>& seq, const EventPtr& event,
                 const std::vector<SinkRunner*>& selected, EmitCallback done,
                 const std::vector<std::string>& keys) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    if (!seq) {
      // The source is told to retry; state the transforms recorded for this event would
      // otherwise make its redelivery look like a duplicate.
      for (const auto& key : keys) state_.state.forget(key);
      log_->warn("event {} refused: {}", event->id, seq.error().message);
      note_error(seq.error().message);
      acknowledge(std::move(done), seq.error());
    } else {
      if (!stopped_) {
        for (auto* sink : selected) sink->arrive(*seq, event);
      }
      acknowledge(std::move(done), {});
    }
    wake_waiters();
    check_drained();
  }

  // Runs the transforms over `event`; false when one dropped it or failed.
  bool transform(Event& event) {
    for (auto& t : transforms_) {
      Result<Verdict> verdict = Verdict::keep;
      try {
        verdict = static_cast<Transform&>(*t.component).apply(event);
      } catch (const std::exception& ex) {
        verdict = permanent(std::string("threw: ") + ex.what());
      } catch (...) {
        verdict = permanent("threw a non-standard exception");
      }
      if (!verdict) {
        transform_errors_.fetch_add(1, std::memory_order_relaxed);
        log_->warn("{}: event {} failed: {}", t.label, event.id, verdict.error().message);
        note_error(t.label + ": " + verdict.error().message);
        return false;
      }
      if (*verdict == Verdict::drop) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
    return true;
  }

  // Answers the source on its own strand.
  void acknowledge(EmitCallback done, Status status) {
    if (!done) return;
    source_.context->executor().post([done = std::move(done), status = std::move(status)]() mutable {
      done(std::move(status));
    });
  }

  void wake_waiters() {
    std::vector<std::function<void()>> wake;
    {
      std::lock_guard lock(mutex_);
      if (waiters_.empty() || queued_.load(std::memory_order_relaxed) > config_->queue_size / 2) return;
      wake.swap(waiters_);
    }
    for (auto& w : wake) source_.context->executor().post(std::move(w));
  }

  void check_drained() {
    if (!drained_ || queued_.load() != 0) return;
    for (const auto& sink : sinks_) {
      if (!sink->idle()) return;
    }
    auto done = std::move(drained_);
    drained_ = nullptr;
    done();
  }

  void stop_stage(Stage& stage) {
    run_on(stage.context->strand(), [&] {
      try {
        stage.component->stop();
      } catch (const std::exception& ex) {
        log_->error("{}: stop threw: {}", stage.label, ex.what());
      } catch (...) {
        log_->error("{}: stop threw", stage.label);
      }
      stage.context->close();
    });
  }

  std::shared_ptr<const config::PipelineConfig> config_;
  Io& io_;
  Services& state_;
  journal::Journal* journal_;  // nullptr: no state.dir (tests); events stay in memory
  const bool durable_;         // events are journaled before the source is acknowledged
  journal::PipelineKey key_;
  bool attached_ = false;
  bool hold_ = false;  // hot reload: sinks wait for release()
  Strand strand_;         // transforms, sinks and the queues between them
  Strand source_strand_;  // the source's own callbacks
  PipelineReplies replies_;  // requests the source parked for a reply sink
  std::shared_ptr<spdlog::logger> log_;
  RefusingEmitter refusing_;

  Stage source_;
  std::vector<Stage> transforms_;
  std::vector<std::unique_ptr<SinkRunner>> sinks_;
  bool started_ = false;

  // Ingress: written by the source from any thread.
  std::mutex mutex_;
  std::vector<Incoming> ingress_;
  std::vector<std::function<void()>> waiters_;
  bool scheduled_ = false;
  bool accepting_ = false;
  std::atomic<std::size_t> queued_{0};  // ingress + pending + on the way into the journal

  // Strand-only state.
  std::deque<Incoming> pending_;
  bool blocked_ = false;
  bool processing_ = false;
  bool stopped_ = false;
  bool bound_ = false;  // sinks know their journal bits (attach_journal)
  std::vector<journal::Replay> early_replays_;  // memory replays handed over before that
  std::function<void()> drained_;

  Counter* received_metric_ = nullptr;
  std::atomic<std::uint64_t> received_{0}, refused_{0}, dropped_{0}, transform_errors_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

bool SinkRunner::refill() {
  if (delayed_.size() >= delayed_limit()) return false;  // read on once some fall due
  const std::size_t room = config_.queue_size - queue_.size();
  auto rows = journal_->pending(pipeline_id_, bit_, read_from_, room, read_to_);
  if (!rows) {
    // The read failed (I/O error): try again shortly rather than spin.
    pipeline_.logger().error("{}: reading the journal failed ({}); retrying in 1 s", stage.label,
                             rows.error().message);
    if (!refill_timer_) refill_timer_ = std::make_unique<StrandTimer>(strand_);
    refill_timer_->expires_after(std::chrono::seconds(1), [this] { dispatch(); });
    return false;
  }
  for (auto& row : *rows) {
    auto event = journal::decode_event(row.body);
    if (!event) {
      // Not deliverable, but not to be lost either: the DLQ keeps the stored bytes.
      dead_lettered_.fetch_add(1, std::memory_order_relaxed);
      pipeline_.logger().error("{}: journal entry {} cannot be read ({}); moved to the dead-letter queue",
                               stage.label, row.seq, event.error().message);
      journal_->dead_letter(journal::Failure{.pipeline = pipeline_.pipeline_name(), .sink = config_.name,
                                             .error = event.error().message},
                            row.seq, bit_, {});
      continue;
    }
    push(row.seq, EventPtr(std::move(*event)));
  }
  if (!rows->empty()) {
    read_from_ = rows->back().seq + 1;
    loaded_through_ = rows->back().seq;
  }
  if (rows->size() < room) catching_up_ = false;  // caught up: live events arrive in memory again
  if (!catching_up_) pipeline_.on_sink_progress();
  return !rows->empty();
}

void SinkRunner::complete(std::uint32_t index, Status status) {
  Slot& slot = slots_[index];
  if (stopped_) return;  // the journal keeps it for the next start
  bool finished = true;
  if (status) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
    delivered_metric_->inc();
    tap(slot, EventTap::Outcome::delivered);
    latency_metric_->observe(
        std::chrono::duration<double>(std::chrono::system_clock::now() - slot.entry.event->time).count());
    if (journal_) {
      journal_->complete(slot.entry.seq, bit_);
      journal_->replay_done(slot.entry.dlq_id);
    }
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    const Error& error = status.error();
    (error.kind == ErrorKind::retryable ? retryable_metric_ : permanent_metric_)->inc();
    pipeline_.note_error(stage.label + ": " + error.message);
    // The event's age counts from when its source saw it, across queueing and restarts.
    const auto age = std::chrono::system_clock::now() - slot.entry.event->time;
    const auto delay = backoff(slot, error);
    const bool can_retry = error.kind == ErrorKind::retryable &&
                           slot.attempt < config_.retry.max_attempts &&
                           age + delay < config_.retry.max_age;
    if (can_retry) {
      finished = false;
      tap(slot, EventTap::Outcome::failed, error.message);
      retried_.fetch_add(1, std::memory_order_relaxed);
      pipeline_.logger().warn("{}: event {} attempt {} failed ({}), retrying in {} ms", stage.label,
                              slot.entry.event->id, slot.attempt, error.message, delay.count());
      if (!slot.timer) slot.timer = std::make_unique<StrandTimer>(strand_);
      // Dropped once cancelled (stop) or destroyed with this runner.
      slot.timer->expires_after(delay, [this, index] {
        if (!stopped_) attempt(index);
      });
    } else {
      tap(slot, EventTap::Outcome::dead_lettered, error.message);
      dead_letter(slot.entry, slot.attempt, error);
    }
  }
  if (finished) {
    if (config_.ordered) busy_.erase(slot.entry.key);
    slot.entry = {};
    free_.push_back(index);
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
  }
  dispatch();
  pipeline_.on_sink_progress();
}

void SinkRunner::tap(const Slot& slot, EventTap::Outcome outcome, std::string_view error) {
  if (auto* recent = pipeline_.tap()) {
    recent->outcome(pipeline_.pipeline_name(), config_.name, *slot.entry.event, outcome, slot.attempt, error);
  }
}

void SinkRunner::dead_letter(const Entry& entry, std::uint32_t attempts, const Error& error) {
  dead_lettered_.fetch_add(1, std::memory_order_relaxed);
  const Event& event = *entry.event;
  if (!journal_) {
    pipeline_.logger().error("{}: event {} given up after {} attempt(s): {} ({}); no state.dir, so it is lost",
                             stage.label, event.id, attempts, error.message, to_string(error.kind));
    return;
  }
  pipeline_.logger().error("{}: event {} moved to the dead-letter queue after {} attempt(s): {} ({})",
                           stage.label, event.id, attempts, error.message, to_string(error.kind));
  journal_->dead_letter(journal::Failure{.pipeline = pipeline_.pipeline_name(),
                                         .sink = config_.name,
                                         .event_id = event.id,
                                         .type = event.type,
                                         .error = error.message,
                                         .attempts = attempts,
                                         .replaces = entry.dlq_id},
                        entry.seq, bit_, entry.seq ? std::string() : journal::encode_event(event));
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

}  // namespace

std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<const config::PipelineConfig> config,
                                        Services& services) {
  return std::make_shared<PipelineRuntime>(std::move(config), services);
}

}  // namespace switchyard::runtime
