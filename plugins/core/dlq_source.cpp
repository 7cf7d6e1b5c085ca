// `dlq` source: dead letters as events (see dlq_source.hpp).
#include "dlq_source.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>

namespace switchyard::core {
namespace {

using namespace std::chrono_literals;

constexpr const char* kFrom[] = {"new", "all"};

constexpr OptionSpec kOptions[] = {
    {.name = "pipelines", .type = OptionType::string_list,
     .description = "Pipelines whose dead letters are taken, as names or globs (* any run of "
                    "characters, ? one); all when absent. Never this source's own pipeline: an "
                    "alert that fails would alert again, without end.",
     .example = "[ci-dashboard-*, teampulse]"},
    {.name = "components", .type = OptionType::string_list,
     .description = "Only dead letters of these sinks, as names or globs; all when absent. A "
                    "transform's are named transforms[N] 'type' (transforms* takes them all).",
     .example = "[store, email]"},
    {.name = "from", .type = OptionType::string, .default_value = "new",
     .description = "Where the source starts the first time it runs: new (failures recorded "
                    "from then on) or all (every entry in the queue). Later starts go on from "
                    "the last entry handled, which the source keeps in its state.",
     .choices = kFrom},
    {.name = "batch", .type = OptionType::integer, .default_value = "100",
     .description = "Most entries read from the queue at once (1 to 1000)."},
};

constexpr std::chrono::milliseconds kMaxBackoff = 30s;

std::string describe(const std::vector<std::string>& patterns, std::string_view own) {
  if (patterns.empty()) return "every pipeline but " + std::string(own);
  std::string out;
  for (const auto& p : patterns) out += (out.empty() ? "" : ", ") + p;
  return out;
}

}  // namespace

const ComponentDecl kDlqDecl{
    .kind = ComponentKind::source,
    .type = "dlq",
    .summary = "Emits one switchyard.dead_letter event per entry of the engine's dead-letter "
               "queue, in order, so a failure can alert; its place survives restarts (at least once).",
    .options = kOptions,
    .create = &make_component<DlqSource>,
};

bool DlqSource::glob_match(std::string_view pattern, std::string_view name) {
  // Iterative wildcard match: on a mismatch after a `*`, that star takes one more character.
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Status DlqSource::configure(const Options& options, Context& context) {
  context_ = &context;
  std::vector<std::string> errors;
  pipelines_ = options.strings("pipelines");
  components_ = options.strings("components");
  const std::string_view own = context.pipeline();
  for (const auto& p : pipelines_) {
    if (p.empty()) errors.push_back("pipelines: a name must not be empty");
    if (p == own) {
      errors.push_back("pipelines: \"" + p + "\" is this source's own pipeline; its dead letters would come "
                       "back to it (leave it out: a glob that matches it skips it)");
    }
  }
  for (const auto& c : components_) {
    if (c.empty()) errors.push_back("components: a name must not be empty");
  }
  from_all_ = options.string("from") == "all";
  const std::int64_t batch = options.integer("batch", 100);
  if (batch < 1 || batch > 1000) errors.push_back("batch: must be between 1 and 1000");
  batch_ = static_cast<std::size_t>(std::clamp<std::int64_t>(batch, 1, 1000));
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return invalid_config(std::move(message));
  }
  return {};
}

bool DlqSource::wanted(const DeadLetterEntry& entry) const {
  if (entry.pipeline == context_->pipeline()) return false;  // never its own: that loops
  auto any = [](const std::vector<std::string>& patterns, const std::string& name) {
    return patterns.empty() ||
           std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, name); });
  };
  return any(pipelines_, entry.pipeline) && any(components_, entry.component);
}

std::unique_ptr<Event> DlqSource::make_event(const DeadLetterEntry& entry) {
  auto event = std::make_unique<Event>();
  event->id = "dlq-" + std::to_string(entry.id);
  event->type = "switchyard.dead_letter";
  event->source = "switchyard://" + entry.pipeline + "/" + entry.component;
  if (entry.event) event->subject = entry.event->id;
  event->time = entry.failed_at;

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("id");
  w.Int64(entry.id);
  str("pipeline", entry.pipeline);
  str("component", entry.component);
  str("error", entry.error);
  w.Key("attempts");
  w.Uint(entry.attempts);
  str("failed_at", format_rfc3339(entry.failed_at));
  w.Key("event");
  if (entry.event) {
    // The failed event as a sink would forward it: its received payload bytes when it has them.
    const std::string json = to_cloudevent_json(*entry.event);
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  } else {
    w.Null();  // the stored bytes could not be read back: `switchyard dlq show` has them
  }
  w.EndObject();
  const std::string_view text(buffer.GetString(), buffer.GetSize());
  event->data.Parse(text.data(), text.size());
  if (!event->data.HasParseError()) {
    event->set_raw_data(text);
  } else {
    // Raw payload bytes that are not JSON cannot come from the journal; should they, the
    // event is written again from its parsed `data`.
    rapidjson::StringBuffer again;
    rapidjson::Writer<rapidjson::StringBuffer> w2(again);
    write_cloudevent(*entry.event, w2, /*use_raw_data=*/false);
    auto& a = event->allocator();
    event->data.SetObject();
    event->data.AddMember("id", entry.id, a);
    event->data.AddMember("pipeline", rapidjson::Value(entry.pipeline.c_str(), a), a);
    event->data.AddMember("component", rapidjson::Value(entry.component.c_str(), a), a);
    event->data.AddMember("error", rapidjson::Value(entry.error.c_str(), a), a);
    event->data.AddMember("attempts", entry.attempts, a);
    event->data.AddMember("failed_at", rapidjson::Value(format_rfc3339(entry.failed_at).c_str(), a), a);
    rapidjson::Document failed(&a);
    failed.Parse(again.GetString(), again.GetSize());
    event->data.AddMember("event", rapidjson::Value(failed, a), a);
  }
  return event;
}

std::function<void()> DlqSource::guarded(void (DlqSource::*fn)()) {
  return [this, fn, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) (this->*fn)();
  };
}

Status DlqSource::start() {
  alive_ = std::make_shared<char>();
  running_ = true;
  timer_ = context_->executor().make_timer();
  if (auto saved = context_->state().get(kCursorKey)) {
    std::int64_t cursor = 0;
    const auto [end, ec] = std::from_chars(saved->data(), saved->data() + saved->size(), cursor);
    if (ec == std::errc() && end == saved->data() + saved->size() && cursor >= 0) {
      saved_cursor_ = cursor;
      begin(cursor);
      return {};
    }
    context_->logger().warn("the saved place in the dead-letter queue (\"" + saved->substr(0, 40) +
                            "\") is unreadable; starting as on a first run (from: " + (from_all_ ? "all" : "new") + ")");
  }
  if (from_all_) {
    begin(0);
  } else {
    start_from_newest();
  }
  return {};
}

// from: new, on the first run: the newest entry now is where this source starts, for good
// (saved at once, so failures recorded while the engine is down later are still taken).
void DlqSource::start_from_newest() {
  if (!running_) return;
  std::weak_ptr<char> alive = alive_;
  context_->dead_letters().newest([this, alive](Result<std::int64_t> newest) {
    if (alive.expired() || !running_) return;
    if (!newest) return retry_later(newest.error(), "reading the dead-letter queue", &DlqSource::start_from_newest);
    recovered();
    begin(*newest);
  });
}

void DlqSource::begin(std::int64_t cursor) {
  cursor_ = cursor;
  save_cursor();
  context_->logger().info("following the dead-letter queue after entry " + std::to_string(cursor_) + " (" +
                          describe(pipelines_, context_->pipeline()) + ")");
  read_more();
}

void DlqSource::read_more() {
  if (!running_ || reading_) return;
  reading_ = true;
  recorded_ = false;
  DeadLetterFeed& feed = context_->dead_letters();
  std::weak_ptr<char> alive = alive_;
  // Asked before the read, so an entry recorded while it runs is not missed.
  feed.when_recorded([this, alive] {
    if (alive.expired() || !running_) return;
    recorded_ = true;
    if (!reading_) read_more();
  });
  feed.read(cursor_, batch_, [this, alive](Result<DeadLetterEntries> entries) {
    if (!alive.expired()) on_read(std::move(entries));
  });
}

void DlqSource::on_read(Result<DeadLetterEntries> entries) {
  if (!running_) return;
  if (!entries) {
    reading_ = false;
    return retry_later(entries.error(), "reading the dead-letter queue", &DlqSource::read_more);
  }
  recovered();
  entries_ = std::move(*entries);
  next_ = 0;
  emit_next();
}

void DlqSource::emit_next() {
  if (!running_ || emitting_) return;
  Emitter& emitter = context_->emitter();
  while (next_ < entries_.size()) {
    const DeadLetterEntry& entry = entries_[next_];
    if (!wanted(entry)) {
      cursor_ = entry.id;
      ++next_;
      continue;
    }
    if (emitter.saturated()) {
      emitter.when_ready(guarded(&DlqSource::emit_next));
      return;
    }
    emitting_ = true;
    const std::int64_t id = entry.id;
    std::weak_ptr<char> alive = alive_;
    emitter.emit(make_event(entry), [this, alive, id](Status status) {
      if (!alive.expired()) on_emitted(id, std::move(status));
    });
    return;
  }
  batch_done();
}

void DlqSource::on_emitted(std::int64_t id, Status status) {
  emitting_ = false;
  if (status) {
    ++emitted_;
    recovered();
    cursor_ = id;
    ++next_;
    // Saved once the pipeline has the event (durable where it is durable): a crash before
    // this emits the entry again rather than losing it.
    save_cursor();
  }
  if (draining_) {
    if (auto done = std::exchange(drained_, nullptr)) done();
    return;
  }
  if (!status) return retry_later(status.error(), "emitting a dead letter", &DlqSource::emit_next);
  context_->executor().post(guarded(&DlqSource::emit_next));  // a turn per event: never deep recursion
}

void DlqSource::batch_done() {
  save_cursor();  // past the entries skipped at the end
  const bool full = entries_.size() >= batch_;
  entries_.clear();
  next_ = 0;
  reading_ = false;
  if (full || recorded_) context_->executor().post(guarded(&DlqSource::read_more));
}

void DlqSource::save_cursor() {
  if (cursor_ == saved_cursor_) return;
  if (Status s = context_->state().put(kCursorKey, std::to_string(cursor_), 0ms); !s) {
    // Kept in memory: the next save writes it; a restart before that takes some entries again.
    context_->logger().warn("could not save the place in the dead-letter queue: " + s.error().message);
    return;
  }
  saved_cursor_ = cursor_;
}

void DlqSource::retry_later(const Error& error, const char* what, void (DlqSource::*again)()) {
  ++failures_;
  auto delay = std::min<std::chrono::milliseconds>(1000ms * (1LL << std::min(failures_ - 1, 5)), kMaxBackoff);
  if (error.retry_after) delay = std::clamp<std::chrono::milliseconds>(*error.retry_after, 100ms, kMaxBackoff);
  if (failures_ == 1 || failures_ % 20 == 0) {
    const std::string line = std::string(what) + " failed (" + error.message + "); trying again in " +
                             std::to_string(delay.count()) + " ms";
    if (error.kind == ErrorKind::invalid_config) {
      context_->logger().error(line);
    } else {
      context_->logger().warn(line);
    }
  }
  timer_->expires_after(delay, guarded(again));
}

void DlqSource::recovered() {
  if (failures_ == 0) return;
  context_->logger().info("the dead-letter queue is followed again after " + std::to_string(failures_) + " failure(s)");
  failures_ = 0;
}

void DlqSource::drain(std::function<void()> done) {
  running_ = false;
  if (timer_) timer_->cancel();
  if (!emitting_) return done();
  // The event in flight: once the pipeline answers, its place is saved (or it is taken
  // again at the next start).
  draining_ = true;
  drained_ = std::move(done);
}

void DlqSource::stop() {
  running_ = false;
  timer_.reset();
  alive_.reset();
  drained_ = nullptr;
}

}  // namespace switchyard::core
