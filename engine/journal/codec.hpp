#pragma once
// How an event is stored in the journal and the dead-letter queue: one line of envelope
// JSON (id, source, type, subject, time in Unix ms, pipeline, meta), a newline, then the
// payload JSON. The payload is parsed straight into the event's own allocator on decode.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "journal/journal.hpp"
#include "switchyard/event.hpp"
#include "switchyard/result.hpp"

namespace switchyard::journal {

/// The stored form of `event`.
std::string encode_event(const Event& event);

/// encode_event() in two pieces, so that a received payload is not copied on its way to the
/// event log: `head`, the envelope line (followed by the payload serialised from `data` when
/// the event kept no received bytes), then `payload`, the event's raw_data() itself (empty
/// when `head` holds it all): a view that lives as long as the event's bytes stay as they are.
struct EncodedEvent {
  std::string head;
  std::string_view payload;
};
EncodedEvent encode_event_pieces(const Event& event);

/// The receipt time (Unix ms) in a stored event's envelope line; nullopt when unreadable.
std::optional<std::int64_t> envelope_time_ms(std::string_view envelope);

/// State writes as the event log keeps them with their event (per write: erase u8, expires
/// i64, key size u32, key, value size u32, value; little-endian).
std::string encode_state_writes(const StateWrites& writes);
Result<StateWrites> decode_state_writes(std::string_view bytes);

enum class Payload {
  parsed,    ///< `data` holds the payload
  deferred,  ///< only raw_data() does, until parse_payload(): for an event that waits first
};

/// The event stored as `body`; an error says what is malformed (with a deferred payload,
/// only the envelope is checked here).
Result<std::unique_ptr<Event>> decode_event(std::string_view body, Payload payload = Payload::parsed);

/// Parses `event.raw_data()` into `event.data`, as decode_event() does; on error `data` is
/// null and the error says why.
Status parse_payload(Event& event);

}  // namespace switchyard::journal
