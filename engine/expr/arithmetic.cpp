// Arithmetic: + - * / % (binary), - + (unary), and round/floor/ceil.
//
// GitHub's language has no arithmetic; these rules are Switchyard's
// (engine/expr/README.md, "Arithmetic"):
// * operands are numbers, booleans (1/0) or strings that read as numbers
//   (GitHub's string -> number rules: trimmed, decimal, exponent, 0x, 0o);
//   null, '', other strings, objects and arrays make the result null, so a
//   missing field never turns into a plausible 0;
// * integers stay exact (int64) while they fit, so ids and counters print all
//   their digits; `/` is true division (7 / 2 is 3.5) and gives an integer
//   when the division is exact; `%` takes the sign of the dividend;
// * a result that is not a finite number (division by zero, overflow past
//   about 1.8e308) is null.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

constexpr double kExactLimit = 9007199254740992.0;  // 2^53: doubles are exact integers below

struct Operand {
  bool is_int = false;
  std::int64_t i = 0;
  double d = 0;
};

bool from_double(double d, Operand& out) noexcept {
  if (!std::isfinite(d)) return false;
  out.d = d;
  out.is_int = d == std::floor(d) && std::fabs(d) <= kExactLimit;
  out.i = out.is_int ? static_cast<std::int64_t>(d) : 0;
  return true;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

bool from_string(std::string_view s, Operand& out) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (s.empty()) return false;  // '' is "no value" here, not GitHub's 0
  // Plain decimal integers are read exactly (ids beyond 2^53 keep their digits).
  std::string_view digits = s.front() == '+' ? s.substr(1) : s;
  std::int64_t i = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), i);
  if (r.ec == std::errc() && r.ptr == digits.data() + digits.size() && !(s.front() == '+' && digits.starts_with('-'))) {
    out.is_int = true;
    out.i = i;
    out.d = static_cast<double>(i);
    return true;
  }
  return from_double(parse_number(s), out);
}

bool to_operand(const Value& v, Operand& out) noexcept {
  switch (v.kind()) {
    case Value::Kind::Bool:
      out.is_int = true;
      out.i = v.bool_value() ? 1 : 0;
      out.d = static_cast<double>(out.i);
      return true;
    case Value::Kind::Number: {
      std::int64_t i;
      if (Access::exact_int(v, i)) {
        out.is_int = true;
        out.i = i;
        out.d = static_cast<double>(i);
        return true;
      }
      return from_double(v.number_value(), out);
    }
    case Value::Kind::String: return from_string(v.string_value(), out);
    default: return false;  // null, objects, arrays
  }
}

Value number_result(double d) noexcept {
  if (!std::isfinite(d)) return Value();
  if (d == std::floor(d) && std::fabs(d) <= kExactLimit) return Access::make_int(static_cast<std::int64_t>(d));
  return Value::make_number(d);
}

// Exact integer arithmetic; false when the result does not fit (the caller
// then computes in floating point).
bool integer_result(Op op, std::int64_t a, std::int64_t b, std::int64_t& r) noexcept {
  switch (op) {
    case Op::Add: return !__builtin_add_overflow(a, b, &r);
    case Op::Sub: return !__builtin_sub_overflow(a, b, &r);
    case Op::Mul: return !__builtin_mul_overflow(a, b, &r);
    case Op::Div:
      if (b == -1) return !__builtin_sub_overflow(std::int64_t{0}, a, &r);
      if (a % b != 0) return false;  // not exact: a fraction
      r = a / b;
      return true;
    default:  // Mod
      r = b == -1 ? 0 : a % b;
      return true;
  }
}

}  // namespace

bool arithmetic_operand(const Value& v) noexcept {
  Operand o;
  return to_operand(v, o);
}

Value arithmetic(Op op, const Value& left, const Value& right) noexcept {
  Operand a, b;
  if (!to_operand(left, a) || !to_operand(right, b)) return Value();
  if ((op == Op::Div || op == Op::Mod) && b.d == 0) return Value();
  if (a.is_int && b.is_int) {
    std::int64_t r;
    if (integer_result(op, a.i, b.i, r)) return Access::make_int(r);
  }
  switch (op) {
    case Op::Add: return number_result(a.d + b.d);
    case Op::Sub: return number_result(a.d - b.d);
    case Op::Mul: return number_result(a.d * b.d);
    case Op::Div: return number_result(a.d / b.d);
    default: return number_result(std::fmod(a.d, b.d));
  }
}

Value arithmetic_unary(Op op, const Value& operand) noexcept {
  Operand a;
  if (!to_operand(operand, a)) return Value();
  if (a.is_int) {
    std::int64_t r = a.i;
    if (op == Op::Plus || !__builtin_sub_overflow(std::int64_t{0}, a.i, &r)) return Access::make_int(r);
  }
  return number_result(op == Op::Neg ? -a.d : a.d);
}

Value round_number(Fn fn, const Value& x, const Value* digits) noexcept {
  Operand a;
  if (!to_operand(x, a)) return Value();
  double places = 0;
  if (digits) {
    Operand n;
    if (!to_operand(*digits, n)) return Value();
    places = std::clamp(std::floor(n.d), -15.0, 15.0);
  }
  if (a.is_int && places >= 0) return Access::make_int(a.i);
  // Scale by a power of ten that is exact (10^places for places >= 0).
  const double scale = std::pow(10.0, std::fabs(places));
  const double scaled = places >= 0 ? a.d * scale : a.d / scale;
  const double r = fn == Fn::Floor ? std::floor(scaled) : fn == Fn::Ceil ? std::ceil(scaled) : std::round(scaled);
  return number_result(places >= 0 ? r / scale : r * scale);
}

}  // namespace switchyard::expr::detail
