#pragma once
// The websocket sink's protocol: small JSON messages, one per text frame (public interface:
// docs/plugins/websocket.md).
//   client → server  {"op":"subscribe","room":R}  {"op":"subscribe","room":R,"after":SEQ}
//                    {"op":"unsubscribe","room":R}  {"op":"ping"}
//   server → client  {"op":"subscribed","room":R,"seq":LAST}
//                    {"op":"event","room":R,"seq":N,"event":<CloudEvent>}
//                    {"op":"gap","room":R,"from":A,"to":B}  {"op":"error","reason":"..."}
//                    {"op":"pong"}

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/event.hpp"
#include "switchyard/result.hpp"

namespace switchyard::websocket {

/// Longest room name, in bytes.
inline constexpr std::size_t kMaxRoomBytes = 256;
/// The largest seq a client may send: integers above 2^53 do not survive JavaScript's numbers.
inline constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 53) - 1;

/// A message from a client.
struct ClientMessage {
  enum class Op { subscribe, unsubscribe, ping };
  Op op = Op::ping;
  std::string room;
  std::optional<std::uint64_t> after;  ///< subscribe: the last seq the client has
};

/// Reads one client message; a permanent error whose message is the reason to send back.
Result<ClientMessage> parse_client_message(const std::string& text);

/// Why `room` cannot be a room name (empty when it can): 1 to kMaxRoomBytes bytes, no
/// control characters.
std::string room_problem(std::string_view room);

std::string subscribed_message(std::string_view room, std::uint64_t seq);
std::string gap_message(std::string_view room, std::uint64_t from, std::uint64_t to);
/// {"op":"error","reason":..}, with "room" when the error concerns one.
std::string error_message(std::string_view reason, std::string_view room = {});
inline constexpr std::string_view kPongMessage = R"({"op":"pong"})";
/// {"op":"event","room":R,"seq":N,"event":<event_json>}; `event_json` is already JSON.
std::string event_message(std::string_view room, std::uint64_t seq, std::string_view event_json);

/// The structured CloudEvents JSON of `event` (id, source, type, subject, time, pipeline,
/// data; not the source's meta), with `data` in place of its payload when given.
std::string cloudevent_json(const Event& event, const rapidjson::Value* data = nullptr);

}  // namespace switchyard::websocket
