#include "runtime/held_payload.hpp"

#include "journal/codec.hpp"

namespace switchyard::runtime {
namespace {

// The runner holds the only reference to an event it shelves, and events are made mutable
// (shared read-only only once they fan out), so changing it through the reference is sound.
Event& sole(EventPtr& event) { return const_cast<Event&>(*event); }

}  // namespace

bool shelve_payload(Event& e, std::size_t min_tree) {
  if (e.raw_data().empty()) return false;
  const std::size_t tree = e.memory_size() - e.raw_data().size();
  if (tree < min_tree) return false;
  // `meta` lives in the allocator that is about to be emptied: it moves out and back.
  rapidjson::Document meta;
  meta.CopyFrom(e.meta, meta.GetAllocator());
  e.data.SetNull();
  e.meta.SetNull();
  e.allocator().Clear();
  e.meta.CopyFrom(meta, e.allocator());
  return true;
}

Status unshelve_payload(Event& event) { return journal::parse_payload(event); }

bool shelve_payload(EventPtr& event, std::size_t min_tree) {
  return event && event.use_count() == 1 && shelve_payload(sole(event), min_tree);
}

Status unshelve_payload(EventPtr& event) { return unshelve_payload(sole(event)); }

}  // namespace switchyard::runtime
