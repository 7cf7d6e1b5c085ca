#pragma once
// What a faked client received from the websocket sink, parsed.
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include <switchyard/testing.hpp>

namespace switchyard::websocket::test {

struct Msg {
  std::string op, room, reason;
  std::uint64_t seq = 0, from = 0, to = 0;
  std::string event_id;
  std::string text;  // as received
};

/// The messages `c` has read since the last take(), parsed; clears them.
inline std::vector<Msg> take(testing::FakeWebSocketConnection& c) {
  std::vector<Msg> out;
  for (const auto& text : c.received()) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    Msg m;
    m.text = text;
    if (d.HasParseError() || !d.IsObject()) {
      m.op = "<not JSON>";
      out.push_back(m);
      continue;
    }
    m.op = d["op"].GetString();
    if (d.HasMember("room")) m.room = d["room"].GetString();
    if (d.HasMember("reason")) m.reason = d["reason"].GetString();
    if (d.HasMember("seq")) m.seq = d["seq"].GetUint64();
    if (d.HasMember("from")) m.from = d["from"].GetUint64();
    if (d.HasMember("to")) m.to = d["to"].GetUint64();
    if (d.HasMember("event")) m.event_id = d["event"]["id"].GetString();
    out.push_back(m);
  }
  c.received().clear();
  return out;
}

}  // namespace switchyard::websocket::test
