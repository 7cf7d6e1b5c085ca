#pragma once
// Parsing untrusted JSON with a limit on nesting depth. RapidJSON's recursive parser (and
// every recursive walk of the document afterwards, such as serialising it) would otherwise
// overflow a thread's stack on a body of a few thousand '['. The limit is enforced while
// parsing, in the same pass: a request body is read once.

#include <rapidjson/document.h>
#include <rapidjson/reader.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
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

namespace detail {

// Forwards SAX events to `Handler` (a document) and stops the parse when arrays and
// objects nest deeper than the limit. Recursion in the parser is bounded by the same limit.
template <class Handler>
class DepthLimited {
 public:
  using Ch = char;
  DepthLimited(Handler& handler, int max_depth) : handler_(handler), max_(max_depth) {}

  bool Null() { return handler_.Null(); }
  bool Bool(bool b) { return handler_.Bool(b); }
  bool Int(int i) { return handler_.Int(i); }
  bool Uint(unsigned u) { return handler_.Uint(u); }
  bool Int64(std::int64_t i) { return handler_.Int64(i); }
  bool Uint64(std::uint64_t u) { return handler_.Uint64(u); }
  bool Double(double d) { return handler_.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.RawNumber(s, n, copy); }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return handler_.Key(s, n, copy); }
  bool StartObject() { return enter() && handler_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) { --depth_; return handler_.EndObject(members); }
  bool StartArray() { return enter() && handler_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { --depth_; return handler_.EndArray(elements); }

  bool exceeded() const { return exceeded_; }

 private:
  bool enter() {
    if (++depth_ <= max_) return true;
    exceeded_ = true;
    return false;
  }

  Handler& handler_;
  const int max_;
  int depth_ = 0;
  bool exceeded_ = false;
};

}  // namespace detail

/// Parses `json` into `doc` (replacing what it held), refusing nesting deeper than
/// `max_depth`. On failure `doc` is left as it was.
///
/// `json` must be followed by a NUL byte that is not part of it, as a std::string's text
/// and an HttpRequest's body are: the parser then reads it in place as a terminated string,
/// which is the input RapidJSON scans 16 bytes at a time (about twice as fast on webhook
/// payloads as a length-bounded stream).
inline ParseResult parse(rapidjson::Document& doc, std::string_view json, int max_depth = kMaxDepth) {
  if (json.empty()) return ParseResult{.outcome = Outcome::invalid, .offset = 0};
  assert(json.data()[json.size()] == '\0');
  // The reader keeps its scratch stack between parses on this thread; a body larger than
  // any webhook gets a reader of its own so one huge string does not stay allocated.
  constexpr std::size_t kReuseUpTo = 1 << 20;
  thread_local rapidjson::Reader shared_reader;
  std::optional<rapidjson::Reader> own_reader;
  rapidjson::Reader& reader = json.size() <= kReuseUpTo ? shared_reader : own_reader.emplace();

  ParseResult result;
  // RapidJSON reads a NUL as the end of its input; JSON text never holds one. Without a NUL
  // inside, the one it stops at is the terminator, so the whole text was read.
  if (const auto nul = json.find('\0'); nul != std::string_view::npos) {
    return ParseResult{.outcome = Outcome::invalid, .offset = nul};
  }
  auto generate = [&](rapidjson::Document& handler) {
    detail::DepthLimited<rapidjson::Document> limited(handler, max_depth);
    rapidjson::StringStream stream(json.data());
    const rapidjson::ParseResult parsed = reader.Parse<rapidjson::kParseDefaultFlags>(stream, limited);
    if (parsed) return true;
    result.outcome = limited.exceeded() ? Outcome::too_deep : Outcome::invalid;
    result.offset = parsed.Offset();
    return false;
  };
  doc.Populate(generate);
  return result;
}

}  // namespace switchyard::json_limits
