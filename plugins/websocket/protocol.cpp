#include "protocol.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

#include "common/json_limits.hpp"
#include "switchyard/http.hpp"

namespace switchyard::websocket {
namespace {

std::string quote(std::string_view text) { return HttpResponse::json_quote(text); }

}  // namespace

std::string room_problem(std::string_view room) {
  if (room.empty() || room.size() > kMaxRoomBytes) {
    return "room must be a string of 1 to " + std::to_string(kMaxRoomBytes) + " bytes";
  }
  for (char c : room) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "room must not hold control characters";
  }
  return {};
}

Result<ClientMessage> parse_client_message(const std::string& text) {
  rapidjson::Document doc;
  if (!json_limits::parse(doc, text, 4) || !doc.IsObject()) return permanent("not a JSON object");
  auto op = doc.FindMember("op");
  if (op == doc.MemberEnd() || !op->value.IsString()) return permanent("op missing");
  const std::string_view name(op->value.GetString(), op->value.GetStringLength());
  ClientMessage out;
  if (name == "ping") {
    out.op = ClientMessage::Op::ping;
    return out;
  }
  if (name == "subscribe") {
    out.op = ClientMessage::Op::subscribe;
  } else if (name == "unsubscribe") {
    out.op = ClientMessage::Op::unsubscribe;
  } else {
    return permanent("unknown op (subscribe, unsubscribe, ping)");
  }
  auto room = doc.FindMember("room");
  if (room == doc.MemberEnd() || !room->value.IsString()) return permanent("room missing");
  out.room.assign(room->value.GetString(), room->value.GetStringLength());
  if (std::string problem = room_problem(out.room); !problem.empty()) return permanent(problem);
  if (auto after = doc.FindMember("after"); after != doc.MemberEnd() && out.op == ClientMessage::Op::subscribe) {
    const auto& v = after->value;
    if (v.IsUint64() && v.GetUint64() <= kMaxSeq) {
      out.after = v.GetUint64();
    } else if (v.IsDouble() && std::isfinite(v.GetDouble()) && v.GetDouble() >= 0 &&
               v.GetDouble() <= static_cast<double>(kMaxSeq) && std::trunc(v.GetDouble()) == v.GetDouble()) {
      out.after = static_cast<std::uint64_t>(v.GetDouble());  // 12.0 from a client's arithmetic
    } else if (!v.IsNull()) {
      return permanent("after must be a whole number from 0 to 2^53-1");
    }
  }
  return out;
}

std::string subscribed_message(std::string_view room, std::uint64_t seq) {
  return R"({"op":"subscribed","room":)" + quote(room) + R"(,"seq":)" + std::to_string(seq) + "}";
}

std::string gap_message(std::string_view room, std::uint64_t from, std::uint64_t to) {
  return R"({"op":"gap","room":)" + quote(room) + R"(,"from":)" + std::to_string(from) + R"(,"to":)" +
         std::to_string(to) + "}";
}

std::string error_message(std::string_view reason, std::string_view room) {
  std::string out = R"({"op":"error","reason":)" + quote(reason);
  if (!room.empty()) out += R"(,"room":)" + quote(room);
  return out + "}";
}

std::string event_message(std::string_view room, std::uint64_t seq, std::string_view event_json) {
  std::string out;
  out.reserve(event_json.size() + room.size() + 64);
  out += R"({"op":"event","room":)";
  out += quote(room);
  out += R"(,"seq":)";
  out += std::to_string(seq);
  out += R"(,"event":)";
  out += event_json;
  out += '}';
  return out;
}

std::string cloudevent_json(const Event& event, const rapidjson::Value* data) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  // write_cloudevent's envelope without `meta` (request headers the source kept: not for
  // every dashboard to read) and `attempt` (differs between deliveries of the same event).
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
  str("time", format_rfc3339(event.time));
  w.Key("datacontenttype");
  w.String("application/json");
  if (!event.pipeline.empty()) str("pipeline", event.pipeline);
  w.Key("data");
  if (data == nullptr && !event.raw_data().empty()) {
    w.RawValue(event.raw_data().data(), event.raw_data().size(), event.data.GetType());  // as received
  } else {
    (data != nullptr ? *data : static_cast<const rapidjson::Value&>(event.data)).Accept(w);
  }
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace switchyard::websocket
