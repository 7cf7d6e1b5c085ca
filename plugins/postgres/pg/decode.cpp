// Column text → JSON, for postgres.query (declared in types.hpp).
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "pg/types.hpp"

namespace switchyard::postgres {
namespace {

using Alloc = rapidjson::MemoryPoolAllocator<>;

// Built-in type oids (pg_type.dat); they never change.
enum : Oid {
  kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kJson = 114, kFloat4 = 700,
  kFloat8 = 701, kDate = 1082, kTimestamp = 1114, kTimestamptz = 1184, kNumeric = 1700,
  kJsonb = 3802,
};

// The element type of the array types whose elements we type; 0: not one of them.
Oid element_of(Oid array) {
  switch (array) {
    case 1000: return kBool;
    case 1005: return kInt2;
    case 1007: return kInt4;
    case 1016: return kInt8;
    case 1028: return kOid;
    case 1021: return kFloat4;
    case 1022: return kFloat8;
    case 1231: return kNumeric;
    case 199: return kJson;
    case 3807: return kJsonb;
    case 1182: return kDate;
    case 1115: return kTimestamp;
    case 1185: return kTimestamptz;
    case 1009:  // text[]
    case 1015:  // varchar[]
    case 1014:  // bpchar[]
    case 1003:  // name[]
    case 2951:  // uuid[]
      return 25;  // as text
    default: return 0;
  }
}

void set_string(rapidjson::Value& out, std::string_view s, Alloc& alloc) {
  out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

bool set_integer(rapidjson::Value& out, std::string_view s) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  out.SetInt64(n);
  return true;
}

// numeric: an integer when it is one that fits, else the nearest double; NaN and the
// infinities (not JSON numbers) stay strings.
void set_number(rapidjson::Value& out, std::string_view s, Alloc& alloc) {
  if (set_integer(out, s)) return;
  const std::string text(s);
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (end == text.c_str() + text.size() && std::isfinite(d)) {
    out.SetDouble(d);
  } else {
    set_string(out, s, alloc);
  }
}

// "2024-05-01 12:34:56.5+00" → "2024-05-01T12:34:56.5Z" (and "+05:30" kept as an offset).
void set_timestamp(rapidjson::Value& out, std::string_view s, bool zoned, Alloc& alloc) {
  if (s.size() <= 10 || s[10] != ' ' || s.find(" BC") != std::string_view::npos) return set_string(out, s, alloc);
  std::string_view rest = s.substr(11);
  std::string_view offset;
  if (zoned) {
    const auto sign = rest.find_last_of("+-");
    if (sign != std::string_view::npos) {
      offset = rest.substr(sign);
      rest = rest.substr(0, sign);
    }
  }
  std::string text;
  text.reserve(s.size() + 4);
  text.append(s.substr(0, 10)).append("T").append(rest);
  if (offset == "+00" || offset == "+00:00") {
    text.append("Z");
  } else {
    text.append(offset);
    if (offset.size() == 3) text.append(":00");
  }
  set_string(out, text, alloc);
}

void decode_scalar(std::string_view text, Oid oid, rapidjson::Value& out, Alloc& alloc);

// Arrays and objects nested deeper than this in a json or jsonb value leave it a string:
// RapidJSON's parser, and every walk of the event afterwards (serialising it), recurse once
// per level, and PostgreSQL stores values thousands of levels deep.
constexpr int kMaxJsonDepth = 128;

// Whether the nesting of JSON `text` stays within `max` (strings skipped, escapes honoured).
bool nesting_within(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// A PostgreSQL array literal ({1,2,NULL}, {"a b","c\"d"}, {{1,2},{3,4}}) as JSON lists.
// https://www.postgresql.org/docs/15/arrays.html#ARRAYS-IO
class ArrayReader {
 public:
  ArrayReader(std::string_view text, Oid element, Alloc& alloc) : s_(text), element_(element), alloc_(alloc) {}

  bool read(rapidjson::Value& out) {
    if (!s_.empty() && s_.front() == '[') {  // explicit bounds: "[0:1]={...}"
      const auto eq = s_.find('=');
      if (eq == std::string_view::npos) return false;
      i_ = eq + 1;
    }
    return list(out) && i_ == s_.size();
  }

 private:
  bool list(rapidjson::Value& out, int depth = 1) {
    if (i_ >= s_.size() || s_[i_] != '{' || depth > kMaxArrayDepth) return false;
    ++i_;
    out.SetArray();
    if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
    for (;;) {
      rapidjson::Value item;
      if (i_ < s_.size() && s_[i_] == '{') {
        if (!list(item, depth + 1)) return false;
      } else if (!element(item)) {
        return false;
      }
      out.PushBack(item, alloc_);
      if (i_ >= s_.size()) return false;
      if (s_[i_] == '}') return ++i_, true;
      if (s_[i_] != ',') return false;
      ++i_;
    }
  }

  bool element(rapidjson::Value& out) {
    std::string text;
    if (i_ < s_.size() && s_[i_] == '"') {
      for (++i_; i_ < s_.size() && s_[i_] != '"'; ++i_) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        text += s_[i_];
      }
      if (i_ >= s_.size()) return false;
      ++i_;
      decode_scalar(text, element_, out, alloc_);
      return true;
    }
    const auto end = s_.find_first_of(",}", i_);
    if (end == std::string_view::npos) return false;
    text = std::string(s_.substr(i_, end - i_));
    i_ = end;
    if (text.size() == 4 && (text == "NULL" || text == "null")) {
      out.SetNull();
    } else {
      decode_scalar(text, element_, out, alloc_);
    }
    return true;
  }

  static constexpr int kMaxArrayDepth = 6;  // PostgreSQL's MAXDIM
  std::string_view s_;
  std::size_t i_ = 0;
  Oid element_;
  Alloc& alloc_;
};

void decode_scalar(std::string_view text, Oid oid, rapidjson::Value& out, Alloc& alloc) {
  switch (oid) {
    case kBool:
      out.SetBool(text == "t");
      return;
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid:
      if (!set_integer(out, text)) set_string(out, text, alloc);
      return;
    case kFloat4:
    case kFloat8:
    case kNumeric:
      set_number(out, text, alloc);
      return;
    case kJson:
    case kJsonb: {
      rapidjson::Document doc(&alloc);
      if (!nesting_within(text, kMaxJsonDepth)) {
        set_string(out, text, alloc);
        return;
      }
      doc.Parse(text.data(), text.size());
      if (doc.HasParseError()) {
        set_string(out, text, alloc);
      } else {
        out.Swap(doc);  // allocated from `alloc` already
      }
      return;
    }
    case kTimestamptz:
      set_timestamp(out, text, true, alloc);
      return;
    case kTimestamp:
      set_timestamp(out, text, false, alloc);
      return;
    default:
      if (const Oid element = element_of(oid); element != 0) {
        ArrayReader reader(text, element, alloc);
        if (reader.read(out)) return;
      }
      set_string(out, text, alloc);
  }
}

}  // namespace

void decode(std::string_view text, Oid oid, rapidjson::Value& out, Alloc& alloc) {
  decode_scalar(text, oid, out, alloc);
}

}  // namespace switchyard::postgres
