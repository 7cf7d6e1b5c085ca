#pragma once
// Part of the test harness (switchyard/testing.hpp): the engine's services as captures a
// test can read and drive — a logger that records lines, an executor with virtual time, an
// in-memory state store, an emitter that records what a source emits, metrics, parked
// requests and a dead-letter queue filled by hand.

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/component.hpp"
#include "switchyard/context.hpp"

namespace switchyard::testing {

/// One captured log line.
struct LogLine {
  LogLevel level;
  std::string message;
};

class CapturedLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return true; }
  void log(LogLevel level, std::string_view message) override {
    lines.push_back({level, std::string(message)});
  }
  /// Whether any line at `level` or above contains `needle`.
  bool contains(std::string_view needle, LogLevel level = LogLevel::trace) const {
    return std::any_of(lines.begin(), lines.end(), [&](const LogLine& l) {
      return l.level >= level && l.message.find(needle) != std::string::npos;
    });
  }
  std::vector<LogLine> lines;
};

/// Runs posted tasks and timers on the test's thread, in virtual time.
class ManualExecutor final : public Executor {
 public:
  class ManualTimer final : public Timer {
   public:
    explicit ManualTimer(ManualExecutor& owner) : owner_(owner) {}
    ~ManualTimer() override { cancel(); }
    void expires_after(std::chrono::milliseconds delay, std::function<void()> fired) override {
      cancel();
      id_ = owner_.schedule(owner_.now_ + delay, std::move(fired));
    }
    void cancel() override {
      if (id_ != 0) owner_.timers_.erase(id_);
      id_ = 0;
    }

   private:
    ManualExecutor& owner_;
    std::uint64_t id_ = 0;
  };

  // Readiness is real: run_pending() polls the watched descriptors (without blocking) and
  // runs the callbacks of those that are ready.
  class ManualFdWatch final : public FdWatch {
   public:
    ManualFdWatch(ManualExecutor& owner, int fd) : owner_(owner), fd_(fd) { owner_.watches_.push_back(this); }
    ~ManualFdWatch() override { std::erase(owner_.watches_, this); }
    void when_readable(std::function<void()> ready) override { readable_ = std::move(ready); }
    void when_writable(std::function<void()> ready) override { writable_ = std::move(ready); }
    void cancel() override {
      readable_ = nullptr;
      writable_ = nullptr;
    }

   private:
    friend class ManualExecutor;
    ManualExecutor& owner_;
    int fd_;
    std::function<void()> readable_, writable_;
  };

  /// From any thread, as the engine's executors take posts (a callback the engine runs on
  /// another thread posts back to the component's strand); the task runs in run_pending().
  void post(std::function<void()> task) override {
    std::lock_guard lock(tasks_mutex_);
    tasks_.push_back(std::move(task));
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<ManualTimer>(*this); }
  std::unique_ptr<FdWatch> watch(int fd) override { return std::make_unique<ManualFdWatch>(*this, fd); }

  /// Runs posted tasks, and the callbacks of watched descriptors that are ready, until
  /// none is left; returns how many ran.
  std::size_t run_pending() {
    std::size_t ran = 0;
    for (;;) {
      while (auto task = next_task()) {
        task();
        ++ran;
      }
      if (!poll_watches()) return ran;
      ++ran;
    }
  }

  /// Moves virtual time forward, firing due timers in order and running posted tasks.
  void advance(std::chrono::milliseconds by) {
    const auto until = now_ + by;
    run_pending();
    for (;;) {
      auto next = std::min_element(timers_.begin(), timers_.end(), [](auto& a, auto& b) {
        return a.second.due < b.second.due;
      });
      if (next == timers_.end() || next->second.due > until) break;
      now_ = next->second.due;
      auto fired = std::move(next->second.fired);
      timers_.erase(next);
      fired();
      run_pending();
    }
    now_ = until;
  }

  /// Virtual time since the harness started.
  std::chrono::milliseconds now() const { return now_; }
  std::size_t pending_timers() const { return timers_.size(); }

 private:
  struct Pending {
    std::chrono::milliseconds due;
    std::function<void()> fired;
  };
  // Posts the callbacks of ready descriptors; false when none was ready.
  bool poll_watches() {
    bool any = false;
    for (ManualFdWatch* w : std::vector<ManualFdWatch*>(watches_)) {
      if (!w->readable_ && !w->writable_) continue;
      pollfd p{w->fd_, static_cast<short>((w->readable_ ? POLLIN : 0) | (w->writable_ ? POLLOUT : 0)), 0};
      if (::poll(&p, 1, 0) <= 0) continue;
      if (w->readable_ && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
        post(std::exchange(w->readable_, nullptr));
        any = true;
      }
      if (w->writable_ && (p.revents & (POLLOUT | POLLHUP | POLLERR))) {
        post(std::exchange(w->writable_, nullptr));
        any = true;
      }
    }
    return any;
  }
  std::uint64_t schedule(std::chrono::milliseconds due, std::function<void()> fired) {
    timers_.emplace(++next_id_, Pending{due, std::move(fired)});
    return next_id_;
  }

  std::function<void()> next_task() {
    std::lock_guard lock(tasks_mutex_);
    if (tasks_.empty()) return nullptr;
    auto task = std::move(tasks_.front());
    tasks_.erase(tasks_.begin());
    return task;
  }

  std::mutex tasks_mutex_;
  std::vector<std::function<void()>> tasks_;
  std::map<std::uint64_t, Pending> timers_;
  std::vector<ManualFdWatch*> watches_;
  std::uint64_t next_id_ = 0;
  std::chrono::milliseconds now_{0};
};

/// State store in memory, expiring entries in the executor's virtual time.
class MemoryStateStore final : public StateStore {
 public:
  explicit MemoryStateStore(const ManualExecutor& clock) : clock_(clock) {}
  std::optional<std::string> get(std::string_view key) override {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end() || expired(it->second)) return std::nullopt;
    return it->second.value;
  }
  Status put(std::string_view key, std::string_view value,
             std::chrono::milliseconds ttl) override {
    entries_[std::string(key)] = Entry{std::string(value), expiry(ttl)};
    return {};
  }
  Result<bool> put_if_absent(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) override {
    if (get(key)) return false;
    entries_[std::string(key)] = Entry{std::string(value), expiry(ttl)};
    return true;
  }
  Status erase(std::string_view key) override {
    entries_.erase(std::string(key));
    return {};
  }
  bool remembers(std::string_view key) override {
    auto it = remembered_.find(std::string(key));
    return it != remembered_.end() && (it->second.count() == 0 || it->second > clock_.now());
  }
  Status remember(std::string_view key, std::chrono::milliseconds ttl) override {
    remembered_[std::string(key)] = expiry(ttl);
    return {};
  }

 private:
  struct Entry {
    std::string value;
    std::chrono::milliseconds expires;  // zero: never
  };
  std::chrono::milliseconds expiry(std::chrono::milliseconds ttl) const {
    return ttl.count() == 0 ? ttl : clock_.now() + ttl;
  }
  bool expired(const Entry& e) const {
    return e.expires.count() != 0 && e.expires <= clock_.now();
  }
  const ManualExecutor& clock_;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::chrono::milliseconds> remembered_;  // key -> expiry (zero: never)
};

/// Records what a source emits. `capacity` simulates a saturated pipeline. A deferred
/// payload (Event::payload_deferred) is parsed as the engine would before a transform has
/// the event, and counted in `deferred`: a test reads `data` either way. The keys an
/// accepted event asks to be remembered (Event::remember_when_accepted) go to `state`.
class CapturingEmitter final : public Emitter {
 public:
  explicit CapturingEmitter(StateStore* state = nullptr) : state_(state) {}
  void emit(std::unique_ptr<Event> event, EmitCallback done) override {
    if (saturated()) {
      ++refused;
      if (done) done(retryable("pipeline saturated"));
      return;
    }
    if (event->payload_deferred()) {
      ++deferred;
      const std::string_view raw = event->raw_data();
      event->data.Parse<rapidjson::kParseFullPrecisionFlag>(raw.data(), raw.size());
      if (event->data.HasParseError()) {
        event->data.SetNull();
        if (done) done(permanent("the deferred payload does not parse"));
        return;
      }
    }
    for (auto& r : event->take_remembered()) {
      if (state_) (void)state_->remember(r.key, r.ttl);
    }
    events.push_back(std::move(event));
    if (done) done({});
  }
  bool saturated() const override { return events.size() >= capacity; }
  void when_ready(std::function<void()> ready) override { waiters.push_back(std::move(ready)); }
  bool payload_read() const override { return reads_payload; }

  /// Empties the captured events and wakes sources waiting for room.
  std::vector<std::unique_ptr<Event>> take() {
    auto out = std::move(events);
    events.clear();
    auto wake = std::move(waiters);
    waiters.clear();
    for (auto& w : wake) w();
    return out;
  }

  std::vector<std::unique_ptr<Event>> events;
  std::vector<std::function<void()>> waiters;
  std::size_t capacity = SIZE_MAX;
  std::size_t refused = 0;
  std::size_t deferred = 0;  ///< events emitted with their payload deferred
  bool reads_payload = true;  ///< what payload_read() says: set before configure

 private:
  StateStore* state_;
};

/// Metrics recorded in memory: value() reads a counter or gauge, observations() a histogram.
class CapturingMetrics final : public Metrics {
 public:
  /// The current value of the counter or gauge `name` with `labels` (0 when never set).
  double value(std::string_view name, const MetricLabels& labels = {}) const {
    auto it = values_.find(key(name, labels));
    return it == values_.end() ? 0 : it->second->value;
  }
  /// Every value observed by the histogram `name` with `labels`.
  std::vector<double> observations(std::string_view name, const MetricLabels& labels = {}) const {
    auto it = values_.find(key(name, labels));
    return it == values_.end() ? std::vector<double>{} : it->second->observed;
  }
  Counter& counter(std::string_view name, std::string_view, const MetricLabels& labels) override {
    return slot(name, labels);
  }
  Gauge& gauge(std::string_view name, std::string_view, const MetricLabels& labels) override {
    return slot(name, labels);
  }
  Histogram& histogram(std::string_view name, std::string_view, std::span<const double>,
                       const MetricLabels& labels) override {
    return slot(name, labels);
  }

 private:
  struct Value final : Counter, Gauge, Histogram {
    double value = 0;
    std::vector<double> observed;
    void inc(double by) override { value += by; }
    void set(double v) override { value = v; }
    void dec(double by) override { value -= by; }
    void observe(double v) override { observed.push_back(v); }
  };
  static std::string key(std::string_view name, const MetricLabels& labels) {
    std::string k(name);
    for (const auto& [n, v] : labels) k += "|" + n + "=" + v;
    return k;
  }
  Value& slot(std::string_view name, const MetricLabels& labels) {
    auto& v = values_[key(name, labels)];
    if (!v) v = std::make_unique<Value>();
    return *v;
  }
  std::map<std::string, std::unique_ptr<Value>, std::less<>> values_;
};

/// Parked requests, timed out in the executor's virtual time. Share one between the harness
/// of a source and the harness of a reply sink (TestContext::use_replies) to test the two
/// together, as the engine shares one per pipeline.
class ManualReplies final : public Replies {
 public:
  explicit ManualReplies(ManualExecutor& executor) : executor_(executor) {}
  void park(std::string event_id, std::chrono::milliseconds within, ReplyHandler handler) override {
    if (auto earlier = take(event_id)) earlier->handler(std::nullopt);
    auto timer = executor_.make_timer();
    timer->expires_after(within, [this, event_id] {
      if (auto entry = take(event_id)) entry->handler(std::nullopt);
    });
    parked_.emplace(std::move(event_id), Entry{std::move(handler), std::move(timer)});
  }
  bool answer(std::string_view event_id, Reply reply) override {
    auto entry = take(event_id);
    if (!entry) return false;
    answers.push_back(reply);
    entry->handler(std::move(reply));
    return true;
  }
  bool withdraw(std::string_view event_id) override { return take(event_id).has_value(); }
  /// Requests parked now.
  std::size_t parked() const { return parked_.size(); }
  /// Every reply handed to a parked request, in order.
  std::vector<Reply> answers;

 private:
  struct Entry {
    ReplyHandler handler;
    std::unique_ptr<Timer> timer;
  };
  std::optional<Entry> take(std::string_view event_id) {
    auto it = parked_.find(std::string(event_id));
    if (it == parked_.end()) return std::nullopt;
    Entry entry = std::move(it->second);
    parked_.erase(it);
    entry.timer->cancel();
    return entry;
  }
  ManualExecutor& executor_;
  std::map<std::string, Entry> parked_;
};

/// A dead-letter queue a test fills by hand: record() what the engine would have given up
/// on; a source reading the feed sees it on the manual executor.
class RecordedDeadLetters final : public DeadLetterFeed {
 public:
  explicit RecordedDeadLetters(ManualExecutor& executor) : executor_(executor) {}
  /// Records an entry (its id: the next one) and wakes a pending when_recorded().
  std::int64_t record(DeadLetterEntry entry) {
    entry.id = ++last_id_;
    entries_.push_back(std::move(entry));
    if (auto recorded = std::exchange(recorded_, nullptr)) executor_.post(std::move(recorded));
    return last_id_;
  }
  /// Removes an entry (an operator dropped or replayed it).
  void remove(std::int64_t id) {
    std::erase_if(entries_, [&](const DeadLetterEntry& e) { return e.id == id; });
  }
  /// Makes reads fail with `error` (nullopt: they succeed again).
  void fail_reads(std::optional<Error> error) { failure_ = std::move(error); }
  /// How many reads were asked for.
  std::size_t reads = 0;

  void read(std::int64_t after, std::size_t limit,
            std::function<void(Result<DeadLetterEntries>)> done) override {
    ++reads;
    if (failure_) {
      executor_.post([done = std::move(done), error = *failure_] { done(error); });
      return;
    }
    DeadLetterEntries out;
    for (const auto& e : entries_) {
      if (e.id <= after || out.size() >= limit) continue;
      DeadLetterEntry copy{e.id, e.pipeline, e.component, e.error, e.attempts, e.failed_at,
                           e.event ? e.event->clone() : nullptr};
      out.push_back(std::move(copy));
    }
    auto shared = std::make_shared<DeadLetterEntries>(std::move(out));
    executor_.post([done = std::move(done), shared] { done(std::move(*shared)); });
  }
  void newest(std::function<void(Result<std::int64_t>)> done) override {
    executor_.post([done = std::move(done), id = last_id_] { done(id); });
  }
  void when_recorded(std::function<void()> recorded) override { recorded_ = std::move(recorded); }

 private:
  ManualExecutor& executor_;
  std::vector<DeadLetterEntry> entries_;
  std::int64_t last_id_ = 0;
  std::function<void()> recorded_;
  std::optional<Error> failure_;
};

}  // namespace switchyard::testing
