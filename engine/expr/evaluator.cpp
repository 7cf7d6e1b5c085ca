// Tree-walking evaluator and the Expression evaluation entry points.
#include <cmath>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

namespace {

const rapidjson::Value* context_node(const Scope& s, Ctx c) noexcept {
  switch (c) {
    case Ctx::Event: return s.event;
    case Ctx::Payload: return s.payload;
    case Ctx::Meta: return s.meta;
    default: return s.env;
  }
}

// The index of an access: `a.name`, `a[expr]` or `a.*` / `a[*]` (star).
struct Key {
  bool star = false;
  bool has_str = false;
  std::string_view str;
  bool has_int = false;
  std::size_t index = 0;
};

Key key_from_value(const Value& idx, std::string& buf) {
  Key k;
  if (idx.is_primitive()) {
    k.has_str = true;
    k.str = view_of(idx, buf);
  }
  double d = idx.as_number();
  if (std::isfinite(d) && d >= 0) {
    d = std::floor(d);
    k.has_int = d < 4294967296.0;  // RapidJSON arrays are 32-bit indexed
    k.index = k.has_int ? static_cast<std::size_t>(d) : 0;
  }
  return k;
}

void add_children(const rapidjson::Value& n, std::vector<const rapidjson::Value*>& out) {
  if (n.IsObject()) {
    for (auto it = n.MemberBegin(); it != n.MemberEnd(); ++it) out.push_back(&it->value);
  } else if (n.IsArray()) {
    for (const auto& item : n.GetArray()) out.push_back(&item);
  }
}

// Applies `key` to one JSON node; nullptr when nothing matches.
const rapidjson::Value* lookup(const rapidjson::Value& n, const Key& key) {
  if (n.IsObject()) return key.has_str ? find_member(n, key.str) : nullptr;
  if (n.IsArray() && key.has_int && key.index < n.Size()) return &n[static_cast<rapidjson::SizeType>(key.index)];
  return nullptr;
}

Value access(const Value& base, const Key& key) {
  if (const NodeList* l = Access::list(base)) {
    // Filtered array: the access applies to every item; misses are dropped.
    auto out = std::make_shared<NodeList>();
    out->keep = l->keep;
    for (const rapidjson::Value* item : l->items) {
      if (key.star) {
        add_children(*item, out->items);
      } else if (const rapidjson::Value* hit = lookup(*item, key)) {
        out->items.push_back(hit);
      }
    }
    return Access::from_list(std::move(out));
  }
  const rapidjson::Value* node = base.json_node();
  const DocPtr* keep = Access::keep(base);
  if (key.star) {
    auto out = std::make_shared<NodeList>();
    if (keep) out->keep = *keep;
    if (node) add_children(*node, out->items);
    return Access::from_list(std::move(out));
  }
  if (!node) return Value();
  const rapidjson::Value* hit = lookup(*node, key);
  return hit ? from_node(*hit, keep) : Value();
}

// Resolves a Context/Property chain straight to the JSON node (nullptr when
// missing). Property names are identifiers, so they only ever select object
// members (an identifier never converts to an array index).
const rapidjson::Value* resolve_path(const Node& n, const Scope& scope) noexcept {
  if (n.op == Op::Context) return context_node(scope, n.ctx);
  const rapidjson::Value* base = resolve_path(*n.kids[0], scope);
  return base ? find_member(*base, n.text) : nullptr;
}

}  // namespace

Value eval_node(const Node& n, const Scope& scope) {
  switch (n.op) {
    case Op::Literal: return n.literal;
    case Op::Context: {
      const rapidjson::Value* root = context_node(scope, n.ctx);
      return root ? from_node(*root, nullptr) : Value();
    }
    case Op::Property: {
      if (n.path) {
        const rapidjson::Value* hit = resolve_path(n, scope);
        return hit ? from_node(*hit, nullptr) : Value();
      }
      Value base = eval_node(*n.kids[0], scope);
      Key k;
      k.has_str = true;
      k.str = n.text;
      return access(base, k);
    }
    case Op::Index: {
      Value base = eval_node(*n.kids[0], scope);
      Value idx = eval_node(*n.kids[1], scope);
      std::string buf;
      return access(base, key_from_value(idx, buf));
    }
    case Op::Wildcard: {
      Key k;
      k.star = true;
      return access(eval_node(*n.kids[0], scope), k);
    }
    case Op::Not: return Value::make_bool(!eval_node(*n.kids[0], scope).as_bool());
    case Op::And:
    case Op::Or: {
      // Short-circuit; the result is the operand that decided.
      Value v;
      for (const auto& kid : n.kids) {
        v = eval_node(*kid, scope);
        if (v.as_bool() == (n.op == Op::Or)) break;
      }
      return v;
    }
    case Op::Eq:
    case Op::Ne:
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge: {
      Value l = eval_node(*n.kids[0], scope);
      const Node& rn = *n.kids[1];
      if ((n.op == Op::Eq || n.op == Op::Ne) && rn.op == Op::Literal && l.is_string() && rn.literal.is_string()) {
        // Fast path for the common `x == 'literal'`.
        return Value::make_bool(iequals(l.string_value(), rn.text) == (n.op == Op::Eq));
      }
      Value r = eval_node(rn, scope);
      bool b = false;
      switch (n.op) {
        case Op::Eq: b = l.loose_equals(r); break;
        case Op::Ne: b = !l.loose_equals(r); break;
        case Op::Lt: b = loose_less(l, r); break;
        case Op::Le: b = loose_less(l, r) || l.loose_equals(r); break;
        case Op::Gt: b = loose_greater(l, r); break;
        default: b = loose_greater(l, r) || l.loose_equals(r); break;
      }
      return Value::make_bool(b);
    }
    case Op::Call: return call_function(n, scope);
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Mod: return arithmetic(n.op, eval_node(*n.kids[0], scope), eval_node(*n.kids[1], scope));
    case Op::Neg:
    case Op::Plus: return arithmetic_unary(n.op, eval_node(*n.kids[0], scope));
  }
  return Value();
}

Value eval_program(const Program& p, const Scope& scope) noexcept {
  try {
    return eval_node(*p.root, scope);
  } catch (...) {  // e.g. std::bad_alloc; evaluation never throws
    return Value();
  }
}

}  // namespace switchyard::expr::detail

namespace switchyard::expr {

Expression::Expression(std::shared_ptr<const detail::Program> p) noexcept : prog_(std::move(p)) {}

Value Expression::evaluate(const Scope& scope) const {
  if (!prog_) return Value();
  return detail::eval_program(*prog_, scope);
}

bool Expression::evaluate_bool(const Scope& scope) const { return evaluate(scope).as_bool(); }

bool Expression::uses_event() const noexcept { return prog_ && prog_->uses_event; }

std::string_view Expression::source() const noexcept { return prog_ ? std::string_view(prog_->source) : std::string_view(); }

}  // namespace switchyard::expr
