// Recursive-descent parser: tokens -> Node tree, plus Expression::parse.
//
// Precedence (GitHub's, with arithmetic slotted in above the comparisons):
//   ( )  >  [] .  >  ! - + (unary)  >  * / %  >  + -  >  < <= > >=  >  == !=  >  &&  >  ||
#include <algorithm>
#include <cmath>
#include <limits>

#include "expr/internal.hpp"
#include "expr/lexer.hpp"

namespace switchyard::expr::detail {

namespace {

class Parser {
 public:
  Parser(std::string_view src, const std::vector<Token>& toks) : src_(src), t_(toks) {}

  std::unique_ptr<Node> parse_all(ParseError& err) {
    if (t_.front().type == Tok::End) {
      fail(0, "empty expression");
    } else {
      auto root = parse_or();
      if (ok() && peek().type != Tok::End) fail(peek().offset, "unexpected " + describe(peek()));
      if (ok()) return root;
    }
    err = err_;
    return nullptr;
  }

 private:
  bool ok() const { return err_.message.empty(); }
  const Token& peek(std::size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < t_.size() - 1) ++pos_;
    return t;
  }
  std::nullptr_t fail(std::size_t at, std::string msg) {
    if (ok()) {
      err_.offset = at;
      err_.message = std::move(msg);
    }
    return nullptr;
  }

  std::string describe(const Token& t) const {
    if (t.type == Tok::End) return "end of expression";
    std::string_view lex = src_.substr(t.offset, t.length);
    if (lex.size() > 32) return "'" + std::string(lex.substr(0, 32)) + "...'";
    return "'" + std::string(lex) + "'";
  }

  std::unique_ptr<Node> make(Op op, std::uint32_t offset) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->offset = offset;
    return n;
  }

  // Appends a child and keeps `depth` current; fails when too deep.
  bool adopt(Node& parent, std::unique_ptr<Node> kid) {
    if (!kid) return false;
    parent.depth = std::max(parent.depth, kid->depth + 1);
    parent.kids.push_back(std::move(kid));
    if (parent.depth > kMaxExprDepth) {
      fail(parent.offset, "expression nested too deeply");
      return false;
    }
    return true;
  }

  struct Nest {  // bounds parser recursion
    explicit Nest(Parser& p) : p_(p) { ++p_.nesting_; }
    ~Nest() { --p_.nesting_; }
    bool too_deep() const { return p_.nesting_ > kMaxExprDepth; }
    Parser& p_;
  };

  std::unique_ptr<Node> parse_or() { return parse_logical(Tok::Or, Op::Or); }
  std::unique_ptr<Node> parse_and() { return parse_logical(Tok::And, Op::And); }

  // n-ary && / || (flat, so long chains do not nest).
  std::unique_ptr<Node> parse_logical(Tok tok, Op op) {
    auto first = tok == Tok::Or ? parse_and() : parse_binary(0);
    if (!first || peek().type != tok) return first;
    auto n = make(op, first->offset);
    if (!adopt(*n, std::move(first))) return nullptr;
    while (ok() && peek().type == tok) {
      next();
      if (!adopt(*n, tok == Tok::Or ? parse_and() : parse_binary(0))) return nullptr;
    }
    return ok() ? std::move(n) : nullptr;
  }

  // level 0: == != ; level 1: < <= > >=
  std::unique_ptr<Node> parse_binary(int level) {
    auto left = level == 0 ? parse_binary(1) : parse_arithmetic(0);
    while (left) {
      Op op;
      switch (peek().type) {
        case Tok::Eq: op = Op::Eq; break;
        case Tok::Ne: op = Op::Ne; break;
        case Tok::Lt: op = Op::Lt; break;
        case Tok::Le: op = Op::Le; break;
        case Tok::Gt: op = Op::Gt; break;
        case Tok::Ge: op = Op::Ge; break;
        default: return left;
      }
      bool equality = op == Op::Eq || op == Op::Ne;
      if (equality != (level == 0)) return left;
      next();
      auto n = make(op, left->offset);
      if (!adopt(*n, std::move(left))) return nullptr;
      if (!adopt(*n, level == 0 ? parse_binary(1) : parse_arithmetic(0))) return nullptr;
      left = std::move(n);
    }
    return nullptr;
  }

  // level 0: + - ; level 1: * / %  (left-associative)
  std::unique_ptr<Node> parse_arithmetic(int level) {
    auto left = level == 0 ? parse_arithmetic(1) : parse_unary();
    while (left) {
      Op op;
      switch (peek().type) {
        case Tok::Plus: op = Op::Add; break;
        case Tok::Minus: op = Op::Sub; break;
        case Tok::Star: op = Op::Mul; break;
        case Tok::Slash: op = Op::Div; break;
        case Tok::Percent: op = Op::Mod; break;
        default: return left;
      }
      bool additive = op == Op::Add || op == Op::Sub;
      if (additive != (level == 0)) return left;
      const Token& sign = next();
      auto n = make(op, left->offset);
      if (!adopt(*n, std::move(left))) return nullptr;
      if (!adopt(*n, level == 0 ? parse_arithmetic(1) : parse_unary())) return nullptr;
      if (!check_operands(*n, sign)) return nullptr;
      left = std::move(n);
    }
    return nullptr;
  }

  // Literal operands that can never be numbers are mistakes, reported at the
  // operator: `payload.name + ' (bot)'` would always be null.
  bool check_operands(const Node& n, const Token& sign) {
    std::string op(src_.substr(sign.offset, sign.length));
    for (const auto& kid : n.kids) {
      if (kid->op != Op::Literal) continue;
      const Value& v = kid->literal;
      if (v.is_null()) {
        fail(sign.offset, "'" + op + "' needs numbers: with null the result is always null");
        return false;
      }
      if (v.is_string() && !arithmetic_operand(v)) {
        std::string shown = v.string_value().size() > 32 ? std::string(v.string_value().substr(0, 32)) + "..."
                                                          : std::string(v.string_value());
        std::string msg = "'" + op + "' needs numbers and '" + shown + "' is not one";
        if (n.op == Op::Add) msg += " (to join text use format('{0}{1}', a, b))";
        fail(sign.offset, std::move(msg));
        return false;
      }
    }
    if ((n.op == Op::Div || n.op == Op::Mod) && n.kids.size() == 2 && n.kids[1]->op == Op::Literal &&
        !n.kids[1]->literal.is_string() && n.kids[1]->literal.as_number() == 0) {
      fail(sign.offset, "division by zero");
      return false;
    }
    return true;
  }

  std::unique_ptr<Node> parse_unary() {
    Tok t = peek().type;
    if (t != Tok::Not && t != Tok::Minus && t != Tok::Plus) return parse_postfix();
    Nest nest(*this);
    if (nest.too_deep()) return fail(peek().offset, "expression nested too deeply");
    const Token& sign = next();
    auto n = make(t == Tok::Not ? Op::Not : t == Tok::Minus ? Op::Neg : Op::Plus, sign.offset);
    if (!adopt(*n, parse_unary())) return nullptr;
    if (t != Tok::Not && !check_operands(*n, sign)) return nullptr;
    return n;
  }

  std::unique_ptr<Node> parse_postfix() {
    auto base = parse_primary();
    while (base) {
      if (peek().type == Tok::Dot) {
        next();
        const Token& name = next();
        std::unique_ptr<Node> n;
        if (name.type == Tok::Ident) {
          n = make(Op::Property, base->offset);
          n->text = name.text;
          n->path = base->path;
        } else if (name.type == Tok::Star) {
          n = make(Op::Wildcard, base->offset);
        } else {
          return fail(name.offset, "expected property name after '.'");
        }
        if (!adopt(*n, std::move(base))) return nullptr;
        base = std::move(n);
      } else if (peek().type == Tok::LBracket) {
        std::uint32_t open = next().offset;
        if (peek().type == Tok::Star && peek(1).type == Tok::RBracket) {
          next();
          next();
          auto n = make(Op::Wildcard, base->offset);
          if (!adopt(*n, std::move(base))) return nullptr;
          base = std::move(n);
          continue;
        }
        Nest nest(*this);
        if (nest.too_deep()) return fail(open, "expression nested too deeply");
        auto n = make(Op::Index, base->offset);
        if (!adopt(*n, std::move(base))) return nullptr;
        if (!adopt(*n, parse_or())) return nullptr;
        if (peek().type != Tok::RBracket) return fail(peek().offset, "expected ']'");
        next();
        base = std::move(n);
      } else {
        return base;
      }
    }
    return nullptr;
  }

  std::unique_ptr<Node> literal(Value v, std::uint32_t offset) {
    auto n = make(Op::Literal, offset);
    n->literal = std::move(v);
    return n;
  }

  std::unique_ptr<Node> parse_primary() {
    const Token& t = peek();
    switch (t.type) {
      case Tok::Number: next(); return literal(t.exact ? detail::Access::make_int(t.integer) : Value::make_number(t.number), t.offset);
      case Tok::String: {
        next();
        auto n = make(Op::Literal, t.offset);
        n->text = t.text;
        n->literal = Value::make_string_ref(n->text);
        return n;
      }
      case Tok::LParen: {
        Nest nest(*this);
        if (nest.too_deep()) return fail(t.offset, "expression nested too deeply");
        next();
        auto inner = parse_or();
        if (!inner) return nullptr;
        if (peek().type != Tok::RParen) return fail(peek().offset, "expected ')'");
        next();
        return inner;
      }
      case Tok::Ident: break;
      case Tok::End: return fail(t.offset, "unexpected end of expression");
      default: return fail(t.offset, "unexpected " + describe(t));
    }
    next();
    if (peek().type == Tok::LParen) return parse_call(t);
    const std::string& w = t.text;
    if (w == "true") return literal(Value::make_bool(true), t.offset);
    if (w == "false") return literal(Value::make_bool(false), t.offset);
    if (w == "null") return literal(Value(), t.offset);
    if (w == "NaN") return literal(Value::make_number(std::numeric_limits<double>::quiet_NaN()), t.offset);
    if (w == "Infinity") return literal(Value::make_number(std::numeric_limits<double>::infinity()), t.offset);
    auto n = make(Op::Context, t.offset);
    n->path = true;
    if (iequals(w, "event")) {
      n->ctx = Ctx::Event;
    } else if (iequals(w, "payload")) {
      n->ctx = Ctx::Payload;
    } else if (iequals(w, "meta")) {
      n->ctx = Ctx::Meta;
    } else if (iequals(w, "env")) {
      n->ctx = Ctx::Env;
    } else {
      return fail(t.offset, "unknown context '" + w + "'");
    }
    return n;
  }

  std::unique_ptr<Node> parse_call(const Token& name) {
    const FnInfo* info = lookup_function(name.text);
    if (!info) return fail(name.offset, "unknown function '" + name.text + "'");
    Nest nest(*this);
    if (nest.too_deep()) return fail(name.offset, "expression nested too deeply");
    next();  // '('
    auto n = make(Op::Call, name.offset);
    n->fn = info->fn;
    n->text = std::string(info->name);
    if (peek().type != Tok::RParen) {
      for (;;) {
        if (!adopt(*n, parse_or())) return nullptr;
        if (peek().type == Tok::Comma) {
          next();
          continue;
        }
        if (peek().type != Tok::RParen) return fail(peek().offset, "expected ',' or ')'");
        break;
      }
    }
    next();  // ')'
    std::size_t argc = n->kids.size();
    if (argc < info->min_args || argc > info->max_args) {
      std::string want = info->min_args == info->max_args ? std::to_string(info->min_args)
                         : info->max_args >= kMaxArgs && argc < info->min_args
                             ? "at least " + std::to_string(info->min_args)
                         : info->max_args >= kMaxArgs ? "at most " + std::to_string(info->max_args)
                                                      : std::to_string(info->min_args) + " to " +
                                                            std::to_string(info->max_args);
      return fail(name.offset, "wrong number of arguments to '" + name.text + "': expected " + want + ", got " +
                                   std::to_string(argc));
    }
    std::uint32_t at = name.offset;
    std::string problem = check_call(*n, at);
    if (!problem.empty()) return fail(at, problem);
    return n;
  }

  std::string_view src_;
  const std::vector<Token>& t_;
  std::size_t pos_ = 0;
  int nesting_ = 0;
  ParseError err_;
};

bool mentions_event(const Node& n) {
  if (n.op == Op::Context && n.ctx == Ctx::Event) return true;
  return std::any_of(n.kids.begin(), n.kids.end(), [](const auto& k) { return mentions_event(*k); });
}

}  // namespace

}  // namespace switchyard::expr::detail

namespace switchyard::expr {

Result<Expression, ParseError> Expression::parse(std::string_view text) {
  using namespace detail;
  ParseError err;
  try {
    if (text.size() > std::numeric_limits<std::uint32_t>::max() / 2) {
      err.message = "expression too long";
      return err;
    }
    auto lexed = lex(text);
    if (!lexed) return std::move(lexed.error());
    std::vector<Token>& toks = *lexed;
    auto prog = std::make_shared<Program>();
    prog->source.assign(text);
    prog->root = Parser(text, toks).parse_all(err);
    if (!prog->root) return err;
    prog->uses_event = mentions_event(*prog->root);
    return Expression(std::move(prog));
  } catch (const std::exception& e) {
    err.offset = 0;
    err.message = std::string("internal error: ") + e.what();
    return err;
  }
}

}  // namespace switchyard::expr
