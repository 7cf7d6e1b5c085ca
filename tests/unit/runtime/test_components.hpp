#pragma once
// In-process components for runtime tests, registered through PluginRegistry::add.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::test {

/// What capture sinks received, by bucket.
struct Captured {
  std::mutex mutex;
  std::map<std::string, std::vector<int>> received;
  std::map<std::string, std::vector<std::chrono::system_clock::time_point>> received_at;  // parallel to received
  std::map<std::string, int> max_in_flight;
  std::map<std::string, std::vector<std::string>> cloudevents;  // to_cloudevent_json of each, parallel to received
  std::map<std::string, int> deferred;  // events that reached the sink with their payload never parsed

  static Captured& instance() {
    static Captured c;
    return c;
  }
  std::vector<int> of(const std::string& bucket) {
    std::lock_guard lock(mutex);
    return received[bucket];
  }
  std::vector<std::chrono::system_clock::time_point> times(const std::string& bucket) {
    std::lock_guard lock(mutex);
    return received_at[bucket];
  }
  std::vector<std::string> json(const std::string& bucket) {
    std::lock_guard lock(mutex);
    return cloudevents[bucket];
  }
  void clear() {
    std::lock_guard lock(mutex);
    cloudevents.clear();
    received.clear();
    received_at.clear();
    max_in_flight.clear();
    deferred.clear();
  }
  int deferred_in(const std::string& bucket) {
    std::lock_guard lock(mutex);
    return deferred[bucket];
  }
};

// Emits {"n": 0..count-1} as fast as the pipeline accepts, respecting backpressure. With
// `raw`, each payload is parsed from the text {"n": N, "note": "a  b"} (spaced as a person
// writes it), which the event keeps as its received bytes (Event::set_raw_data); `pad`
// adds a string of that many characters to it ("pad": "xx..."). With `defer` as well the
// payload is left unparsed (Event::payload_deferred), as the GitHub webhook source leaves it.
// With `remember` (a duration), each event asks for "n/N" to be remembered that long once
// accepted (Event::remember_when_accepted), as webhook sources do with delivery ids.
class SequenceSource final : public Source {
 public:
  static inline std::atomic<int> waits{0};
  static inline std::atomic<bool> payload_read{true};  // what the last one configured heard (Emitter::payload_read)
  Status configure(const Options& options, Context& context) override {
    payload_read = context.emitter().payload_read();
    count_ = static_cast<int>(options.integer("count"));
    raw_ = options.boolean("raw");
    defer_ = options.boolean("defer");
    pad_ = static_cast<std::size_t>(options.integer("pad"));
    remember_ = options.duration("remember");
    context_ = &context;
    return {};
  }
  Status start() override {
    running_ = true;
    context_->executor().post([this] { pump(); });
    return {};
  }
  void drain(std::function<void()> done) override {
    running_ = false;
    done();
  }

 private:
  void pump() {
    auto& emitter = context_->emitter();
    for (int i = 0; i < 64 && running_ && next_ < count_; ++i) {
      if (emitter.saturated()) {
        ++waits;
        emitter.when_ready([this] { pump(); });
        return;
      }
      auto event = std::make_unique<Event>();
      event->type = "test.sequence";
      event->source = "test://sequence";
      if (raw_) {
        std::string text = "{\"n\": " + std::to_string(next_++) + ", \"note\": \"a  b\"";
        if (pad_ > 0) text += ", \"pad\": \"" + std::string(pad_, 'x') + "\"";
        text += "}";
        if (!defer_) event->data.Parse(text.data(), text.size());
        event->set_raw_data(text);
      } else {
        event->data.SetObject();
        event->data.AddMember("n", next_++, event->allocator());
      }
      if (remember_.count() > 0) event->remember_when_accepted("n/" + std::to_string(next_ - 1), remember_);
      emitter.emit(std::move(event), {});
    }
    if (running_ && next_ < count_) context_->executor().post([this] { pump(); });
  }

  Context* context_ = nullptr;
  int count_ = 0;
  int next_ = 0;
  bool raw_ = false;
  bool defer_ = false;
  std::size_t pad_ = 0;
  std::chrono::milliseconds remember_{0};
  bool running_ = false;
};

// Emits {"n": 0..count-1} with emit_until_done, as a queue consumer acknowledging only
// finished events does; records, per n, what the pipeline answered and whether the
// capture sink "a" had it by then.
class UntilDoneSource final : public Source {
 public:
  static inline std::mutex mutex;
  static inline std::map<int, bool> answered;     // n → success
  static inline std::map<int, bool> seen_before;  // n → bucket "a" had it when answered
  static inline std::function<void(int)> on_answer;  // called (outside the lock) as n is answered
  static void reset() {
    std::lock_guard lock(mutex);
    answered.clear();
    seen_before.clear();
    on_answer = nullptr;
  }
  Status configure(const Options& options, Context& context) override {
    count_ = static_cast<int>(options.integer("count"));
    context_ = &context;
    return {};
  }
  Status start() override {
    for (int n = 0; n < count_; ++n) {
      auto event = std::make_unique<Event>();
      event->type = "test.until_done";
      event->data.SetObject();
      event->data.AddMember("n", n, event->allocator());
      context_->emitter().emit_until_done(std::move(event), [n](Status s) {
        const auto a = Captured::instance().of("a");
        {
          std::lock_guard lock(mutex);
          answered[n] = s.has_value();
          seen_before[n] = std::find(a.begin(), a.end(), n) != a.end();
        }
        if (on_answer) on_answer(n);
      });
    }
    return {};
  }

 private:
  Context* context_ = nullptr;
  int count_ = 0;
};

// Records payload.n per bucket; optionally completes later (async) or fails first attempts.
// With `raw_only` it says it does not read the payload (Sink::reads_payload) and reads n
// from the payload's received bytes when the tree was never built.
class CaptureSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override {
    raw_only_ = options.boolean("raw_only");
    bucket_ = options.string("bucket");
    delay_ = options.duration("delay");
    fail_first_ = options.integer("fail_first");
    permanent_ = options.boolean("permanent");
    context_ = &context;
    return {};
  }
  bool reads_payload() const override { return !raw_only_; }
  void deliver(EventPtr event, DeliveryCallback done) override {
    const bool deferred = event->payload_deferred();
    if (deferred) {
      std::lock_guard lock(Captured::instance().mutex);
      ++Captured::instance().deferred[bucket_];
    }
    const int n = deferred ? std::atoi(event->raw_data().data() + event->raw_data().find(':') + 1) : event->data["n"].GetInt();
    if (attempts_[n]++ < fail_first_) {
      return done(permanent_ ? permanent("nope") : retryable("later", std::chrono::milliseconds(1)));
    }
    const int now = ++in_flight_;
    {
      auto& c = Captured::instance();
      std::lock_guard lock(c.mutex);
      c.max_in_flight[bucket_] = std::max(c.max_in_flight[bucket_], now);
    }
    auto finish = [this, n, event, done = std::move(done)] {
      --in_flight_;
      auto& c = Captured::instance();
      {
        std::lock_guard lock(c.mutex);
        c.received[bucket_].push_back(n);
        c.cloudevents[bucket_].push_back(to_cloudevent_json(*event));
        c.received_at[bucket_].push_back(std::chrono::system_clock::now());
      }
      done({});
    };
    if (delay_.count() > 0) {
      // Completes from another thread, as a network client would; stop() waits for it.
      std::lock_guard lock(threads_mutex_);
      threads_.emplace_back([delay = delay_, finish = std::move(finish)] {
        std::this_thread::sleep_for(delay);
        finish();
      });
    } else {
      finish();
    }
  }
  // As the SDK asks: nothing the sink started outlives stop() (answers after it are ignored).
  void stop() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(threads_mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }
  ~CaptureSink() override { stop(); }

 private:
  Context* context_ = nullptr;
  bool raw_only_ = false;
  std::string bucket_;
  std::chrono::milliseconds delay_{0};
  std::int64_t fail_first_ = 0;
  bool permanent_ = false;
  std::map<int, std::int64_t> attempts_;
  std::atomic<int> in_flight_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
};

// Drops events whose payload.n is odd.
class DropOddTransform final : public Transform {
 public:
  Status configure(const Options&, Context&) override { return {}; }
  Result<Verdict> apply(Event& event) override {
    if (!event.data.IsObject() || !event.data.HasMember("n")) return permanent("no n");
    return event.data["n"].GetInt() % 2 ? Verdict::drop : Verdict::keep;
  }
};

// Adds 1000 to payload.n: changes the payload (as every transform may, unless it says not).
class BumpTransform final : public Transform {
 public:
  Status configure(const Options&, Context&) override { return {}; }
  Result<Verdict> apply(Event& event) override {
    event.data["n"].SetInt(event.data["n"].GetInt() + 1000);
    return Verdict::keep;
  }
};

// Keeps every event and says it only reads payloads.
class PeekTransform final : public Transform {
 public:
  Status configure(const Options&, Context&) override { return {}; }
  bool changes_payload() const override { return false; }
  Result<Verdict> apply(Event&) override { return Verdict::keep; }
};

// Delays events whose payload.n is even by an hour (sets not_before).
class DelayEvenTransform final : public Transform {
 public:
  Status configure(const Options&, Context&) override { return {}; }
  Result<Verdict> apply(Event& event) override {
    if (event.data["n"].GetInt() % 2 == 0) event.not_before = std::chrono::system_clock::now() + std::chrono::hours(1);
    return Verdict::keep;
  }
};

// Decides each event from another thread after a delay that shrinks as n grows (later
// events finish first); drops multiples of `drop_every`, fails multiples of `fail_every`.
// Tags kept events with {"checked": true}. Counts events it holds at once.
class AsyncCheckTransform final : public AsyncTransform {
 public:
  static inline std::atomic<int> in_flight{0};
  static inline std::atomic<int> max_in_flight{0};
  Status configure(const Options& options, Context&) override {
    drop_every_ = static_cast<int>(options.integer("drop_every"));
    fail_every_ = static_cast<int>(options.integer("fail_every"));
    return {};
  }
  void process(Event& event, TransformCallback done) override {
    const int n = event.data["n"].GetInt();
    const int now = ++in_flight;
    for (int seen = max_in_flight.load(); now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
    }
    std::thread([this, &event, n, done = std::move(done)] {
      std::this_thread::sleep_for(std::chrono::microseconds(200 * (9 - n % 10)));
      --in_flight;
      if (fail_every_ > 0 && n % fail_every_ == 0) return done(permanent("refused " + std::to_string(n)));
      if (drop_every_ > 0 && n % drop_every_ == 0) return done(Verdict::drop);
      event.data.AddMember("checked", true, event.allocator());
      done(Verdict::keep);
    }).detach();
  }

 private:
  int drop_every_ = 0;
  int fail_every_ = 0;
};

// Decides each event from its own timer, 1 ms later: on the pipeline's strand, as a
// transform driven by its socket's readiness (FdWatch) does.
class AsyncTimerTransform final : public AsyncTransform {
 public:
  Status configure(const Options&, Context& context) override {
    context_ = &context;
    return {};
  }
  void process(Event&, TransformCallback done) override {
    auto timer = std::shared_ptr<Timer>(context_->executor().make_timer());
    timers_.push_back(timer);
    timer->expires_after(std::chrono::milliseconds(1), [done = std::move(done)] { done(Verdict::keep); });
  }
  void stop() override { timers_.clear(); }

 private:
  Context* context_ = nullptr;
  std::vector<std::shared_ptr<Timer>> timers_;
};

// Splits {"n": k} into `times` events {"n": k * times + j}, j = 0..times-1 (ids left to
// the engine); none when times is 0.
class TimesTransform final : public SplitTransform {
 public:
  Status configure(const Options& options, Context&) override {
    times_ = static_cast<int>(options.integer("times"));
    return {};
  }
  Result<Events> split(Event& event) override {
    const int k = event.data["n"].GetInt();
    Events out;
    for (int j = 0; j < times_; ++j) {
      auto e = std::make_unique<Event>();
      e->type = event.type;
      e->data.SetObject();
      e->data.AddMember("n", k * times_ + j, e->allocator());
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  int times_ = 1;
};

inline constexpr OptionSpec kTimesOptions[] = {
    {.name = "times", .type = OptionType::integer, .default_value = "3"},
};
inline constexpr OptionSpec kAsyncCheckOptions[] = {
    {.name = "drop_every", .type = OptionType::integer, .default_value = "0"},
    {.name = "fail_every", .type = OptionType::integer, .default_value = "0"},
};
inline constexpr OptionSpec kSequenceOptions[] = {
    {.name = "count", .type = OptionType::integer, .default_value = "100"},
    {.name = "raw", .type = OptionType::boolean, .default_value = "false"},
    {.name = "defer", .type = OptionType::boolean, .default_value = "false"},
    {.name = "pad", .type = OptionType::integer, .default_value = "0"},
    {.name = "remember", .type = OptionType::duration, .default_value = "0"},
};
inline constexpr OptionSpec kCaptureOptions[] = {
    {.name = "bucket", .type = OptionType::string, .required = true},
    {.name = "delay", .type = OptionType::duration, .default_value = "0"},
    {.name = "fail_first", .type = OptionType::integer, .default_value = "0"},
    {.name = "permanent", .type = OptionType::boolean, .default_value = "false"},
    {.name = "raw_only", .type = OptionType::boolean, .default_value = "false"},
};
inline const ComponentDecl kTestComponents[] = {
    {.kind = ComponentKind::source, .type = "test.sequence", .summary = "", .options = kSequenceOptions,
     .create = &make_component<SequenceSource>},
    {.kind = ComponentKind::sink, .type = "test.capture", .summary = "", .options = kCaptureOptions,
     .create = &make_component<CaptureSink>},
    {.kind = ComponentKind::transform, .type = "test.drop_odd", .summary = "", .options = {},
     .create = &make_component<DropOddTransform>},
    {.kind = ComponentKind::transform, .type = "test.delay_even", .summary = "", .options = {},
     .create = &make_component<DelayEvenTransform>},
    {.kind = ComponentKind::transform, .type = "test.async_check", .summary = "", .options = kAsyncCheckOptions,
     .create = &make_component<AsyncCheckTransform>},
    {.kind = ComponentKind::transform, .type = "test.async_timer", .summary = "", .options = {},
     .create = &make_component<AsyncTimerTransform>},
    {.kind = ComponentKind::transform, .type = "test.times", .summary = "", .options = kTimesOptions,
     .create = &make_component<TimesTransform>},
    {.kind = ComponentKind::transform, .type = "test.bump", .summary = "", .options = {},
     .create = &make_component<BumpTransform>},
    {.kind = ComponentKind::transform, .type = "test.peek", .summary = "", .options = {},
     .create = &make_component<PeekTransform>},
    {.kind = ComponentKind::source, .type = "test.until_done", .summary = "", .options = kSequenceOptions,
     .create = &make_component<UntilDoneSource>},
};
inline const PluginDescriptor kTestPlugin{kAbiVersion, kToolchainTag, "test", "0", kTestComponents};

}  // namespace switchyard::test
