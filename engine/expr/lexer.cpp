// Lexer for the expression language (the text inside ${{ }}).
#include "expr/lexer.hpp"

#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

bool is_ident_start(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) noexcept { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-'; }
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Characters that end a number token (GitHub reads a number up to the next
// operator, bracket, quote or whitespace; '.' stays inside it). '+' and '-'
// end it too, except as the sign of a decimal exponent (`1e-5`).
bool ends_number(char c) noexcept {
  switch (c) {
    case '(': case ')': case '[': case ']': case ',': case '!': case '<': case '>':
    case '=': case '&': case '|': case '\'': case '*': case '/': case '%': case '+': case '-':
      return true;
    default:
      return is_space(c);
  }
}

// Whether the '+' or '-' at src[j] is the sign of an exponent in the number
// that starts at src[start] (`2.5e-3`, not `0x1e-1`, which is 0x1e minus 1).
bool is_exponent_sign(std::string_view src, std::size_t start, std::size_t j) noexcept {
  if ((src[j] != '+' && src[j] != '-') || j == start || (src[j - 1] != 'e' && src[j - 1] != 'E')) return false;
  std::string_view lexeme = src.substr(start, j - start);
  if (!lexeme.empty() && (lexeme[0] == '+' || lexeme[0] == '-')) lexeme.remove_prefix(1);
  return !(lexeme.size() > 1 && lexeme[0] == '0' && (lexeme[1] == 'x' || lexeme[1] == 'o'));
}

// The text of a double-quoted string starting at src[i] (for the hint that
// strings take single quotes), or "" when it does not close on the same line.
std::string double_quoted(std::string_view src, std::size_t i) {
  std::size_t close = src.find_first_of("\"\n", i + 1);
  if (close == std::string_view::npos || src[close] != '"' || close - i > 64) return {};
  return std::string(src.substr(i + 1, close - i - 1));
}

std::string quote_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

}  // namespace

Result<std::vector<Token>, ParseError> lex(std::string_view src) {
  std::vector<Token> out;
  auto fail = [](std::size_t at, std::string msg) { return ParseError{.offset = at, .message = std::move(msg), .path = {}}; };
  auto prev_is_value = [&] {
    if (out.empty()) return false;
    Tok t = out.back().type;
    return t == Tok::Ident || t == Tok::RBracket || t == Tok::RParen || t == Tok::Star;
  };
  // After an operand, '+' and '-' are binary operators; elsewhere they start a
  // signed number (GitHub's `-1`) or negate what follows (`-payload.x`). A '*'
  // is an operand only as the wildcard of `a.*`.
  auto prev_is_operand = [&] {
    if (out.empty()) return false;
    switch (out.back().type) {
      case Tok::Number: case Tok::String: case Tok::Ident: case Tok::RParen: case Tok::RBracket:
        return true;
      case Tok::Star:
        return out.size() > 1 && out[out.size() - 2].type == Tok::Dot;
      default:
        return false;
    }
  };
  std::size_t i = 0, n = src.size();
  while (i < n) {
    char c = src[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    Token t;
    t.offset = static_cast<std::uint32_t>(i);
    auto single = [&](Tok type, std::size_t len) {
      t.type = type;
      t.length = static_cast<std::uint32_t>(len);
      i += len;
    };
    bool two = i + 1 < n;
    switch (c) {
      case '(': single(Tok::LParen, 1); break;
      case ')': single(Tok::RParen, 1); break;
      case '[': single(Tok::LBracket, 1); break;
      case ']': single(Tok::RBracket, 1); break;
      case ',': single(Tok::Comma, 1); break;
      case '*': single(Tok::Star, 1); break;
      case '/': single(Tok::Slash, 1); break;
      case '%': single(Tok::Percent, 1); break;
      case '"': {
        std::string inside = double_quoted(src, i);
        return fail(i, inside.empty() || inside.find('\'') != std::string::npos
                           ? "strings take single quotes ('text'), not double quotes"
                           : "strings take single quotes: '" + inside + "', not \"" + inside + "\"");
      }
      case '!': single(two && src[i + 1] == '=' ? Tok::Ne : Tok::Not, two && src[i + 1] == '=' ? 2 : 1); break;
      case '<': single(two && src[i + 1] == '=' ? Tok::Le : Tok::Lt, two && src[i + 1] == '=' ? 2 : 1); break;
      case '>': single(two && src[i + 1] == '=' ? Tok::Ge : Tok::Gt, two && src[i + 1] == '=' ? 2 : 1); break;
      case '=':
        if (!(two && src[i + 1] == '=')) return fail(i, "unexpected '=' (did you mean '==')");
        single(Tok::Eq, 2);
        break;
      case '&':
        if (!(two && src[i + 1] == '&')) return fail(i, "unexpected '&' (did you mean '&&')");
        single(Tok::And, 2);
        break;
      case '|':
        if (!(two && src[i + 1] == '|')) return fail(i, "unexpected '|' (did you mean '||')");
        single(Tok::Or, 2);
        break;
      case '\'': {
        std::size_t j = i + 1;
        for (;;) {
          if (j >= n) return fail(i, "unterminated string");
          if (src[j] == '\'') {
            if (j + 1 < n && src[j + 1] == '\'') {
              t.text += '\'';
              j += 2;
              continue;
            }
            break;
          }
          t.text += src[j++];
        }
        single(Tok::String, j + 1 - i);
        break;
      }
      case '+':
      case '-': {
        char d = two ? src[i + 1] : '\0';
        bool signed_number = (d >= '0' && d <= '9') || d == '.' || d == 'I';
        if (prev_is_operand() || !signed_number) {
          single(c == '+' ? Tok::Plus : Tok::Minus, 1);
          break;
        }
        [[fallthrough]];
      }
      default: {
        bool number_start = (c >= '0' && c <= '9') || c == '-' || c == '+' || (c == '.' && !prev_is_value());
        if (c == '.' && !number_start) {
          single(Tok::Dot, 1);
          break;
        }
        if (number_start) {
          std::size_t j = i + 1;
          while (j < n && (!ends_number(src[j]) || is_exponent_sign(src, i, j))) ++j;
          std::string_view lexeme = src.substr(i, j - i);
          double d = parse_number(lexeme, true);
          if (std::isnan(d)) return fail(i, "invalid number '" + std::string(lexeme) + "'");
          t.number = d;
          // An integer literal keeps every digit (a Discord id is near 1e18; a double has 53 bits).
          t.exact = detail::integer_text(lexeme, t.integer);
          single(Tok::Number, j - i);
          break;
        }
        if (is_ident_start(c)) {
          std::size_t j = i + 1;
          while (j < n && is_ident_char(src[j])) ++j;
          t.text.assign(src.substr(i, j - i));
          single(Tok::Ident, j - i);
          break;
        }
        return fail(i, "unexpected character " + quote_char(c));
      }
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.type = Tok::End;
  end.offset = static_cast<std::uint32_t>(n);
  out.push_back(std::move(end));
  return out;
}

}  // namespace switchyard::expr::detail
