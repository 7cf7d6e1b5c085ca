#include "runtime/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <random>

#include "log/logging.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"

namespace switchyard::runtime {
namespace {

using Clock = std::chrono::steady_clock;

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
                   const std::string& pipeline, Strand strand, Services& services,
                   Emitter& emitter) {
  stage.config = &config;
  stage.label = std::move(label);
  stage.context = std::make_unique<ComponentContext>(pipeline, config.name, std::move(strand),
                                                     services, emitter);
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
class SinkRunner {
 public:
  SinkRunner(PipelineRuntime& pipeline, const config::SinkConfig& config, Strand strand)
      : pipeline_(pipeline), config_(config), strand_(std::move(strand)),
        slots_(config.concurrency), rng_(std::random_device{}()) {
    for (std::size_t i = config.concurrency; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
  }

  Stage stage;

  bool full() const { return queue_.size() >= config_.queue_size; }
  bool idle() const { return queue_.empty() && free_.size() == slots_.size(); }
  const config::SinkConfig& config() const { return config_; }

  void enqueue(EventPtr event) {
    queue_.push_back(std::move(event));
    outstanding_.fetch_add(1, std::memory_order_relaxed);
    queued_.store(queue_.size(), std::memory_order_relaxed);
    dispatch();
  }

  void skip() { skipped_.fetch_add(1, std::memory_order_relaxed); }

  // Cancels retry waits; queued events stay (they are reported as not delivered).
  void cancel_timers() {
    for (auto& slot : slots_) {
      if (slot.timer) slot.timer->cancel();
    }
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
  struct Slot {
    EventPtr event;
    std::uint32_t attempt = 0;
    Clock::time_point first_attempt;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void dispatch() {
    if (dispatching_) return;  // a synchronous sink completed inside attempt(); the loop goes on
    dispatching_ = true;
    while (!free_.empty() && !queue_.empty()) {
      const std::uint32_t index = free_.back();
      free_.pop_back();
      Slot& slot = slots_[index];
      slot.event = std::move(queue_.front());
      queue_.pop_front();
      slot.attempt = 0;
      slot.first_attempt = Clock::now();
      attempt(index);
    }
    queued_.store(queue_.size(), std::memory_order_relaxed);
    dispatching_ = false;
  }

  void attempt(std::uint32_t index) {
    Slot& slot = slots_[index];
    ++slot.attempt;
    auto* sink = static_cast<Sink*>(stage.component.get());
    // The callback is two words so it fits std::function's small buffer: no allocation.
    SinkRunner* self = this;
    try {
      sink->deliver(slot.event, [self, index](Status status) { self->report(index, std::move(status)); });
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
  std::chrono::milliseconds backoff(const Slot& slot, const Error& error);

  PipelineRuntime& pipeline_;
  const config::SinkConfig& config_;
  Strand strand_;
  std::deque<EventPtr> queue_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  bool dispatching_ = false;
  std::mt19937_64 rng_;
  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, failed_{0}, dead_lettered_{0}, skipped_{0};
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> outstanding_{0};
};

class PipelineRuntime final : public Pipeline,
                              public Emitter,
                              public std::enable_shared_from_this<PipelineRuntime> {
 public:
  PipelineRuntime(std::shared_ptr<const config::PipelineConfig> config, Services& services)
      : config_(std::move(config)), io_(services.io), state_(services), strand_(services.io.make_strand()),
        source_strand_(services.io.make_strand()), log_(log::make(config_->name)) {}

  // --- Pipeline ---
  Status build() override {
    const auto& c = *config_;
    for (std::size_t i = 0; i < c.sinks.size(); ++i) {
      auto runner = std::make_unique<SinkRunner>(*this, c.sinks[i], strand_);
      if (Status s = build_stage(runner->stage, c.sinks[i],
                                 "sinks[" + std::to_string(i) + "] '" + c.sinks[i].name + "'",
                                 c.name, strand_, state_, refusing_);
          !s) {
        return s;
      }
      sinks_.push_back(std::move(runner));
    }
    for (std::size_t i = 0; i < c.transforms.size(); ++i) {
      Stage stage;
      if (Status s = build_stage(stage, c.transforms[i],
                                 "transforms[" + std::to_string(i) + "] '" + c.transforms[i].name + "'",
                                 c.name, strand_, state_, refusing_);
          !s) {
        return s;
      }
      transforms_.push_back(std::move(stage));
    }
    return build_stage(source_, c.source, "source '" + c.source.name + "'", c.name,
                       source_strand_, state_, *this);
  }

  Status start() override {
    std::vector<Stage*> order;
    for (auto& sink : sinks_) order.push_back(&sink->stage);
    for (auto& t : transforms_) order.push_back(&t);
    order.push_back(&source_);
    for (std::size_t i = 0; i < order.size(); ++i) {
      Stage& stage = *order[i];
      if (&stage == &source_) {
        // Sinks and transforms are up: a source may emit from inside its start().
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
        for (std::size_t j = i; j-- > 0;) stop_stage(*order[j]);
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
    run_on(strand_, [&] {
      for (auto& t : transforms_) stop_stage(t);
      for (auto& sink : sinks_) {
        sink->cancel_timers();
        if (sink->stage.component) stop_stage(sink->stage);
      }
    });
    const std::size_t left = in_flight();
    if (left > 0) {
      log_->warn("stopped with {} event(s) not delivered", left);
    }
  }

  const std::string& name() const override { return config_->name; }

  PipelineStats stats() const override {
    PipelineStats s;
    s.received = received_.load(std::memory_order_relaxed);
    s.refused = refused_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.transform_errors = transform_errors_.load(std::memory_order_relaxed);
    for (const auto& sink : sinks_) s.sinks.push_back(sink->stats());
    return s;
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
      if (!accepting_ || queued_.load(std::memory_order_relaxed) >= config_->queue_size) {
        const bool stopping = !accepting_;
        refused_.fetch_add(1, std::memory_order_relaxed);
        if (done) {
          done(stopping ? retryable("pipeline is stopping")
                        : retryable("pipeline saturated", std::chrono::milliseconds(1000)));
        }
        return;
      }
      ingress_.push_back(std::move(event));
      queued_.fetch_add(1, std::memory_order_relaxed);
      schedule = !scheduled_;
      scheduled_ = true;
    }
    received_.fetch_add(1, std::memory_order_relaxed);
    if (schedule) asio::post(strand_, [self = shared_from_this()] { self->process(); });
    if (done) done({});
  }

  bool saturated() const override {
    return queued_.load(std::memory_order_relaxed) >= config_->queue_size;
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

 private:
  static constexpr std::size_t kBatch = 512;  // events per strand turn, for fairness

  void process() {
    processing_ = true;
    {
      std::lock_guard lock(mutex_);
      for (auto& e : ingress_) pending_.push_back(std::move(e));
      ingress_.clear();
      scheduled_ = false;
    }
    std::size_t budget = kBatch;
    while (!pending_.empty() && budget-- > 0) {
      if (std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->full(); })) {
        blocked_ = true;
        break;
      }
      std::unique_ptr<Event> event = std::move(pending_.front());
      pending_.pop_front();
      handle(std::move(event));
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    processing_ = false;
    if (!pending_.empty() && !blocked_) {
      asio::post(strand_, [self = shared_from_this()] { self->process(); });
    }
    wake_waiters();
    check_drained();
  }

  void handle(std::unique_ptr<Event> event) {
    for (auto& t : transforms_) {
      Result<Verdict> verdict = Verdict::keep;
      try {
        verdict = static_cast<Transform&>(*t.component).apply(*event);
      } catch (const std::exception& ex) {
        verdict = permanent(std::string("threw: ") + ex.what());
      } catch (...) {
        verdict = permanent("threw a non-standard exception");
      }
      if (!verdict) {
        transform_errors_.fetch_add(1, std::memory_order_relaxed);
        log_->warn("{}: event {} failed: {}", t.label, event->id, verdict.error().message);
        return;
      }
      if (*verdict == Verdict::drop) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
    EventPtr shared(std::move(event));
    for (auto& sink : sinks_) {
      const auto& condition = sink->config().condition;
      if (condition && !condition->evaluate(*shared)) {
        sink->skip();
        continue;
      }
      sink->enqueue(shared);
    }
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
  Strand strand_;         // transforms, sinks and the queues between them
  Strand source_strand_;  // the source's own callbacks
  std::shared_ptr<spdlog::logger> log_;
  RefusingEmitter refusing_;

  Stage source_;
  std::vector<Stage> transforms_;
  std::vector<std::unique_ptr<SinkRunner>> sinks_;
  bool started_ = false;

  // Ingress: written by the source from any thread.
  std::mutex mutex_;
  std::vector<std::unique_ptr<Event>> ingress_;
  std::vector<std::function<void()>> waiters_;
  bool scheduled_ = false;
  bool accepting_ = false;
  std::atomic<std::size_t> queued_{0};  // ingress + pending

  // Strand-only state.
  std::deque<std::unique_ptr<Event>> pending_;
  bool blocked_ = false;
  bool processing_ = false;
  std::function<void()> drained_;

  std::atomic<std::uint64_t> received_{0}, refused_{0}, dropped_{0}, transform_errors_{0};
};

void SinkRunner::complete(std::uint32_t index, Status status) {
  Slot& slot = slots_[index];
  bool finished = true;
  if (status) {
    delivered_.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    const Error& error = status.error();
    const auto age = Clock::now() - slot.first_attempt;
    const auto delay = backoff(slot, error);
    const bool can_retry = error.kind == ErrorKind::retryable &&
                           slot.attempt < config_.retry.max_attempts &&
                           age + delay < config_.retry.max_age;
    if (can_retry) {
      finished = false;
      retried_.fetch_add(1, std::memory_order_relaxed);
      pipeline_.logger().warn("{}: event {} attempt {} failed ({}), retrying in {} ms", stage.label,
                              slot.event->id, slot.attempt, error.message, delay.count());
      if (!slot.timer) slot.timer = std::make_unique<asio::steady_timer>(strand_);
      slot.timer->expires_after(delay);
      slot.timer->async_wait([this, index](const boost::system::error_code& ec) {
        if (!ec) attempt(index);
      });
    } else {
      // TODO(dlq): hand the event to the dead-letter queue once the journal exists (issue 6).
      dead_lettered_.fetch_add(1, std::memory_order_relaxed);
      pipeline_.logger().error("{}: event {} given up after {} attempt(s): {} ({})", stage.label,
                               slot.event->id, slot.attempt, error.message, to_string(error.kind));
    }
  }
  if (finished) {
    slot.event.reset();
    free_.push_back(index);
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
  }
  dispatch();
  pipeline_.on_sink_progress();
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
