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

/// Writes the line of an event whose payload is written from `data` (the event kept no
/// received bytes, or `pretty` asks for it indented), without the newline, to `buffer`.
inline void write_line_from_data(const Event& event, LineFormat format, bool pretty, rapidjson::StringBuffer& buffer) {
  auto write = [&](auto& writer) {
    if (format == LineFormat::data) {
      event.data.Accept(writer);
    } else {
      write_cloudevent(event, writer, /*use_raw_data=*/false);
    }
  };
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    write(writer);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    write(writer);
  }
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
  write_line_from_data(event, format, pretty, buffer);
  out.append(buffer.GetString(), buffer.GetSize());
  out.push_back('\n');
}

/// One event's JSON line (as append_json_line writes it) in up to three pieces, so a sink
/// can write a received payload (Event::raw_data) from where it is instead of copying it
/// into the line first: `head` (in the sink's buffer), then `payload`, then `tail`.
struct LinePieces {
  std::string_view head, payload, tail;
};

/// What a sink keeps between lines to render them in: its memory is used again.
using LineBuffer = rapidjson::StringBuffer;

inline LinePieces json_line_pieces(const Event& event, LineFormat format, bool pretty, LineBuffer& buffer) {
  buffer.Clear();
  const std::string_view raw = event.raw_data();
  if (!pretty && !raw.empty() && format == LineFormat::data) return {.payload = raw, .tail = "\n"};
  if (!pretty && !raw.empty()) {  // as append_cloudevent_json
    detail::append_cloudevent_envelope(event, buffer);
    detail::append_raw(R"(,"data":)", buffer);
    return {.head = {buffer.GetString(), buffer.GetSize()}, .payload = raw, .tail = "}\n"};
  }
  write_line_from_data(event, format, pretty, buffer);
  buffer.Put('\n');
  return {.head = {buffer.GetString(), buffer.GetSize()}};
}

}  // namespace switchyard::core
