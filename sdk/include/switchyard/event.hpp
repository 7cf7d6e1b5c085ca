#pragma once
// The event: a CloudEvents 1.0 envelope around a JSON document.
// https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/detail/json_escape.hpp"

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
  /// The payload ("payload" in expressions). A source may leave it null and keep the
  /// payload only as raw_data(), bytes it has checked to be one JSON value (as
  /// json_limits::check does): the payload is then deferred (payload_deferred()), and the
  /// engine parses it before a transform, an `if:` or `order_key`, or a sink that reads the
  /// payload (Sink::reads_payload) has the event; a pipeline that needs none of them never
  /// builds the tree.
  rapidjson::Document data;
  rapidjson::Value meta;     ///< Object of source metadata (selected headers...), allocated from allocator().
  std::string pipeline;      ///< Extension: the pipeline carrying the event (set by the engine).
  std::uint32_t attempt = 0; ///< Extension: delivery attempt, 1-based once a sink has tried it.
  /// Sinks deliver the event no earlier than this (set by a transform, e.g. rate_limit's
  /// delay mode; kept in the journal). The epoch, the default, means at once.
  std::chrono::system_clock::time_point not_before{};

  /// The allocator for values stored in data and meta.
  Allocator& allocator() { return allocator_; }

  /// The payload's JSON text as the source received it, while `data` is what was parsed
  /// from it; empty when no source kept it. The journal stores these bytes and the sinks
  /// that forward the CloudEvent write them, instead of serialising `data` again. The
  /// engine forgets them before a transform that may change the payload runs (see
  /// Transform::changes_payload); whoever changes `data` elsewhere calls clear_raw_data().
  /// Never contains a line break, so a CloudEvent written with it stays on one line.
  /// Equal in meaning to `data`, not always in spelling: "\u00e9" stays an escape, a
  /// number keeps its digits (also beyond 64 bits, which `data` holds as a double). While
  /// a large event waits, the engine may keep only these bytes and parse `data` again from
  /// them before a component sees it: never set them for a `data` they do not parse to.
  std::string_view raw_data() const { return raw_data_; }
  /// True while the payload is only raw_data(): `data` not parsed from it yet (see `data`).
  bool payload_deferred() const { return data.IsNull() && !raw_data_.empty(); }

  /// Keeps `json`, the text `data` was parsed from (valid JSON, as a parser accepted it),
  /// as the payload's bytes. Text with line breaks (pretty-printed) is kept without the
  /// whitespace between its tokens, and a UTF-8 byte order mark is dropped.
  void set_raw_data(std::string_view json) {
    if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
    if (std::memchr(json.data(), '\n', json.size()) == nullptr &&
        std::memchr(json.data(), '\r', json.size()) == nullptr) {
      raw_data_.assign(json);
      return;
    }
    // Strings are copied a run at a time (up to the next quote or backslash), whitespace
    // between tokens is skipped, anything else copied.
    raw_data_.resize(json.size());
    char* out = raw_data_.data();
    const char* p = json.data();
    const char* const end = p + json.size();
    while (p < end) {
      const char c = *p++;
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      *out++ = c;
      if (c != '"') continue;
      while (p < end) {
        const char* run = p;
        while (p < end && *p != '"' && *p != '\\') ++p;
        std::memcpy(out, run, static_cast<std::size_t>(p - run));
        out += p - run;
        if (p == end) break;
        *out++ = *p;
        if (*p++ == '"') break;
        if (p < end) *out++ = *p++;  // the escaped character
      }
    }
    raw_data_.resize(static_cast<std::size_t>(out - raw_data_.data()));
  }

  /// Forgets the kept payload bytes (after `data` changed).
  void clear_raw_data() { std::string().swap(raw_data_); }

  /// Keeps `value` under `name` with the event, in memory only: for a value a component
  /// further down needs that must never be stored (a Discord interaction's token, which
  /// discord.reply answers with). Secrets are not written to the journal, the dead-letter
  /// queue, a CloudEvent, the admin API or a log, and are not in `data` for expressions; an
  /// event read back from the journal (after a restart, a replay) has none.
  void set_secret(std::string_view name, std::string value) {
    for (auto& [key, kept] : secrets_) {
      if (key == name) {
        kept = std::move(value);
        return;
      }
    }
    secrets_.emplace_back(std::string(name), std::move(value));
  }
  /// The secret kept under `name`, or nullopt.
  std::optional<std::string_view> secret(std::string_view name) const {
    for (const auto& [key, kept] : secrets_) {
      if (key == name) return std::string_view(kept);
    }
    return std::nullopt;
  }

  /// A key its source asked the engine to remember once the event is accepted.
  struct Remembered {
    std::string key;
    std::chrono::milliseconds ttl{0};
  };
  /// Asks the engine to remember `key` in the emitting source's state store for `ttl`
  /// (StateStore::remembers() then answers true; zero: for good) once its pipeline accepts
  /// this event, and only then: the key is written to the journal in the event's own
  /// record, so no crash leaves it remembered for an event that was lost (whose redelivery
  /// would then be taken for a duplicate), and it costs no write of its own. For a sender's
  /// delivery id. A copy of the event (clone()) does not carry it.
  void remember_when_accepted(std::string key, std::chrono::milliseconds ttl) {
    remembered_.push_back(Remembered{std::move(key), ttl});
  }
  /// What remember_when_accepted() asked for, handed over once: the engine (or a test's
  /// emitter) takes it as it accepts the event.
  std::vector<Remembered> take_remembered() { return std::exchange(remembered_, {}); }

  /// About the memory the event holds (its JSON values and strings): what the engine's
  /// byte bounds (queue_bytes) count.
  std::size_t memory_size() const {
    return sizeof(Event) + allocator_.Capacity() + id.capacity() + source.capacity() + type.capacity() +
           subject.capacity() + pipeline.capacity() + raw_data_.capacity() +
           secrets_.capacity() * sizeof(secrets_[0]);
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
    copy->raw_data_ = raw_data_;
    copy->secrets_ = secrets_;
    return copy;
  }

 private:
  std::string raw_data_;
  std::vector<std::pair<std::string, std::string>> secrets_;
  std::vector<Remembered> remembered_;
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

/// The length of an RFC 3339 time as format_rfc3339() writes it for years 0 to 9999.
inline constexpr std::size_t kRfc3339Size = 24;

/// Writes `tp` as RFC 3339 UTC with milliseconds ("2026-11-23T09:36:14.123Z") to `out`;
/// returns its length: kRfc3339Size, or up to 31 for a year outside 0 to 9999 (a sign, more
/// digits). Without gmtime or printf: days to a civil date by Howard Hinnant's algorithm.
inline std::size_t write_rfc3339(std::chrono::system_clock::time_point tp, char (&out)[32]) {
  const std::int64_t ms_total =
      std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  constexpr std::int64_t kDay = 86'400'000;
  std::int64_t days = ms_total / kDay, ms_of_day = ms_total % kDay;
  if (ms_of_day < 0) {
    ms_of_day += kDay;
    --days;
  }
  const std::int64_t z = days + 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const std::int64_t doe = z - era * 146'097;                                   // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                   // [0, 11]
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const std::int64_t year = yoe + era * 400 + (month <= 2);
  const int ms = static_cast<int>(ms_of_day % 1000);
  const int secs = static_cast<int>(ms_of_day / 1000);
  if (year < 0 || year > 9999) {
    return static_cast<std::size_t>(std::snprintf(out, sizeof out, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                                  static_cast<long long>(year), month, day, secs / 3600,
                                                  secs / 60 % 60, secs % 60, ms));
  }
  auto two = [&](std::size_t at, int v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  const int y = static_cast<int>(year);
  two(0, y / 100);
  two(2, y % 100);
  out[4] = '-';
  two(5, month);
  out[7] = '-';
  two(8, day);
  out[10] = 'T';
  two(11, secs / 3600);
  out[13] = ':';
  two(14, secs / 60 % 60);
  out[16] = ':';
  two(17, secs % 60);
  out[19] = '.';
  out[20] = static_cast<char>('0' + ms / 100);
  two(21, ms % 100);
  out[23] = 'Z';
  return kRfc3339Size;
}

/// RFC 3339 UTC with milliseconds, e.g. "2026-11-23T09:36:14.123Z".
inline std::string format_rfc3339(std::chrono::system_clock::time_point tp) {
  char buf[32];
  return std::string(buf, write_rfc3339(tp, buf));
}

namespace detail {
/// The CloudEvents members of an event but `data`, in an object a writer has started.
template <class Writer>
void write_cloudevent_envelope(const Event& event, Writer& w) {
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.Key("specversion");
  w.String("1.0");
  str("id", event.id);
  str("source", event.source);
  str("type", event.type);
  if (!event.subject.empty()) str("subject", event.subject);
  char time[32];
  w.Key("time");
  w.String(time, static_cast<rapidjson::SizeType>(write_rfc3339(event.time, time)));
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
}

/// Appends `text` as a JSON string to `out`: controls, '"' and '\\' escaped (\u00XX in
/// upper case, as RapidJSON's writer writes them), other bytes as they are.
inline void append_json_string(std::string_view text, rapidjson::StringBuffer& out) {
  out.Put('"');
  escape_json(text, "0123456789ABCDEF",
              [&](const char* p, std::size_t n) { std::memcpy(out.Push(n), p, n); });
  out.Put('"');
}

inline void append_raw(std::string_view text, rapidjson::StringBuffer& out) {
  std::memcpy(out.Push(text.size()), text.data(), text.size());
}

/// Appends `value` as RapidJSON's writer writes it: an object of strings (an event's meta,
/// as sources set it) directly, anything else through a writer.
inline void append_json_value(const rapidjson::Value& value, rapidjson::StringBuffer& out) {
  if (value.IsString()) return append_json_string({value.GetString(), value.GetStringLength()}, out);
  if (value.IsObject()) {
    out.Put('{');
    bool first = true;
    for (const auto& m : value.GetObject()) {
      if (!first) out.Put(',');
      first = false;
      append_json_string({m.name.GetString(), m.name.GetStringLength()}, out);
      out.Put(':');
      append_json_value(m.value, out);
    }
    out.Put('}');
    return;
  }
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  value.Accept(writer);
}

/// What write_cloudevent_envelope() writes with a compact writer into a started object,
/// the object's '{' included, without a writer: a few memcpy and the escaping its strings
/// need (the file sink's and the http sink's every line).
inline void append_cloudevent_envelope(const Event& event, rapidjson::StringBuffer& out) {
  auto member = [&](std::string_view key, const std::string& value) {
    append_raw(key, out);
    append_json_string(value, out);
  };
  append_raw(R"({"specversion":"1.0")", out);
  member(R"(,"id":)", event.id);
  member(R"(,"source":)", event.source);
  member(R"(,"type":)", event.type);
  if (!event.subject.empty()) member(R"(,"subject":)", event.subject);
  char time[32];
  append_raw(R"(,"time":")", out);
  append_raw({time, write_rfc3339(event.time, time)}, out);
  append_raw(R"(","datacontenttype":"application/json")", out);
  if (!event.pipeline.empty()) member(R"(,"pipeline":)", event.pipeline);
  if (event.attempt > 0) {
    append_raw(R"(,"attempt":)", out);
    append_raw(std::to_string(event.attempt), out);
  }
  if (event.meta.IsObject() && event.meta.MemberCount() > 0) {
    append_raw(R"(,"meta":)", out);
    append_json_value(event.meta, out);
  }
}
}  // namespace detail

/// Writes the structured-mode CloudEvents JSON of an event with a RapidJSON writer. The
/// payload is the event's received bytes when it has them (Event::raw_data) and
/// `use_raw_data` holds (a pretty writer wants `data`, to indent it), else `data`.
template <class Writer>
void write_cloudevent(const Event& event, Writer& w, bool use_raw_data = true) {
  w.StartObject();
  detail::write_cloudevent_envelope(event, w);
  w.Key("data");
  if (const std::string_view raw = event.raw_data(); use_raw_data && !raw.empty()) {
    w.RawValue(raw.data(), raw.size(), event.data.GetType());
  } else {
    event.data.Accept(w);
  }
  w.EndObject();
}

/// Appends the structured-mode CloudEvents JSON of an event, on one line, to `out`: the
/// received payload bytes (Event::raw_data) copied in one piece when there are some.
inline void append_cloudevent_json(const Event& event, std::string& out) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  const std::string_view raw = event.raw_data();
  if (raw.empty()) {
    write_cloudevent(event, writer);
    out.append(buffer.GetString(), buffer.GetSize());
    return;
  }
  detail::append_cloudevent_envelope(event, buffer);
  detail::append_raw(R"(,"data":)", buffer);
  out.reserve(out.size() + buffer.GetSize() + raw.size() + 1);
  out.append(buffer.GetString(), buffer.GetSize()).append(raw).append(1, '}');
}

/// The structured-mode CloudEvents JSON of an event, on one line.
inline std::string to_cloudevent_json(const Event& event) {
  std::string out;
  append_cloudevent_json(event, out);
  return out;
}

}  // namespace switchyard
