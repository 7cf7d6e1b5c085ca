// Value: representation, accessors, coercions and JSON-node unwrapping.
#include <cmath>
#include <cstring>

#include "expr/internal.hpp"

namespace switchyard::expr {

using detail::Access;
using detail::DocPtr;
using detail::NodeList;

namespace {

Value::Kind node_kind(const rapidjson::Value& n) noexcept {
  switch (n.GetType()) {
    case rapidjson::kObjectType: return Value::Kind::Object;
    case rapidjson::kArrayType: return Value::Kind::Array;
    case rapidjson::kStringType: return Value::Kind::String;
    case rapidjson::kNumberType: return Value::Kind::Number;
    case rapidjson::kTrueType:
    case rapidjson::kFalseType: return Value::Kind::Bool;
    default: return Value::Kind::Null;
  }
}

}  // namespace

// ---------------------------------------------------------------- factories

Value Value::make_bool(bool b) noexcept {
  Value v;
  v.v_ = b;
  return v;
}

Value Value::make_number(double d) noexcept {
  Value v;
  v.v_ = Num{d, 0, 0};
  return v;
}

Value Value::make_string_ref(std::string_view s) noexcept {
  Value v;
  v.v_ = s;
  return v;
}

Value Value::make_string(std::string s) {
  Value v;
  v.v_ = std::move(s);
  return v;
}

Value Value::make_json_ref(const rapidjson::Value& node) noexcept { return detail::from_node(node, nullptr); }

Value Value::make_json(std::shared_ptr<const rapidjson::Document> doc) {
  if (!doc) return Value();
  DocPtr keep = std::move(doc);
  const rapidjson::Value& root = *keep;
  return detail::from_node(root, &keep);
}

// ---------------------------------------------------------------- accessors

Value::Kind Value::kind() const noexcept {
  switch (v_.index()) {
    case 0: return Kind::Null;
    case 1: return Kind::Bool;
    case 2: return Kind::Number;
    case 3:
    case 4: return Kind::String;
    case 5: return node_kind(*std::get<5>(v_));
    case 6: return node_kind(*std::get<6>(v_).node);
    case 7: return Kind::Array;
    default: return Kind::Null;  // omit()
  }
}

bool Value::is_primitive() const noexcept {
  Kind k = kind();
  return k != Kind::Object && k != Kind::Array;
}

bool Value::bool_value() const noexcept {
  const bool* b = std::get_if<bool>(&v_);
  return b && *b;
}

double Value::number_value() const noexcept {
  const Num* n = std::get_if<Num>(&v_);
  return n ? n->d : 0.0;
}

std::string_view Value::string_value() const noexcept {
  switch (v_.index()) {
    case 3: return std::get<3>(v_);
    case 4: return std::get<4>(v_);
    case 6: {
      const rapidjson::Value* n = std::get<6>(v_).node;
      if (n->IsString()) return {n->GetString(), n->GetStringLength()};
      return {};
    }
    default: return {};
  }
}

const rapidjson::Value* Value::json_node() const noexcept {
  if (const auto* p = std::get_if<5>(&v_)) return *p;
  if (const auto* o = std::get_if<6>(&v_)) {
    if (o->node->IsObject() || o->node->IsArray()) return o->node;
  }
  return nullptr;
}

std::size_t Value::size() const noexcept {
  if (const NodeList* l = Access::list(*this)) return l->items.size();
  const rapidjson::Value* n = json_node();
  if (!n) return 0;
  return n->IsArray() ? n->Size() : n->MemberCount();
}

Value Value::at(std::size_t i) const {
  if (const NodeList* l = Access::list(*this)) {
    if (i >= l->items.size()) return Value();
    return detail::from_node(*l->items[i], l->keep ? &l->keep : nullptr);
  }
  const rapidjson::Value* n = json_node();
  if (!n || !n->IsArray() || i >= n->Size()) return Value();
  return detail::from_node((*n)[static_cast<rapidjson::SizeType>(i)], Access::keep(*this));
}

Value Value::get(std::string_view key) const {
  const rapidjson::Value* n = json_node();
  if (!n || !n->IsObject()) return Value();
  const rapidjson::Value* m = detail::find_member(*n, key);
  return m ? detail::from_node(*m, Access::keep(*this)) : Value();
}

// --------------------------------------------------------------- coercions

bool Value::as_bool() const noexcept {
  switch (kind()) {
    case Kind::Null: return false;
    case Kind::Bool: return bool_value();
    case Kind::Number: {
      double d = number_value();
      return d != 0 && !std::isnan(d);
    }
    case Kind::String: return !string_value().empty();
    default: return true;
  }
}

double Value::as_number() const noexcept {
  switch (kind()) {
    case Kind::Null: return 0;
    case Kind::Bool: return bool_value() ? 1 : 0;
    case Kind::Number: return number_value();
    case Kind::String: return detail::parse_number(string_value());
    default: return std::nan("");
  }
}

void Value::append_string(std::string& out) const {
  switch (kind()) {
    case Kind::Null: return;
    case Kind::Bool: out += bool_value() ? "true" : "false"; return;
    case Kind::Number: {
      std::int64_t i;
      std::uint64_t u;
      if (Access::exact_int(*this, i)) {
        out += std::to_string(i);
      } else if (Access::exact_uint(*this, u)) {
        out += std::to_string(u);
      } else {
        detail::append_number(out, number_value());
      }
      return;
    }
    case Kind::String: out += string_value(); return;
    default: detail::write_json(out, *this, false); return;
  }
}

std::string Value::to_string() const {
  std::string s;
  append_string(s);
  return s;
}

std::string Value::to_json_string(bool pretty) const {
  std::string s;
  detail::write_json(s, *this, pretty);
  return s;
}

void Value::to_json(rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) const {
  switch (v_.index()) {
    case 0: out.SetNull(); return;
    case 1: out.SetBool(std::get<1>(v_)); return;
    case 2: {
      const Num& n = std::get<2>(v_);
      if (n.exact == 1) {
        out.SetInt64(static_cast<std::int64_t>(n.bits));
      } else if (n.exact == 2) {
        out.SetUint64(n.bits);
      } else if (!std::isfinite(n.d)) {
        out.SetNull();
      } else if (n.d == std::floor(n.d) && std::fabs(n.d) < 9.2e18) {
        out.SetInt64(static_cast<std::int64_t>(n.d));
      } else {
        out.SetDouble(n.d);
      }
      return;
    }
    case 3:
    case 4: {
      std::string_view s = string_value();
      out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
      return;
    }
    case 5: detail::copy_json(out, *std::get<5>(v_), alloc); return;
    case 6: detail::copy_json(out, *std::get<6>(v_).node, alloc); return;
    case 8: out.SetNull(); return;  // omit()
    default: {
      const NodeList& l = *std::get<7>(v_);
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(l.items.size()), alloc);
      for (const rapidjson::Value* item : l.items) {
        rapidjson::Value v;
        detail::copy_json(v, *item, alloc, 1);
        out.PushBack(v, alloc);
      }
      return;
    }
  }
}

namespace detail {

Value from_node(const rapidjson::Value& n, const DocPtr* keep) { return Access::from_node(n, keep); }

Value Access::from_node(const rapidjson::Value& n, const DocPtr* keep) {
  switch (n.GetType()) {
    case rapidjson::kNullType: return Value();
    case rapidjson::kFalseType: return Value::make_bool(false);
    case rapidjson::kTrueType: return Value::make_bool(true);
    case rapidjson::kNumberType: {
      Value::Num nn{n.GetDouble(), 0, 0};
      if (n.IsInt64()) {
        nn.exact = 1;
        nn.bits = static_cast<std::uint64_t>(n.GetInt64());
      } else if (n.IsUint64()) {
        nn.exact = 2;
        nn.bits = n.GetUint64();
      }
      Value v;
      v.v_ = nn;
      return v;
    }
    case rapidjson::kStringType:
      if (keep && *keep) {
        Value v;
        v.v_ = Value::OwnedNode{*keep, &n};
        return v;
      }
      return Value::make_string_ref({n.GetString(), n.GetStringLength()});
    default: {  // object / array
      Value v;
      if (keep && *keep) {
        v.v_ = Value::OwnedNode{*keep, &n};
      } else {
        v.v_ = &n;
      }
      return v;
    }
  }
}

const rapidjson::Value* find_member(const rapidjson::Value& obj, std::string_view key) noexcept {
  if (!obj.IsObject()) return nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const rapidjson::Value& name = it->name;
    if (name.GetStringLength() == key.size() && std::memcmp(name.GetString(), key.data(), key.size()) == 0) {
      return &it->value;
    }
  }
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (iequals({it->name.GetString(), it->name.GetStringLength()}, key)) return &it->value;
  }
  return nullptr;
}

std::string_view view_of(const Value& v, std::string& buf) {
  if (v.is_string()) return v.string_value();
  buf.clear();
  v.append_string(buf);
  return buf;
}

Value Access::from_list(std::shared_ptr<const NodeList> l) {
  Value v;
  v.v_ = std::move(l);
  return v;
}

const NodeList* Access::list(const Value& v) {
  const auto* p = std::get_if<7>(&v.v_);
  return p ? p->get() : nullptr;
}

const DocPtr* Access::keep(const Value& v) {
  const auto* o = std::get_if<6>(&v.v_);
  return o ? &o->doc : nullptr;
}

Value Access::make_int(std::int64_t i) noexcept {
  Value v;
  v.v_ = Value::Num{static_cast<double>(i), static_cast<std::uint64_t>(i), 1};
  return v;
}

Value Access::make_omit() noexcept {
  Value v;
  v.v_ = Value::Omit{};
  return v;
}

bool Access::is_omit(const Value& v) noexcept { return v.v_.index() == 8; }

bool Access::exact_int(const Value& v, std::int64_t& i) {
  const auto* n = std::get_if<2>(&v.v_);
  if (!n || n->exact != 1) return false;
  i = static_cast<std::int64_t>(n->bits);
  return true;
}

bool Access::exact_uint(const Value& v, std::uint64_t& u) {
  const auto* n = std::get_if<2>(&v.v_);
  if (!n || n->exact != 2) return false;
  u = n->bits;
  return true;
}

const void* Access::identity(const Value& v) {
  switch (v.v_.index()) {
    case 5: return std::get<5>(v.v_);
    case 6: return std::get<6>(v.v_).node;
    case 7: return std::get<7>(v.v_).get();
    default: return nullptr;
  }
}

}  // namespace detail
}  // namespace switchyard::expr
