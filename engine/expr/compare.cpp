// GitHub's loose comparison: ==, <, > with type coercion; ASCII
// case-insensitive string comparison.
#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr {

using detail::Access;

namespace {

char upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

namespace {

// Compares two values of the same kind. op: 0 ==, 1 <, 2 >.
bool same_kind_compare(const Value& a, const Value& b, Value::Kind k, int op) noexcept {
  switch (k) {
    case Value::Kind::Null: return op == 0;
    case Value::Kind::Bool: {
      bool l = a.bool_value(), r = b.bool_value();
      return op == 0 ? l == r : op == 1 ? (!l && r) : (l && !r);
    }
    case Value::Kind::Number: {
      std::int64_t li, ri;
      if (Access::exact_int(a, li) && Access::exact_int(b, ri)) {
        return op == 0 ? li == ri : op == 1 ? li < ri : li > ri;
      }
      double l = a.number_value(), r = b.number_value();
      if (std::isnan(l) || std::isnan(r)) return false;
      return op == 0 ? l == r : op == 1 ? l < r : l > r;
    }
    case Value::Kind::String: {
      std::string_view l = a.string_value(), r = b.string_value();
      if (op == 0) return detail::iequals(l, r);
      int c = detail::icompare(l, r);
      return op == 1 ? c < 0 : c > 0;
    }
    default:  // objects/arrays: equal only by identity, never ordered
      return op == 0 && Access::identity(a) == Access::identity(b);
  }
}

// The exact integer a number or a string of digits stands for, when it has one: an id
// written as text compares with an id number to the last digit.
bool exact_integer(const Value& v, std::int64_t& out) noexcept {
  if (v.kind() == Value::Kind::Number) return Access::exact_int(v, out);
  return v.kind() == Value::Kind::String && detail::integer_text(v.string_value(), out);
}

// GitHub's abstract comparison: same kinds compare directly; objects/arrays
// never equal anything but themselves; other mixes compare as numbers.
bool compare(const Value& a, const Value& b, int op) noexcept {
  Value::Kind lk = a.kind(), rk = b.kind();
  if (lk == rk) return same_kind_compare(a, b, lk, op);
  if (!a.is_primitive() || !b.is_primitive()) return false;
  if (std::int64_t li, ri; exact_integer(a, li) && exact_integer(b, ri)) {
    return op == 0 ? li == ri : op == 1 ? li < ri : li > ri;
  }
  double l = a.as_number(), r = b.as_number();
  if (std::isnan(l) || std::isnan(r)) return false;
  return op == 0 ? l == r : op == 1 ? l < r : l > r;
}

}  // namespace

bool Value::loose_equals(const Value& other) const noexcept { return compare(*this, other, 0); }

namespace detail {

bool loose_less(const Value& a, const Value& b) noexcept { return compare(a, b, 1); }
bool loose_greater(const Value& a, const Value& b) noexcept { return compare(a, b, 2); }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

int icompare(std::string_view a, std::string_view b) noexcept {
  std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto l = static_cast<unsigned char>(upper(a[i]));
    auto r = static_cast<unsigned char>(upper(b[i]));
    if (l != r) return l < r ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

}  // namespace detail
}  // namespace switchyard::expr
