#pragma once
// Parsing untrusted JSON with a limit on nesting depth. RapidJSON's recursive parser (and
// every recursive walk of the document afterwards, such as serialising it) would otherwise
// overflow a thread's stack on a body of a few thousand '['. The limit is enforced while
// parsing, in the same pass: a request body is read once.
//
// Where simdjson is installed it reads bodies up to 256 KiB first (about twice as fast as
// RapidJSON on webhook payloads, building the document included); whatever it refuses
// (invalid JSON, too deep, invalid UTF-8, integers beyond 64 bits), and larger bodies, are
// parsed by RapidJSON, which decides. Either way the document is the one RapidJSON's own
// reader would build, with two differences when simdjson read the body: every decimal is
// the nearest double (RapidJSON's fast reading of one with many digits can be off in its
// last digits), and a zero with a huge exponent ("0e400", valid JSON) is 0 where RapidJSON
// refuses it. A UTF-8 byte order mark before the text is skipped; numbers beyond the
// double range (9.9e308) and text that is not valid UTF-8 are refused by both.

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

namespace switchyard::json_limits {

/// The deepest nesting of arrays and objects a payload may have.
inline constexpr int kMaxDepth = 128;

/// How a parse ended.
enum class Outcome { ok, invalid, too_deep };

struct ParseResult {
  Outcome outcome = Outcome::ok;
  std::size_t offset = 0;  ///< where an invalid document stopped making sense
  explicit operator bool() const { return outcome == Outcome::ok; }
};

/// Parses `json` into `doc` (replacing what it held), refusing nesting deeper than
/// `max_depth`. On failure `doc` is left as it was.
///
/// `json` must be followed by a NUL byte that is not part of it, as a std::string's text
/// and an HttpRequest's body are: RapidJSON then reads it in place as a terminated string,
/// scanning 16 bytes at a time.
ParseResult parse(rapidjson::Document& doc, std::string_view json, int max_depth = kMaxDepth);

namespace detail {
/// RapidJSON alone: the reference that parse() agrees with (tests and fuzzing compare them).
ParseResult parse_rapidjson(rapidjson::Document& doc, std::string_view json, int max_depth);
}  // namespace detail

}  // namespace switchyard::json_limits
