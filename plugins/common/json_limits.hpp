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

#include "switchyard/result.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace switchyard::json_limits {

/// The deepest nesting of arrays and objects a payload may have.
inline constexpr int kMaxDepth = 128;

/// Why a parse failed. An object naming one key twice is refused (duplicate_key): JSON
/// readers disagree on which value counts (RapidJSON finds the first, JavaScript keeps the
/// last), so the engine and a consumer downstream could read two different payloads.
enum class Outcome { ok, invalid, too_deep, duplicate_key };

struct JsonError {
  Outcome outcome = Outcome::invalid;  ///< never ok
  std::size_t offset = 0;              ///< where an invalid document stopped making sense
  std::string key;                     ///< duplicate_key: the key (at most 64 bytes of it)
};

/// Success, or why not (the SDK's Result, with the error a caller answers from).
using ParseResult = Result<void, JsonError>;

/// How a parse ended: Outcome::ok, or its error's.
inline Outcome outcome_of(const ParseResult& result) { return result ? Outcome::ok : result.error().outcome; }

/// Where `text` stops being UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
/// U+10FFFF), or npos when it is UTF-8 throughout.
std::size_t first_invalid_utf8(std::string_view text);

/// Parses `json` into `doc` (replacing what it held), refusing nesting deeper than
/// `max_depth`. On failure `doc` is left as it was.
///
/// `json` must be followed by a NUL byte that is not part of it, as a std::string's text
/// and an HttpRequest's body are: RapidJSON then reads it in place as a terminated string,
/// scanning 16 bytes at a time.
ParseResult parse(rapidjson::Document& doc, std::string_view json, int max_depth = kMaxDepth);

/// Whether check() builds the payload's tree: `always` (something downstream reads the
/// payload: Emitter::payload_read) or only where it must (`if_needed`).
enum class Tree { if_needed, always };

/// What a source reads of a payload to make its event's envelope: strings and integers at
/// a path of member names, read from the parsed tree or, when check() built none, from the
/// parse itself.
class PayloadFields {
 public:
  /// Fields of a parsed tree (which must outlive this).
  explicit PayloadFields(const rapidjson::Value& tree) : tree_(&tree) {}
  bool is_object() const;
  /// The string at `path`, or an integer there as its decimal digits; "" when there is
  /// none, or something else.
  std::string text(std::initializer_list<std::string_view> path) const { return read(path, true); }
  /// The string at `path`; "" when there is none, or something else.
  std::string string(std::initializer_list<std::string_view> path) const { return read(path, false); }

 private:
  std::string read(std::initializer_list<std::string_view> path, bool integers) const;
  friend Result<PayloadFields, JsonError> check(rapidjson::Document&, std::string_view, Tree, int);
  PayloadFields() = default;
  const rapidjson::Value* tree_ = nullptr;
  std::uint64_t parse_ = 0;  // without a tree: the thread's parse these fields read
};

/// Checks `json` as parse() does (the same errors). With Tree::if_needed it builds no tree
/// where it can: for bodies simdjson reads (up to 256 KiB) holding no decimal numbers `doc`
/// stays null, and the caller keeps `json` as the payload (Event::set_raw_data; the payload
/// is then deferred, Event::payload_deferred), which RapidJSON later parses to exactly the
/// tree parse() would have built. Otherwise `doc` holds the tree, as after parse(). The
/// fields returned read either, on this thread until its next check() or parse().
Result<PayloadFields, JsonError> check(rapidjson::Document& doc, std::string_view json, Tree tree,
                                       int max_depth = kMaxDepth);

namespace detail {
/// RapidJSON alone: the reference that parse() agrees with (tests and fuzzing compare them).
ParseResult parse_rapidjson(rapidjson::Document& doc, std::string_view json, int max_depth);
/// The hash the duplicate-key check files an object's member names by (tests build names
/// that collide with it).
std::uint64_t key_hash(std::string_view key);
}  // namespace detail

}  // namespace switchyard::json_limits
