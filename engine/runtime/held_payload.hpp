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
/// Trees from kShelveTreesFrom up to this are freed only when the wait is long (a delay, a
/// retry's back-off) or the window is filling: an event that waits behind one delivery of
/// a sink that keeps up would otherwise be parsed twice for nothing.
inline constexpr std::size_t kShelveAlwaysFrom = 256 * 1024;

/// Frees the parsed payload of `event`, keeping its envelope, metadata, secrets and raw
/// bytes, when that is safe (`event` is the only reference to it), possible (raw_data()
/// holds the payload) and worth it (a tree of `min_tree` bytes or more). True when it did:
/// `data` is null until unshelve_payload().
bool shelve_payload(EventPtr& event, std::size_t min_tree = kShelveTreesFrom);

/// Parses a shelved payload back from its bytes (into the same event, which the caller
/// alone holds). An error only when they no longer parse.
Status unshelve_payload(EventPtr& event);

/// The same for an event not yet shared (waiting for the transforms).
bool shelve_payload(Event& event, std::size_t min_tree = kShelveTreesFrom);
Status unshelve_payload(Event& event);

}  // namespace switchyard::runtime
