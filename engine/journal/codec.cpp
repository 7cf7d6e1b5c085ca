#include "journal/codec.hpp"

#include <charconv>
#include <cstring>

#include <rapidjson/error/en.h>

namespace switchyard::journal {
namespace {

constexpr const char* kMagic = "sy1";  // first key of every envelope: the format version

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string encode_event(const Event& event) {
  EncodedEvent pieces = encode_event_pieces(event);
  if (!pieces.payload.empty()) {
    pieces.head.reserve(pieces.head.size() + pieces.payload.size());
    pieces.head.append(pieces.payload);
  }
  return std::move(pieces.head);
}

EncodedEvent encode_event_pieces(const Event& event) {
  // The thread's buffer, its memory used again: no buffer grown afresh per event. One that
  // held a large payload serialised from `data` is let go afterwards. The envelope is
  // written as RapidJSON's writer would write it (Codec.TheEnvelopeIsWhatAWriterWritesAndReadsBack),
  // without one: a few memcpy and the escaping its strings need.
  thread_local rapidjson::StringBuffer buffer;
  buffer.Clear();
  using detail::append_json_string;
  using detail::append_raw;
  auto member = [&](std::string_view key, const std::string& value) {
    append_raw(key, buffer);
    append_json_string(value, buffer);
  };
  auto integer = [&](std::string_view key, std::int64_t value) {
    append_raw(key, buffer);
    char digits[24];
    append_raw({digits, static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, value).ptr - digits)}, buffer);
  };
  auto ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  append_raw(R"({")", buffer);
  append_raw(kMagic, buffer);
  append_raw(R"(":1)", buffer);
  member(R"(,"id":)", event.id);
  member(R"(,"source":)", event.source);
  member(R"(,"type":)", event.type);
  if (!event.subject.empty()) member(R"(,"subject":)", event.subject);
  integer(R"(,"time":)", ms(event.time));
  if (!event.pipeline.empty()) member(R"(,"pipeline":)", event.pipeline);
  if (event.not_before != std::chrono::system_clock::time_point{}) integer(R"(,"not_before":)", ms(event.not_before));
  if (event.meta.IsObject() && event.meta.MemberCount() > 0) {
    append_raw(R"(,"meta":)", buffer);
    detail::append_json_value(event.meta, buffer);
  }
  append_raw("}\n", buffer);
  if (const std::string_view raw = event.raw_data(); !raw.empty()) {
    // The payload as received: stored as it came, not serialised again.
    return {.head = std::string(buffer.GetString(), buffer.GetSize()), .payload = raw};
  }
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  event.data.Accept(w);
  EncodedEvent out{.head = std::string(buffer.GetString(), buffer.GetSize())};
  if (buffer.GetSize() > (1u << 20)) {
    buffer.Clear();
    buffer.ShrinkToFit();
  }
  return out;
}

std::string encode_state_writes(const StateWrites& writes) {
  std::string out;
  auto put = [&](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  for (const auto& w : writes) {
    // What the write is: 0 a put, 1 an erase, 2 a remembered key.
    put(static_cast<std::uint8_t>(w.remember ? 2 : w.erase ? 1 : 0));
    put(static_cast<std::int64_t>(w.expires_ms));
    put(static_cast<std::uint32_t>(w.key.size()));
    out += w.key;
    put(static_cast<std::uint32_t>(w.value.size()));
    out += w.value;
  }
  return out;
}

Result<StateWrites> decode_state_writes(std::string_view bytes) {
  StateWrites out;
  auto take = [&](auto& v) {
    if (bytes.size() < sizeof v) return false;
    std::memcpy(&v, bytes.data(), sizeof v);
    bytes.remove_prefix(sizeof v);
    return true;
  };
  auto text = [&](std::string& s) {
    std::uint32_t n = 0;
    if (!take(n) || bytes.size() < n) return false;
    s.assign(bytes.data(), n);
    bytes.remove_prefix(n);
    return true;
  };
  while (!bytes.empty()) {
    std::uint8_t erase = 0;
    StateWrite w;
    if (!take(erase) || !take(w.expires_ms) || !text(w.key) || !text(w.value)) {
      return permanent("stored state writes are cut short");
    }
    if (erase > 2) return permanent("stored state write of unknown kind " + std::to_string(erase));
    w.erase = erase == 1;
    w.remember = erase == 2;
    out.push_back(std::move(w));
  }
  return out;
}

std::optional<std::int64_t> envelope_time_ms(std::string_view envelope) {
  if (const auto newline = envelope.find('\n'); newline != std::string_view::npos) envelope = envelope.substr(0, newline);
  rapidjson::Document doc;
  doc.Parse(envelope.data(), envelope.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto t = doc.FindMember("time");
  if (t == doc.MemberEnd() || !t->value.IsInt64()) return std::nullopt;
  return t->value.GetInt64();
}

Result<std::unique_ptr<Event>> decode_event(std::string_view body, Payload payload) {
  const auto newline = body.find('\n');
  if (newline == std::string_view::npos) return permanent("stored event has no payload line");
  rapidjson::Document envelope;
  envelope.Parse(body.data(), newline);
  if (envelope.HasParseError() || !envelope.IsObject()) {
    return permanent(std::string("stored event envelope is not valid JSON: ") +
                     rapidjson::GetParseError_En(envelope.GetParseError()));
  }
  auto magic = envelope.FindMember(kMagic);
  if (magic == envelope.MemberEnd() || !magic->value.IsInt() || magic->value.GetInt() != 1) {
    return permanent("stored event has an unknown format version");
  }
  auto event = std::make_unique<Event>();
  event->id = string_member(envelope, "id");
  event->source = string_member(envelope, "source");
  event->type = string_member(envelope, "type");
  event->subject = string_member(envelope, "subject");
  event->pipeline = string_member(envelope, "pipeline");
  if (auto t = envelope.FindMember("time"); t != envelope.MemberEnd() && t->value.IsInt64()) {
    event->time = std::chrono::system_clock::time_point(std::chrono::milliseconds(t->value.GetInt64()));
  }
  if (auto t = envelope.FindMember("not_before"); t != envelope.MemberEnd() && t->value.IsInt64()) {
    event->not_before = std::chrono::system_clock::time_point(std::chrono::milliseconds(t->value.GetInt64()));
  }
  if (auto m = envelope.FindMember("meta"); m != envelope.MemberEnd() && m->value.IsObject()) {
    event->meta.CopyFrom(m->value, event->allocator());  // parsed strings are copied
  }
  event->set_raw_data(body.substr(newline + 1));  // what `data` is read from: written on as it is
  if (payload == Payload::deferred) return event;
  if (auto parsed = parse_payload(*event); !parsed) return parsed.error();
  return event;
}

Status parse_payload(Event& event) {
  const std::string_view raw = event.raw_data();
  // Full precision: a decimal reads as the nearest double, as simdjson reads it at the source.
  event.data.Parse<rapidjson::kParseFullPrecisionFlag>(raw.data(), raw.size());
  if (event.data.HasParseError()) {
    const auto code = event.data.GetParseError();
    event.data.SetNull();
    return permanent(std::string("stored event payload is not valid JSON: ") + rapidjson::GetParseError_En(code));
  }
  return {};
}

}  // namespace switchyard::journal
