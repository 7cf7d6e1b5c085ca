#pragma once
// An event that waits — in a sink's window behind others, or until it is due — need not
// hold its payload twice: as the bytes it was received as (Event::raw_data) and as the
// parsed tree (`data`), which costs 1.2x (long strings) to 2.7x (many small objects) the
// text again. While it waits the sink runner keeps the bytes only, and parses them again
// just before the sink has the event: a large body then costs about its size in the window,
// and queue_bytes admits that many more events. Events read back from the journal arrive
// this way (journal::Payload::deferred) and are parsed once, when their turn comes.

#include "switchyard/event.hpp"
#include "switchyard/result.hpp"

namespace switchyard::runtime {

/// Parsed trees smaller than this are kept: parsing them again would cost more than they hold.
inline constexpr std::size_t kShelveTreesFrom = 16 * 1024;

/// Frees the parsed payload of `event`, keeping its envelope, metadata, secrets and raw
/// bytes, when that is safe (`event` is the only reference to it), possible (raw_data()
/// holds the payload) and worth it (kShelveTreesFrom). True when it did: `data` is null
/// until unshelve_payload().
bool shelve_payload(EventPtr& event);

/// Parses a shelved payload back from its bytes (into the same event, which the caller
/// alone holds). An error only when they no longer parse.
Status unshelve_payload(EventPtr& event);

}  // namespace switchyard::runtime
