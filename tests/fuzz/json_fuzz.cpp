// libFuzzer target: webhook payload parsing (plugins/common/json_limits). Differential:
// parse() (simdjson where it can, RapidJSON where simdjson refuses) must agree with
// RapidJSON alone on every input: the same outcome, the same error offset, and the same
// document, compared in order so duplicate keys and their order count. Doubles may differ
// in their last digits (simdjson rounds to nearest; RapidJSON's fast reading does not
// always), and a zero with a huge exponent is read as 0 where RapidJSON refuses it. And
// check() must answer as parse() does; where it builds no tree, the text must parse with
// RapidJSON (full precision, as the engine parses a deferred payload) to exactly parse()'s
// tree. Any other difference, or a crash, is a finding. Built and run by run_fuzz.sh.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_limits.hpp"

namespace {

// RapidJSON's fast reading of a decimal with many digits can be off in the last digits
// (seen: 7e-16 relative); simdjson's is the nearest double. Non-finite values (which
// neither path should produce) must match exactly.
bool close(double a, double b) {
  if (a == b) return true;
  return std::isfinite(a) && std::isfinite(b) && std::fabs(a - b) <= 1e-14 * std::fabs(b);
}

// Whether RapidJSON refused `text` for a number too big, and that number is a zero with
// an exponent ("-0.00e999"): valid JSON whose value is 0, which simdjson reads as such.
bool zero_with_a_huge_exponent(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // parse() skips a BOM
  rapidjson::Document raw;
  raw.Parse(text.data());  // a suffix of a std::string: NUL-terminated
  if (raw.GetParseError() != rapidjson::kParseErrorNumberTooBig) return false;
  std::string_view number = text.substr(raw.GetErrorOffset());
  if (number.substr(0, 1) == "-") number.remove_prefix(1);
  if (number.substr(0, 1) != "0") return false;
  number.remove_prefix(1);
  if (number.substr(0, 1) == ".") {
    number.remove_prefix(1);
    while (number.substr(0, 1) == "0") number.remove_prefix(1);
  }
  return number.substr(0, 1) == "e" || number.substr(0, 1) == "E";
}

// Values equal in order: members by position (keys and all), numbers by kind and value.
bool same(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kObjectType: {
      if (a.MemberCount() != b.MemberCount()) return false;
      for (auto x = a.MemberBegin(), y = b.MemberBegin(); x != a.MemberEnd(); ++x, ++y) {
        if (!same(x->name, y->name) || !same(x->value, y->value)) return false;
      }
      return true;
    }
    case rapidjson::kArrayType: {
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!same(a[i], b[i])) return false;
      }
      return true;
    }
    case rapidjson::kStringType:
      return std::string_view(a.GetString(), a.GetStringLength()) ==
             std::string_view(b.GetString(), b.GetStringLength());
    case rapidjson::kNumberType:
      if (a.IsDouble() != b.IsDouble()) return false;
      if (a.IsDouble()) return close(a.GetDouble(), b.GetDouble());
      if (a.IsInt64() != b.IsInt64() || a.IsUint64() != b.IsUint64()) return false;
      return a.IsInt64() ? a.GetInt64() == b.GetInt64() : a.GetUint64() == b.GetUint64();
    default:  // null, true, false: the type says it all
      return true;
  }
}

// The same, doubles included.
bool same_exactly(const rapidjson::Value& a, const rapidjson::Value& b) {
  rapidjson::StringBuffer x, y;
  rapidjson::Writer<rapidjson::StringBuffer> wx(x), wy(y);
  return a.Accept(wx) && b.Accept(wy) && std::string_view(x.GetString(), x.GetSize()) == std::string_view(y.GetString(), y.GetSize());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard::json_limits;
  const std::string text(reinterpret_cast<const char*>(data), size);  // NUL-terminated copy
  // The default limit, and a small one that inputs reach (both parsers must refuse alike).
  for (const int depth : {kMaxDepth, 4}) {
    rapidjson::Document fast, reference;
    const ParseResult a = parse(fast, text, depth);
    const ParseResult b = detail::parse_rapidjson(reference, text, depth);
    if (outcome_of(a) != outcome_of(b) || (!a && a.error().offset != b.error().offset)) {
      // The one accepted difference: simdjson reads a zero with a huge exponent ("0e400",
      // valid JSON) as 0, where RapidJSON refuses the exponent as too big. simdjson then
      // goes on: it may accept the document, or refuse it for what comes after (a
      // duplicate key: corpus/json/zero_exponent_then_duplicate_key).
      if (!zero_with_a_huge_exponent(text)) std::abort();
      continue;
    }
    if (a && !same(fast, reference)) std::abort();

    rapidjson::Document tree;
    const auto checked = check(tree, text, Tree::if_needed, depth);
    if (outcome_of(a) != (checked ? Outcome::ok : checked.error().outcome)) std::abort();
    if (!checked) {
      if (checked.error().offset != a.error().offset || checked.error().key != a.error().key) std::abort();
      continue;
    }
    if (tree.IsNull()) {  // deferred: what the engine builds from the text later
      std::string_view kept = text;
      if (kept.substr(0, 3) == "\xEF\xBB\xBF") kept.remove_prefix(3);
      tree.Parse<rapidjson::kParseFullPrecisionFlag>(kept.data(), kept.size());
      if (tree.HasParseError() || !same_exactly(tree, fast)) std::abort();
    } else if (!same_exactly(tree, fast)) {
      std::abort();
    }
  }
  return 0;
}
