// `generate` source: emits a payload from a template at an interval (demos, tests).
#include "generate.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "payload", .type = OptionType::json_template, .default_value = R"({"message": "hello from switchyard"})",
     .description = "The JSON payload of every event.", .example = R"({action: completed, workflow_run: {id: 1}})"},
    {.name = "event_type", .type = OptionType::string, .default_value = "switchyard.generated",
     .description = "CloudEvents type of the events."},
    {.name = "event_source", .type = OptionType::string, .default_value = "switchyard://generate",
     .description = "CloudEvents source of the events."},
    {.name = "event_subject", .type = OptionType::string, .description = "CloudEvents subject, if any."},
    {.name = "interval", .type = OptionType::duration, .default_value = "1s",
     .description = "Time between events; 0 emits as fast as the pipeline accepts them."},
    {.name = "count", .type = OptionType::integer, .default_value = "0",
     .description = "Stop after this many events; 0 never stops."},
};

}  // namespace

const ComponentDecl kGenerateDecl{
    .kind = ComponentKind::source,
    .type = "generate",
    .summary = "Emits a configured JSON event every interval, or count events as fast as possible.",
    .options = kOptions,
    .create = &make_component<GenerateSource>,
};

Status GenerateSource::configure(const Options& options, Context& context) {
  context_ = &context;
  payload_.CopyFrom(options.json("payload"), payload_.GetAllocator());
  type_ = options.string("event_type");
  source_ = options.string("event_source");
  subject_ = options.string("event_subject");
  interval_ = options.duration("interval");
  const std::int64_t count = options.integer("count");
  if (count < 0) return invalid_config("count: must be 0 (unlimited) or more");
  count_ = static_cast<std::uint64_t>(count);
  if (type_.empty()) return invalid_config("event_type: must not be empty");
  return {};
}

}  // namespace switchyard::core

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
