// Number parsing/formatting and depth-limited JSON writing/copying.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <limits>

#include "switchyard/detail/json_escape.hpp"
#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
// On success sets `exp_negative` (for out-of-range handling).
bool is_decimal(std::string_view s, bool& exp_negative) noexcept {
  std::size_t i = 0, n = s.size();
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < n && is_digit(s[i])) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  exp_negative = false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
    std::size_t ed = 0;
    while (i < n && is_digit(s[i])) ++i, ++ed;
    if (ed == 0) return false;
  }
  return i == n;
}

// 0x / 0o prefixed integer; NaN when invalid or wider than 64 bits.
double parse_radix(std::string_view digits, int radix) noexcept {
  if (digits.empty()) return std::nan("");
  std::uint64_t v = 0;
  for (char c : digits) {
    int d = hex_digit(c);
    if (d < 0 || d >= radix) return std::nan("");
    if (v > (std::numeric_limits<std::uint64_t>::max() - static_cast<unsigned>(d)) / static_cast<unsigned>(radix)) {
      return std::nan("");
    }
    v = v * static_cast<unsigned>(radix) + static_cast<unsigned>(d);
  }
  return static_cast<double>(v);
}

void indent_to(std::string& out, int indent) {
  out += '\n';
  out.append(static_cast<std::size_t>(indent) * 2, ' ');
}

void write_json_number(std::string& out, const rapidjson::Value& n) {
  char buf[64];
  std::to_chars_result r;
  if (n.IsInt64()) {
    r = std::to_chars(buf, buf + sizeof buf, n.GetInt64());
  } else if (n.IsUint64()) {
    r = std::to_chars(buf, buf + sizeof buf, n.GetUint64());
  } else {
    double d = n.GetDouble();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    r = std::to_chars(buf, buf + sizeof buf, d);
  }
  out.append(buf, r.ptr);
}

}  // namespace

bool integer_text(std::string_view s, std::int64_t& out) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  const std::string_view digits = !s.empty() && s.front() == '-' ? s.substr(1) : s;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

double parse_number(std::string_view s, bool strict) noexcept {
  if (!strict) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    if (s.empty()) return 0;
  }
  bool exp_negative = false;
  if (is_decimal(s, exp_negative)) {
    bool negative = s[0] == '-';
    if (s[0] == '+' || s[0] == '-') s.remove_prefix(1);
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), d, std::chars_format::general);
    if (r.ec == std::errc::result_out_of_range) {
      d = exp_negative ? 0.0 : std::numeric_limits<double>::infinity();
    } else if (r.ec != std::errc()) {
      return std::nan("");
    }
    return negative ? -d : d;
  }
  if (s.size() > 2 && s[0] == '0' && s[1] == 'x') return parse_radix(s.substr(2), 16);
  if (s.size() > 2 && s[0] == '0' && s[1] == 'o') return parse_radix(s.substr(2), 8);
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nan("");
}

// .NET's Double.ToString("G15"): 15 significant digits, trailing zeros
// dropped, scientific notation (upper-case E, sign, >= 2 exponent digits)
// when the exponent is < -5 or >= 15. printf's %.15G follows the same rule.
void append_number(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
    return;
  }
  if (d == 0) {  // also -0
    out += '0';
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, 15);
  for (char* p = buf; p != r.ptr; ++p) {
    if (*p == 'e') *p = 'E';
  }
  out.append(buf, r.ptr);
}

namespace {

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  switchyard::detail::escape_json(s, "0123456789abcdef", [&](const char* p, std::size_t n) { out.append(p, n); });
  out += '"';
}

void write_json(std::string& out, const rapidjson::Value& n, bool pretty, int indent, int depth) {
  switch (n.GetType()) {
    case rapidjson::kNullType: out += "null"; return;
    case rapidjson::kFalseType: out += "false"; return;
    case rapidjson::kTrueType: out += "true"; return;
    case rapidjson::kNumberType: write_json_number(out, n); return;
    case rapidjson::kStringType: append_json_string(out, {n.GetString(), n.GetStringLength()}); return;
    default: break;
  }
  if (depth >= kMaxJsonDepth) {
    out += "null";
    return;
  }
  bool first = true;
  if (n.IsObject()) {
    out += '{';
    for (auto it = n.MemberBegin(); it != n.MemberEnd(); ++it) {
      if (!first) out += ',';
      first = false;
      if (pretty) indent_to(out, indent + 1);
      append_json_string(out, {it->name.GetString(), it->name.GetStringLength()});
      out += pretty ? ": " : ":";
      write_json(out, it->value, pretty, indent + 1, depth + 1);
    }
    if (pretty && !first) indent_to(out, indent);
    out += '}';
  } else {
    out += '[';
    for (const auto& item : n.GetArray()) {
      if (!first) out += ',';
      first = false;
      if (pretty) indent_to(out, indent + 1);
      write_json(out, item, pretty, indent + 1, depth + 1);
    }
    if (pretty && !first) indent_to(out, indent);
    out += ']';
  }
}

void write_json(std::string& out, const Value& v, bool pretty, int indent) {
  switch (v.kind()) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Bool: out += v.bool_value() ? "true" : "false"; return;
    case Value::Kind::Number: {
      std::int64_t i;
      std::uint64_t u;
      double d = v.number_value();
      char buf[64];
      std::to_chars_result r;
      if (Access::exact_int(v, i)) {
        r = std::to_chars(buf, buf + sizeof buf, i);
      } else if (Access::exact_uint(v, u)) {
        r = std::to_chars(buf, buf + sizeof buf, u);
      } else if (!std::isfinite(d)) {
        out += "null";
        return;
      } else {
        r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round trip
      }
      out.append(buf, r.ptr);
      return;
    }
    case Value::Kind::String: append_json_string(out, v.string_value()); return;
    default: break;
  }
  if (const rapidjson::Value* n = v.json_node()) {
    write_json(out, *n, pretty, indent, 0);
    return;
  }
  const NodeList* l = Access::list(v);
  out += '[';
  bool first = true;
  for (const rapidjson::Value* item : l ? l->items : std::vector<const rapidjson::Value*>{}) {
    if (!first) out += ',';
    first = false;
    if (pretty) indent_to(out, indent + 1);
    write_json(out, *item, pretty, indent + 1, 1);
  }
  if (pretty && !first) indent_to(out, indent);
  out += ']';
}

void copy_json(rapidjson::Value& out, const rapidjson::Value& in, Alloc& alloc, int depth) {
  switch (in.GetType()) {
    case rapidjson::kNullType: out.SetNull(); return;
    case rapidjson::kFalseType: out.SetBool(false); return;
    case rapidjson::kTrueType: out.SetBool(true); return;
    case rapidjson::kNumberType:
      if (in.IsInt64()) {
        out.SetInt64(in.GetInt64());
      } else if (in.IsUint64()) {
        out.SetUint64(in.GetUint64());
      } else {
        out.SetDouble(in.GetDouble());
      }
      return;
    case rapidjson::kStringType: out.SetString(in.GetString(), in.GetStringLength(), alloc); return;
    default: break;
  }
  if (depth >= kMaxJsonDepth) {
    out.SetNull();
    return;
  }
  if (in.IsObject()) {
    out.SetObject();
    for (auto it = in.MemberBegin(); it != in.MemberEnd(); ++it) {
      rapidjson::Value k(it->name.GetString(), it->name.GetStringLength(), alloc);
      rapidjson::Value v;
      copy_json(v, it->value, alloc, depth + 1);
      out.AddMember(k, v, alloc);
    }
  } else {
    out.SetArray();
    out.Reserve(in.Size(), alloc);
    for (const auto& item : in.GetArray()) {
      rapidjson::Value v;
      copy_json(v, item, alloc, depth + 1);
      out.PushBack(v, alloc);
    }
  }
}

}  // namespace switchyard::expr::detail
