#include "message/mapping.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "common/json_limits.hpp"
#include "switchyard/time.hpp"

namespace switchyard::nats {
namespace {

constexpr std::size_t kMaxIdBytes = 512;
constexpr std::string_view kStructuredType = "application/cloudevents+json";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

bool one_line(std::string_view s) { return s.find_first_of("\r\n") == std::string_view::npos; }

std::string json_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// JSON read with the same depth limit as webhook payloads. `text` must be followed by a NUL.
Status parse_json(rapidjson::Document& doc, std::string_view text, std::string_view what) {
  const auto parsed = json_limits::parse(doc, text);
  if (parsed) return {};
  if (parsed.error().outcome == json_limits::Outcome::too_deep) {
    return permanent(std::string(what) + " nests deeper than " + std::to_string(json_limits::kMaxDepth) + " levels");
  }
  return permanent(std::string(what) + " is not JSON (offset " + std::to_string(parsed.error().offset) + ")");
}

Status set_id(Event& event, std::string_view id, std::string_view from) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return permanent(std::string(from) + " must be 1 to " + std::to_string(kMaxIdBytes) + " bytes");
  }
  event.id.assign(id);
  return {};
}

void add_metadata(Event& event, const IncomingMessage& m) {
  event.set_meta("nats-subject", m.subject);
  event.set_meta("nats-stream", m.stream);
  event.set_meta("nats-sequence", std::to_string(m.stream_sequence));
  event.set_meta("nats-delivered", std::to_string(m.delivered));
}

// {"specversion": "1.0", "id": ..., "data": ...}: the envelope into the event, `data` its payload.
Status from_structured(Event& event, rapidjson::Document& doc, const IncomingMessage& m) {
  if (!doc.IsObject()) return permanent("a structured CloudEvent must be a JSON object");
  const auto version = string_member(doc, "specversion");
  if (!version.starts_with("1.")) return permanent("specversion: expected 1.x");
  if (Status s = set_id(event, string_member(doc, "id"), "id"); !s) return s;
  event.type.assign(string_member(doc, "type"));
  event.source.assign(string_member(doc, "source"));
  if (event.type.empty() || event.source.empty()) return permanent("a CloudEvent needs type and source");
  event.subject.assign(string_member(doc, "subject"));
  const auto time = parse_rfc3339(string_member(doc, "time"));
  event.time = time.value_or(m.stored);
  if (auto meta = doc.FindMember("meta"); meta != doc.MemberEnd() && meta->value.IsObject()) {
    event.meta.CopyFrom(meta->value, event.allocator());
  }
  if (doc.HasMember("data_base64")) return permanent("data_base64 (binary data) is not supported: events carry JSON");
  rapidjson::Value data;
  if (auto it = doc.FindMember("data"); it != doc.MemberEnd()) data.Swap(it->value);
  static_cast<rapidjson::Value&>(doc).Swap(data);  // the payload becomes the root
  event.data.Swap(doc);
  return {};
}

Status from_binary(Event& event, const Headers& headers, const IncomingMessage& m) {
  auto attr = [&](std::string_view name) { return header(headers, name).value_or(std::string_view()); };
  if (!attr("ce-specversion").starts_with("1.")) return permanent("ce-specversion: expected 1.x");
  if (Status s = set_id(event, attr("ce-id"), "ce-id"); !s) return s;
  event.type.assign(attr("ce-type"));
  event.source.assign(attr("ce-source"));
  if (event.type.empty() || event.source.empty()) return permanent("a CloudEvent needs ce-type and ce-source");
  event.subject.assign(attr("ce-subject"));
  event.time = parse_rfc3339(attr("ce-time")).value_or(m.stored);
  if (const auto meta = header(headers, "ce-meta")) {
    // A header value is not followed by a NUL: copy it.
    const std::string text(*meta);
    rapidjson::Document doc;
    if (Status s = parse_json(doc, text, "ce-meta"); !s) return s;
    if (!doc.IsObject()) return permanent("ce-meta must be a JSON object");
    event.meta.CopyFrom(doc, event.allocator());
  }
  const auto type = header(headers, "content-type").value_or("application/json");
  if (istarts_with(type, "text/")) {
    event.data.SetString(m.payload.data(), static_cast<rapidjson::SizeType>(m.payload.size()), event.data.GetAllocator());
    return {};
  }
  if (!istarts_with(type, "application/json") && type.find("+json") == std::string_view::npos) {
    return permanent("data of content type '" + std::string(type.substr(0, 80)) + "' is not supported: events carry JSON");
  }
  return parse_json(event.data, m.payload, "the payload");
}

}  // namespace

std::optional<std::string_view> header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

Result<OutgoingMessage> encode(const Event& event, Mode mode, std::string subject) {
  OutgoingMessage out;
  out.subject = std::move(subject);
  for (const auto* attribute : {&event.id, &event.type, &event.source, &event.subject}) {
    if (!one_line(*attribute)) return permanent("an event attribute holding a line break cannot be a NATS header");
  }
  if (event.id.empty()) return permanent("the event has no id");
  out.headers.emplace_back("Nats-Msg-Id", event.id);
  if (mode == Mode::structured) {
    out.headers.emplace_back("Content-Type", std::string(kStructuredType));
    out.payload = to_cloudevent_json(event);
    return out;
  }
  out.headers.emplace_back("Content-Type", "application/json");
  out.headers.emplace_back("ce-specversion", "1.0");
  out.headers.emplace_back("ce-id", event.id);
  out.headers.emplace_back("ce-source", event.source);
  out.headers.emplace_back("ce-type", event.type);
  if (!event.subject.empty()) out.headers.emplace_back("ce-subject", event.subject);
  out.headers.emplace_back("ce-time", format_rfc3339(event.time));
  if (event.attempt > 0) out.headers.emplace_back("ce-attempt", std::to_string(event.attempt));  // a retry
  // Compact JSON escapes line breaks: the value stays on one line.
  if (event.meta.IsObject() && event.meta.MemberCount() > 0) out.headers.emplace_back("ce-meta", json_text(event.meta));
  out.payload = json_text(event.data);
  return out;
}

Result<std::unique_ptr<Event>> decode(const IncomingMessage& m) {
  static const Headers kNone;
  const Headers& headers = m.headers != nullptr ? *m.headers : kNone;
  auto event = std::make_unique<Event>();
  if (header(headers, "ce-specversion")) {
    if (Status s = from_binary(*event, headers, m); !s) return s.error();
  } else {
    rapidjson::Document doc;
    if (Status s = parse_json(doc, m.payload, "the payload"); !s) return s.error();
    const bool structured = istarts_with(header(headers, "content-type").value_or(""), kStructuredType) ||
                            (doc.IsObject() && !string_member(doc, "specversion").empty() && doc.HasMember("id"));
    if (structured) {
      if (Status s = from_structured(*event, doc, m); !s) return s.error();
    } else {
      // A message some other publisher wrote: its JSON is the payload; the id is the same
      // on every delivery, so dedup still holds.
      std::string id(header(headers, "Nats-Msg-Id").value_or(""));
      if (id.empty()) id = "nats:" + std::string(m.stream) + ":" + std::to_string(m.stream_sequence);
      if (Status s = set_id(*event, id, "Nats-Msg-Id"); !s) return s.error();
      event->type = "nats.message";
      event->source = "nats:" + std::string(m.stream);
      event->subject.assign(m.subject);
      event->time = m.stored;
      event->data.Swap(doc);
    }
  }
  add_metadata(*event, m);
  return event;
}

}  // namespace switchyard::nats
