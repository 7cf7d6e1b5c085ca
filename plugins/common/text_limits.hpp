#pragma once
// Chat services count message limits in characters (Unicode code points), not bytes.
// These helpers measure, cut and split UTF-8 text by code points and never cut inside a
// character, so what reaches the service is always valid UTF-8.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::text {

/// Code points in `s` (bytes that do not start a character are not counted).
std::size_t length(std::string_view s);

/// `s` cut to at most `max` code points; when cut, the last one kept is "…".
std::string truncate(std::string_view s, std::size_t max);

/// `s` in pieces of at most `max` code points each, cut after the last line break that
/// fits, else after the last space, else between characters. Joined, the pieces give `s`
/// back. An empty `s` gives no pieces.
std::vector<std::string> split(std::string_view s, std::size_t max);

}  // namespace switchyard::text
