#pragma once
// How an event is stored in the journal and the dead-letter queue: one line of envelope
// JSON (id, source, type, subject, time in Unix ms, pipeline, meta), a newline, then the
// payload JSON. The payload is parsed straight into the event's own allocator on decode.

#include <memory>
#include <string>
#include <string_view>

#include "switchyard/event.hpp"
#include "switchyard/result.hpp"

namespace switchyard::journal {

/// The stored form of `event`.
std::string encode_event(const Event& event);

/// The event stored as `body`; an error says what is malformed.
Result<std::unique_ptr<Event>> decode_event(std::string_view body);

}  // namespace switchyard::journal
