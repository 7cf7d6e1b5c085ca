#pragma once
// Limits on untrusted JSON before it is parsed: nesting depth. RapidJSON's recursive
// parser (and every recursive walk of the document afterwards, such as serialising it)
// would otherwise overflow a thread's stack on a body of a few thousand '['.

#include <cstddef>
#include <string_view>

namespace switchyard::json_limits {

/// The deepest nesting of arrays and objects a payload may have.
inline constexpr int kMaxDepth = 128;

/// Whether `json` nests arrays/objects deeper than `max_depth` (brackets inside strings,
/// escaped quotes included, do not count). Linear, no allocation.
inline bool too_deep(std::string_view json, int max_depth = kMaxDepth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace switchyard::json_limits
