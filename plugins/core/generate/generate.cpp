#include "generate/generate.hpp"

namespace switchyard::core {

Status GenerateSource::start() {
  running_ = true;
  timer_ = context_->executor().make_timer();
  if (interval_.count() == 0) {
    context_->executor().post([this] { burst(); });
  } else {
    timer_->expires_after(interval_, [this] { tick(); });
  }
  return {};
}

void GenerateSource::drain(std::function<void()> done) {
  running_ = false;
  if (timer_) timer_->cancel();
  done();
}

void GenerateSource::stop() {
  running_ = false;
  timer_.reset();
}

std::unique_ptr<Event> GenerateSource::make_event() {
  auto event = std::make_unique<Event>();
  event->id = make_event_id();
  event->type = type_;
  event->source = source_;
  event->subject = subject_;
  event->time = std::chrono::system_clock::now();
  event->data.CopyFrom(payload_, event->allocator());
  return event;
}

void GenerateSource::tick() {
  if (!running_ || done_emitting()) return;
  Emitter& emitter = context_->emitter();
  if (emitter.saturated()) {
    // Skip this beat rather than queue up: an interval source is a heartbeat, not a backlog.
    context_->logger().warn("pipeline saturated; skipped one generated event");
  } else {
    emitter.emit(make_event(), {});
    ++emitted_;
  }
  if (!done_emitting()) timer_->expires_after(interval_, [this] { tick(); });
}

void GenerateSource::burst() {
  static constexpr int kPerTurn = 256;  // yield the strand regularly
  Emitter& emitter = context_->emitter();
  for (int i = 0; i < kPerTurn; ++i) {
    if (!running_ || done_emitting()) return;
    if (emitter.saturated()) {
      emitter.when_ready([this] { burst(); });
      return;
    }
    emitter.emit(make_event(), {});
    ++emitted_;
  }
  context_->executor().post([this] { burst(); });
}

}  // namespace switchyard::core
