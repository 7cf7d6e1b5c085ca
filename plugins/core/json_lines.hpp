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
inline void append_json_line(const Event& event, LineFormat format, bool pretty, std::string& out) {
  rapidjson::StringBuffer buffer;
  auto write = [&](auto& writer) {
    if (format == LineFormat::data) {
      event.data.Accept(writer);
    } else {
      write_cloudevent(event, writer);
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

}  // namespace switchyard::core
