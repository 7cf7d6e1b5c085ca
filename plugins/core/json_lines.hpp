#pragma once
// JSON-lines rendering shared by the stdout and file sinks.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "switchyard/event.hpp"

namespace switchyard::core {

/// What a line holds: the structured CloudEvent, or only the payload.
enum class LineFormat { cloudevent, data };

inline constexpr const char* kLineFormats[] = {"cloudevent", "data"};

inline LineFormat parse_line_format(std::string_view text) {
  return text == "data" ? LineFormat::data : LineFormat::cloudevent;
}

/// Appends one event as JSON plus "\n" to `out`.
/// A payload the source kept as received (Event::raw_data) is written as those bytes, not
/// serialised again, unless `pretty` asks for it indented.
inline void append_json_line(const Event& event, LineFormat format, bool pretty, std::string& out) {
  if (!pretty && format == LineFormat::cloudevent) {
    append_cloudevent_json(event, out);
    out.push_back('\n');
    return;
  }
  if (!pretty && !event.raw_data().empty()) {
    out.append(event.raw_data());
    out.push_back('\n');
    return;
  }
  rapidjson::StringBuffer buffer;
  auto write = [&](auto& writer) {
    if (format == LineFormat::data) {
      event.data.Accept(writer);
    } else {
      write_cloudevent(event, writer, /*use_raw_data=*/false);  // only pretty gets here: indented from data
    }
  };
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    write(writer);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    write(writer);
  }
  out.append(buffer.GetString(), buffer.GetSize());
  out.push_back('\n');
}

/// One event's JSON line (as append_json_line writes it) in up to three pieces, so a sink
/// can write a received payload (Event::raw_data) from where it is instead of copying it
/// into the line first: `head` (in `buffer`), then `payload`, then `tail`.
struct LinePieces {
  std::string_view head, payload, tail;
};

inline LinePieces json_line_pieces(const Event& event, LineFormat format, bool pretty, std::string& buffer) {
  buffer.clear();
  const std::string_view raw = event.raw_data();
  if (pretty || raw.empty()) {
    append_json_line(event, format, pretty, buffer);
    return {.head = buffer};
  }
  if (format == LineFormat::data) return {.payload = raw, .tail = "\n"};
  rapidjson::StringBuffer envelope;
  rapidjson::Writer<rapidjson::StringBuffer> writer(envelope);
  writer.StartObject();
  detail::write_cloudevent_envelope(event, writer);
  writer.Key("data");  // as append_cloudevent_json: the value and the closing brace follow
  buffer.append(envelope.GetString(), envelope.GetSize()).push_back(':');
  return {.head = buffer, .payload = raw, .tail = "}\n"};
}

}  // namespace switchyard::core
