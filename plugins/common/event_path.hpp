#pragma once
// Where a transform attaches what it fetched: `meta.<name>[.<name>...]` or
// `payload.<name>[.<name>...]` (the `into` option of http.request; postgres.query reads
// the same grammar). Objects on the way are created; a value already there is replaced.

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

#include "switchyard/event.hpp"
#include "switchyard/result.hpp"

namespace switchyard::event_path {

class Path {
 public:
  /// Parses "meta.a.b" or "payload.a"; an invalid_config error names the expected form.
  static Result<Path> parse(std::string_view text);

  /// Sets the value at this path in `event` to `value` (moved; allocated from the event's
  /// allocator). A permanent error when the payload is neither an object nor null.
  Status set(Event& event, rapidjson::Value& value) const;

 private:
  bool meta_ = true;
  std::vector<std::string> keys_;
};

}  // namespace switchyard::event_path
