#pragma once
// The event: a CloudEvents 1.0 envelope around a JSON document.
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <string_view>

namespace switchyard {

/// An event flowing through a pipeline. Owns its payload and metadata; not copyable
/// (use clone()) and not movable (its JSON values point into its own allocator).
class Event {
 public:
  using Allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;

 private:
  static constexpr std::size_t kChunkSize = 4096;
  static rapidjson::CrtAllocator& base_allocator() {
    static rapidjson::CrtAllocator instance;  // stateless; shared to save an allocation per event
    return instance;
  }
  // Declared before data and meta, which live in them. Small payloads stay inside the
  // event: no allocation for them at all.
  alignas(8) char inline_buffer_[512];
  Allocator allocator_;

 public:

  Event()
      : allocator_(inline_buffer_, sizeof inline_buffer_, kChunkSize, &base_allocator()),
        data(rapidjson::kNullType, &allocator_),
        meta(rapidjson::kObjectType) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  std::string id;       ///< Unique id: the source's own delivery id when it has one, else a UUIDv7.
  std::string source;   ///< Where it came from, e.g. "https://github.com/owner/repo".
  std::string type;     ///< Dotted type, e.g. "github.pull_request.opened".
  std::string subject;  ///< Optional: branch, PR number, command user...
  std::chrono::system_clock::time_point time;  ///< When the source saw it.
  rapidjson::Document data;  ///< The payload ("payload" in expressions).
  rapidjson::Value meta;     ///< Object of source metadata (selected headers...), allocated from allocator().
  std::string pipeline;      ///< Extension: the pipeline carrying the event (set by the engine).
  std::uint32_t attempt = 0; ///< Extension: delivery attempt, 1-based once a sink has tried it.
  /// Sinks deliver the event no earlier than this (set by a transform, e.g. rate_limit's
  /// delay mode; kept in the journal). The epoch, the default, means at once.
  std::chrono::system_clock::time_point not_before{};

  /// The allocator for values stored in data and meta.
  Allocator& allocator() { return allocator_; }

  /// About the memory the event holds (its JSON values and strings): what the engine's
  /// byte bounds (queue_bytes) count.
  std::size_t memory_size() const {
    return sizeof(Event) + allocator_.Capacity() + id.capacity() + source.capacity() + type.capacity() +
           subject.capacity() + pipeline.capacity();
  }

  /// Sets meta[name] = value (both copied).
  void set_meta(std::string_view name, std::string_view value) {
    rapidjson::Value k(name.data(), static_cast<rapidjson::SizeType>(name.size()), allocator_);
    rapidjson::Value v(value.data(), static_cast<rapidjson::SizeType>(value.size()), allocator_);
    auto it = meta.FindMember(k);
    if (it != meta.MemberEnd()) {
      it->value = std::move(v);
    } else {
      meta.AddMember(k, v, allocator_);
    }
  }

  /// A deep copy with the same envelope, payload and metadata.
  std::unique_ptr<Event> clone() const {
    auto copy = std::make_unique<Event>();
    copy->id = id;
    copy->source = source;
    copy->type = type;
    copy->subject = subject;
    copy->time = time;
    copy->data.CopyFrom(data, copy->allocator_);
    copy->meta.CopyFrom(meta, copy->allocator_);
    copy->pipeline = pipeline;
    copy->attempt = attempt;
    copy->not_before = not_before;
    return copy;
  }

};

/// Events are shared read-only once they fan out to sinks.
using EventPtr = std::shared_ptr<const Event>;

/// A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits.
inline std::string make_event_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::uint64_t r1 = rng();
  const std::uint64_t r2 = rng();
  const std::uint64_t hi = (ms << 16) | 0x7000u | (r1 & 0x0fffu);
  const std::uint64_t lo = (r2 & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = kHex[(v >> (i * 4)) & 0xf];
    }
  };
  put(hi, 16);
  put(lo, 16);
  return out;
}

/// RFC 3339 UTC with milliseconds, e.g. "2026-11-23T09:36:14.123Z".
inline std::string format_rfc3339(std::chrono::system_clock::time_point tp) {
  const auto ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
  int ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) { ms += 1000; --secs; }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

/// Writes the structured-mode CloudEvents JSON of an event with a RapidJSON writer.
template <class Writer>
void write_cloudevent(const Event& event, Writer& w) {
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  w.Key("specversion");
  w.String("1.0");
  str("id", event.id);
  str("source", event.source);
  str("type", event.type);
  if (!event.subject.empty()) str("subject", event.subject);
  const std::string time = format_rfc3339(event.time);
  str("time", time);
  w.Key("datacontenttype");
  w.String("application/json");
  if (!event.pipeline.empty()) str("pipeline", event.pipeline);
  if (event.attempt > 0) {
    w.Key("attempt");
    w.Uint(event.attempt);
  }
  if (event.meta.IsObject() && event.meta.MemberCount() > 0) {
    w.Key("meta");
    event.meta.Accept(w);
  }
  w.Key("data");
  event.data.Accept(w);
  w.EndObject();
}

/// The structured-mode CloudEvents JSON of an event, on one line.
inline std::string to_cloudevent_json(const Event& event) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  write_cloudevent(event, writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace switchyard
