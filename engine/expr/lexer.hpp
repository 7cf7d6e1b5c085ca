// Internal: tokens of the expression language. Not part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "expr/expr.hpp"

namespace switchyard::expr::detail {

enum class Tok : std::uint8_t {
  LParen, RParen, LBracket, RBracket, Comma, Dot, Star,
  Not, Eq, Ne, Lt, Le, Gt, Ge, And, Or,
  Plus, Minus, Slash, Percent,  // Star doubles as multiplication
  Number, String, Ident, End
};

struct Token {
  Tok type = Tok::End;
  std::uint32_t offset = 0;  // byte offset in the source
  std::uint32_t length = 0;  // bytes of source text
  double number = 0;         // Number
  bool exact = false;        // Number: a decimal integer within int64, kept as `integer`
  std::int64_t integer = 0;
  std::string text;          // String (unescaped) / Ident
};

// Splits `src` into tokens (always terminated by an End token), or says where
// it stopped making sense.
Result<std::vector<Token>, ParseError> lex(std::string_view src);

}  // namespace switchyard::expr::detail
