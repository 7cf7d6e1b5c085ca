#include "pg/types.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace switchyard::postgres {
namespace {

using Alloc = rapidjson::MemoryPoolAllocator<>;

std::string json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string_view string_of(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

// The value as an error message shows it: short, and strings quoted.
std::string shown(const rapidjson::Value& v) {
  std::string text = json_text(v);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

Error mismatch(std::string_view expected, const rapidjson::Value& v) {
  return permanent("expected " + std::string(expected) + ", got " + shown(v));
}

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool in_range(std::int64_t v, int bits) {
  if (bits == 16) return v >= -32768 && v <= 32767;
  if (bits == 32) return v >= INT32_MIN && v <= INT32_MAX;
  return true;
}

std::size_t digits(std::string_view s, std::size_t i) {
  std::size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i - start;
}

// [+-]digits[.digits][(e|E)[+-]digits], or [+-]digits only when `integral`.
bool numeric_syntax(std::string_view s, bool integral) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t whole = digits(s, i);
  i += whole;
  if (integral) return whole > 0 && i == s.size();
  std::size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits(s, i);
    i += fraction;
  }
  if (whole + fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t exponent = digits(s, i);
    if (exponent == 0) return false;
    i += exponent;
  }
  return i == s.size();
}

bool two_digits(std::string_view s, std::size_t at, int max) {
  if (at + 2 > s.size() || digits(s, at) < 2) return false;
  return (s[at] - '0') * 10 + (s[at + 1] - '0') <= max;
}

// ISO 8601 / RFC 3339 as GitHub and most APIs write it: YYYY-MM-DD, optionally followed by
// [T or space]HH:MM[:SS[.fraction]] and a zone (Z, +HH, +HHMM, +HH:MM).
bool iso_datetime(std::string_view s) {
  if (s.size() < 10 || digits(s, 0) != 4 || s[4] != '-' || !two_digits(s, 5, 12) || s[7] != '-' ||
      !two_digits(s, 8, 31)) {
    return false;
  }
  std::size_t i = 10;
  if (i == s.size()) return true;
  if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
  ++i;
  if (!two_digits(s, i, 24) || i + 2 >= s.size() || s[i + 2] != ':' || !two_digits(s, i + 3, 59)) return false;
  i += 5;
  if (i < s.size() && s[i] == ':') {
    if (!two_digits(s, i + 1, 60)) return false;
    i += 3;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      const std::size_t fraction = digits(s, i + 1);
      if (fraction == 0) return false;
      i += 1 + fraction;
    }
  }
  if (i == s.size()) return true;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  if (!two_digits(s, i + 1, 23)) return false;
  i += 3;
  if (i == s.size()) return true;
  if (s[i] == ':') ++i;
  return two_digits(s, i, 59) && i + 2 == s.size();
}

// Unix seconds (GitHub's push payloads give some times so) as RFC 3339 UTC.
std::optional<std::string> from_unix_seconds(double seconds, bool date_only) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e11) return std::nullopt;
  const auto whole = static_cast<std::int64_t>(std::floor(seconds));
  const auto micros = static_cast<std::int64_t>(std::llround((seconds - static_cast<double>(whole)) * 1e6));
  const std::chrono::sys_seconds tp{std::chrono::seconds(whole)};
  const auto days = std::chrono::floor<std::chrono::days>(tp);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{tp - days};
  char buf[64];
  if (date_only) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<long long>(micros));
  }
  return std::string(buf);
}

bool uuid_syntax(std::string_view s) {
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
  int hex = 0;
  for (char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      ++hex;
    } else if (c != '-') {
      return false;
    }
  }
  return hex == 32;
}

Result<std::optional<std::string>> encode_scalar(const rapidjson::Value& v, Encoding encoding, int bits);

// An element of an array literal: NULL, or the text double-quoted with \ and " escaped.
Status append_element(std::string& out, const rapidjson::Value& item, Encoding element, int bits) {
  if (item.IsArray()) {  // a nested list: a dimension of a multi-dimensional array
    out += '{';
    for (rapidjson::SizeType i = 0; i < item.Size(); ++i) {
      if (i) out += ',';
      if (Status s = append_element(out, item[i], element, bits); !s) return s;
    }
    out += '}';
    return {};
  }
  auto text = encode_scalar(item, element, bits);
  if (!text) return text.error();
  if (!*text) {
    out += "NULL";
    return {};
  }
  out += '"';
  for (char c : **text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return {};
}

Result<std::optional<std::string>> encode_scalar(const rapidjson::Value& v, Encoding encoding, int bits) {
  using Out = std::optional<std::string>;
  if (v.IsNull()) return Out();
  switch (encoding) {
    case Encoding::json:
      return Out(json_text(v));
    case Encoding::integer:
      if (v.IsInt64() && in_range(v.GetInt64(), bits)) return Out(std::to_string(v.GetInt64()));
      if (v.IsDouble() && std::floor(v.GetDouble()) == v.GetDouble() && std::fabs(v.GetDouble()) < 9e15 &&
          in_range(static_cast<std::int64_t>(v.GetDouble()), bits)) {
        return Out(std::to_string(static_cast<std::int64_t>(v.GetDouble())));
      }
      if (v.IsString()) {
        std::int64_t n = 0;
        const auto s = string_of(v);
        const auto* begin = s.data() + (s.starts_with('+') ? 1 : 0);
        const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), n);
        if (numeric_syntax(s, true) && ec == std::errc() && end == s.data() + s.size() && in_range(n, bits)) {
          return Out(std::to_string(n));
        }
      }
      return mismatch(bits == 16 ? "a smallint (-32768 to 32767)" : bits == 32 ? "an integer (32 bits)" : "an integer", v);
    case Encoding::floating:
    case Encoding::numeric: {
      if (v.IsNumber()) return Out(json_text(v));
      if (v.IsString()) {
        const auto s = string_of(v);
        const std::string special = lower_trimmed(s);
        if (numeric_syntax(s, false) || special == "nan" ||
            (encoding == Encoding::floating && (special == "infinity" || special == "-infinity"))) {
          return Out(std::string(s));
        }
      }
      return mismatch("a number", v);
    }
    case Encoding::boolean: {
      if (v.IsBool()) return Out(v.GetBool() ? "true" : "false");
      if (v.IsInt64() && (v.GetInt64() == 0 || v.GetInt64() == 1)) return Out(v.GetInt64() ? "true" : "false");
      if (v.IsString()) {
        const std::string s = lower_trimmed(string_of(v));
        if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "on" || s == "1") return Out("true");
        if (s == "false" || s == "f" || s == "no" || s == "n" || s == "off" || s == "0") return Out("false");
      }
      return mismatch("a boolean", v);
    }
    case Encoding::timestamp:
    case Encoding::date: {
      const bool date_only = encoding == Encoding::date;
      if (v.IsNumber()) {
        if (auto text = from_unix_seconds(v.GetDouble(), date_only)) return Out(*text);
      } else if (v.IsString()) {
        const auto s = string_of(v);
        const std::string special = lower_trimmed(s);
        if (iso_datetime(s) || special == "infinity" || special == "-infinity") return Out(std::string(s));
      }
      return mismatch(date_only ? "a date (YYYY-MM-DD, or Unix seconds)"
                                : "an RFC 3339 timestamp (2024-05-01T12:00:00Z) or Unix seconds",
                      v);
    }
    case Encoding::uuid:
      if (v.IsString() && uuid_syntax(string_of(v))) return Out(std::string(string_of(v)));
      return mismatch("a UUID", v);
    case Encoding::array:  // handled by encode(); as an element: a nested array type
    case Encoding::text:
    case Encoding::passthrough:
      if (v.IsString()) {
        const auto s = string_of(v);
        if (s.find('\0') != std::string_view::npos) return permanent("text holds a NUL character, which PostgreSQL cannot store");
        return Out(std::string(s));
      }
      if (v.IsBool()) return Out(v.GetBool() ? "true" : "false");
      if (v.IsNumber() || encoding == Encoding::text) return Out(json_text(v));
      return mismatch("a scalar", v);
  }
  return Out();
}

}  // namespace

Encoding encoding_of(std::string_view name, char category, int& bits) {
  bits = 0;
  if (category == 'A') return Encoding::array;
  if (name == "int2") return bits = 16, Encoding::integer;
  if (name == "int4") return bits = 32, Encoding::integer;
  if (name == "int8") return bits = 64, Encoding::integer;
  if (name == "float4" || name == "float8") return Encoding::floating;
  if (name == "numeric") return Encoding::numeric;
  if (name == "bool") return Encoding::boolean;
  if (name == "json" || name == "jsonb") return Encoding::json;
  if (name == "timestamptz" || name == "timestamp") return Encoding::timestamp;
  if (name == "date") return Encoding::date;
  if (name == "uuid") return Encoding::uuid;
  if (category == 'S') return Encoding::text;  // text, varchar, bpchar, name, citext
  return Encoding::passthrough;
}

Result<std::optional<std::string>> encode(const rapidjson::Value& value, const ColumnType& type) {
  if (type.encoding != Encoding::array || value.IsNull()) return encode_scalar(value, type.encoding, type.bits);
  if (value.IsString()) {  // an array literal
    const auto s = string_of(value);
    if (s.find('\0') != std::string_view::npos) return permanent("text holds a NUL character, which PostgreSQL cannot store");
    return std::optional<std::string>(std::string(s));
  }
  if (!value.IsArray()) return mismatch("a list", value);
  std::string out;
  if (Status s = append_element(out, value, type.element, type.element_bits); !s) return s.error();
  return std::optional<std::string>(std::move(out));
}

}  // namespace switchyard::postgres
