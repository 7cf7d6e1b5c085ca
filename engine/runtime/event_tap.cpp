#include "runtime/event_tap.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "switchyard/event.hpp"

namespace switchyard::runtime {
namespace {

constexpr std::size_t kMaxError = 300;  // characters of an error message kept per sink

const char* to_string(EventTap::Outcome o) {
  switch (o) {
    case EventTap::Outcome::delivered: return "delivered";
    case EventTap::Outcome::failed: return "failed";
    case EventTap::Outcome::dead_lettered: return "dead_lettered";
  }
  return "unknown";
}

std::string make_key(std::string_view pipeline, std::string_view id) {
  std::string key;
  key.reserve(pipeline.size() + 1 + id.size());
  key.append(pipeline).append(1, '\n').append(id);
  return key;
}

}  // namespace

EventTap::EventTap(std::size_t capacity, std::uint32_t max_per_second)
    : max_per_second_(max_per_second), ring_(std::max<std::size_t>(capacity, 1)) {
  index_.reserve(ring_.size() * 2);
}

bool EventTap::admit() {
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  auto window = window_.load(std::memory_order_relaxed);
  if (window != second && window_.compare_exchange_strong(window, second, std::memory_order_relaxed)) {
    in_window_.store(0, std::memory_order_relaxed);
  }
  if (in_window_.fetch_add(1, std::memory_order_relaxed) >= max_per_second_) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void EventTap::accepted(std::string_view pipeline, const Event& event, bool kept) {
  if (!admit()) return;
  std::string key = make_key(pipeline, event.id);
  std::string payload;
  std::size_t payload_size = 0;
  if (payload_watchers_.load(std::memory_order_relaxed) > 0) {
    // Built outside the lock; the received bytes when the event still has them.
    if (const std::string_view raw = event.raw_data(); !raw.empty()) {
      payload_size = raw.size();
      if (raw.size() <= kMaxPayload) payload.assign(raw);
    } else {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
      event.data.Accept(w);
      payload_size = buffer.GetSize();
      if (payload_size <= kMaxPayload) payload.assign(buffer.GetString(), buffer.GetSize());
    }
  }
  std::lock_guard lock(mutex_);
  Entry& e = ring_[next_];
  if (e.seq != 0) {
    auto it = index_.find(e.key);
    if (it != index_.end() && it->second == next_) index_.erase(it);
  }
  e.seq = ++seq_;
  e.changed = version_.load(std::memory_order_relaxed) + 1;
  e.key = key;
  e.pipeline.assign(pipeline);
  e.id = event.id;
  e.type = event.type;
  e.source = event.source;
  e.subject = event.subject;
  e.time = event.time;
  e.kept = kept;
  e.sinks.clear();
  e.payload = std::move(payload);
  e.payload_size = payload_size;
  index_[std::move(key)] = next_;  // a repeated id: the newest entry answers
  next_ = (next_ + 1) % ring_.size();
  version_.store(e.changed, std::memory_order_release);
}

void EventTap::outcome(std::string_view pipeline, std::string_view sink, const Event& event, Outcome outcome,
                       std::uint32_t attempt, std::string_view error) {
  const std::string key = make_key(pipeline, event.id);
  std::lock_guard lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  Entry& e = ring_[it->second];
  auto s = std::find_if(e.sinks.begin(), e.sinks.end(), [&](const SinkOutcome& o) { return o.sink == sink; });
  if (s == e.sinks.end()) {
    e.sinks.push_back(SinkOutcome{std::string(sink)});
    s = e.sinks.end() - 1;
  }
  s->outcome = outcome;
  s->attempt = attempt;
  s->error.assign(error.substr(0, kMaxError));
  e.changed = version_.load(std::memory_order_relaxed) + 1;
  version_.store(e.changed, std::memory_order_release);
}

std::string EventTap::changes(std::uint64_t since, bool payloads) const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto str = [&](const char* key, std::string_view value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  std::lock_guard lock(mutex_);
  w.StartObject();
  w.Key("version");
  w.Uint64(version_.load(std::memory_order_relaxed));
  w.Key("skipped");
  w.Uint64(skipped_.load(std::memory_order_relaxed));
  w.Key("events");
  w.StartArray();
  for (std::size_t n = 0; n < ring_.size(); ++n) {
    const Entry& e = ring_[(next_ + n) % ring_.size()];  // oldest first
    if (e.seq == 0 || e.changed <= since) continue;
    w.StartObject();
    w.Key("seq");
    w.Uint64(e.seq);
    str("pipeline", e.pipeline);
    str("id", e.id);
    str("type", e.type);
    str("source", e.source);
    str("subject", e.subject);
    str("time", format_rfc3339(e.time));
    w.Key("kept");
    w.Bool(e.kept);
    if (payloads && !e.payload.empty()) {
      w.Key("data");
      w.RawValue(e.payload.data(), e.payload.size(), rapidjson::kObjectType);
    } else if (payloads && e.payload_size > 0) {
      w.Key("data_size");
      w.Uint64(e.payload_size);
    }
    w.Key("sinks");
    w.StartArray();
    for (const auto& s : e.sinks) {
      w.StartObject();
      str("sink", s.sink);
      str("outcome", to_string(s.outcome));
      w.Key("attempt");
      w.Uint(s.attempt);
      if (!s.error.empty()) str("error", s.error);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace switchyard::runtime
