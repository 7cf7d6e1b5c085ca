#include "runtime/ingress.hpp"

#include "journal/journal.hpp"

namespace switchyard::runtime {

Ingress::Ingress(Settings settings, std::function<void()> schedule)
    : settings_(std::move(settings)), schedule_(std::move(schedule)) {}

void Ingress::bind_source(Executor& source, Counter& received, StateStore& state) {
  source_ = &source;
  received_metric_ = &received;
  source_state_ = &state;
}

void Ingress::open() {
  std::lock_guard lock(mutex_);
  accepting_ = true;
}

void Ingress::close() {
  std::lock_guard lock(mutex_);
  accepting_ = false;
}

void Ingress::emit(std::unique_ptr<Event> event, EmitCallback done) {
  take_in(std::move(event), std::move(done), false, nullptr);
}

void Ingress::emit_until_done(std::unique_ptr<Event> event, EmitCallback done) {
  take_in(std::move(event), std::move(done), true, nullptr);
}

void Ingress::take_in(std::unique_ptr<Event> event, EmitCallback done, bool until_done, Counter* received,
                      StateStore* state) {
  if (state == nullptr) state = source_state_;
  if (!event) {
    if (done) done(permanent("emit: no event"));
    return;
  }
  if (event->id.empty()) event->id = make_event_id();
  if (event->time == std::chrono::system_clock::time_point{}) event->time = std::chrono::system_clock::now();
  event->pipeline = settings_.pipeline;
  bool schedule = false;
  std::vector<Event::Remembered> remembered;
  {
    std::lock_guard lock(mutex_);
    auto refused = accepting_ ? refusal() : std::optional<Error>(retryable("pipeline is stopping"));
    if (refused) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      if (done) done(std::move(*refused));
      return;
    }
    // Durable: the source hears back once the event is in the journal; memory: now;
    // until_done: once every sink is done with it.
    const bool later = settings_.durable || until_done;
    // Answered now (memory): remembered now, before the source hears, so a redelivery
    // that follows at once is known. Otherwise as the event enters the transforms.
    if (!later) remembered = event->take_remembered();
    const std::size_t bytes = event->memory_size();
    arrived_.push_back(Incoming{std::move(event), later ? std::move(done) : EmitCallback(), until_done, bytes});
    arrived_.back().source_state = state;
    queued_.fetch_add(1, std::memory_order_relaxed);
    queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    schedule = !scheduled_;
    scheduled_ = true;
  }
  received_.fetch_add(1, std::memory_order_relaxed);
  if (Counter* counter = received ? received : received_metric_) counter->inc();
  if (state != nullptr) {
    for (auto& r : remembered) (void)state->remember(r.key, r.ttl);
  }
  if (schedule) schedule_();
  if (done && !settings_.durable && !until_done) done({});
}

// The one place that decides whether the pipeline takes events (emit, saturated, HTTP
// sources' 503 answers).
std::optional<Error> Ingress::refusal() const {
  if (settings_.durable && settings_.journal && settings_.journal->full()) {
    return retryable("journal is full (state.max_bytes or the disk)", std::chrono::seconds(5));
  }
  if (full()) return retryable("pipeline is saturated", std::chrono::seconds(1));
  return std::nullopt;
}

bool Ingress::full() const {
  const std::size_t n = queued_.load(std::memory_order_relaxed);
  return n >= settings_.queue_size ||
         (n > 0 && settings_.queue_bytes > 0 && queued_bytes_.load(std::memory_order_relaxed) >= settings_.queue_bytes);
}

void Ingress::when_ready(std::function<void()> ready) { when_ready(std::move(ready), *source_); }

void Ingress::when_ready(std::function<void()> ready, Executor& executor) {
  {
    std::lock_guard lock(mutex_);
    if (full()) {
      waiters_.emplace_back(&executor, std::move(ready));
      return;
    }
  }
  executor.post(std::move(ready));
}

void Ingress::take(std::deque<Incoming>& into) {
  std::lock_guard lock(mutex_);
  for (auto& e : arrived_) into.push_back(std::move(e));
  arrived_.clear();
  scheduled_ = false;
}

void Ingress::finished(std::size_t bytes) {
  queued_.fetch_sub(1, std::memory_order_relaxed);
  queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
  wake_waiters();
}

void Ingress::resized(std::size_t was, std::size_t now) {
  if (now >= was) {
    queued_bytes_.fetch_add(now - was, std::memory_order_relaxed);
    return;
  }
  queued_bytes_.fetch_sub(was - now, std::memory_order_relaxed);
  wake_waiters();
}

void Ingress::add(std::size_t events, std::size_t bytes) {
  queued_.fetch_add(events, std::memory_order_relaxed);
  queued_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void Ingress::replaced(std::size_t parent_bytes, std::size_t events, std::size_t bytes) {
  add(events, bytes);
  finished(parent_bytes);
}

void Ingress::acknowledge(EmitCallback done, Status status) {
  if (!done) return;
  source_->post([done = std::move(done), status = std::move(status)]() mutable { done(std::move(status)); });
}

// Pull sources parked in when_ready() go on once the pipeline is below half full.
void Ingress::wake_waiters() {
  std::vector<std::pair<Executor*, std::function<void()>>> wake;
  {
    std::lock_guard lock(mutex_);
    if (waiters_.empty() || queued_.load(std::memory_order_relaxed) > settings_.queue_size / 2 ||
        (settings_.queue_bytes > 0 && queued_bytes_.load(std::memory_order_relaxed) > settings_.queue_bytes / 2)) {
      return;
    }
    wake.swap(waiters_);
  }
  for (auto& [executor, ready] : wake) executor->post(std::move(ready));
}

}  // namespace switchyard::runtime
