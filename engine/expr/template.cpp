// Templates: strings with `${{ expr }}` and JSON trees of such strings.
#include <optional>

#include "expr/internal.hpp"

namespace switchyard::expr::detail {

struct TNode {
  enum class K : std::uint8_t { Const, Single, Mixed, Object, Array };
  struct Part {
    std::string text;  // literal text before `expr`
    Expression expr;
  };

  K k = K::Const;
  rapidjson::Value constant;        // Const (memory in TemplateProgram::pool)
  std::optional<Expression> single;  // Single
  std::vector<Part> parts;          // Mixed
  std::string tail;                 // Mixed: text after the last expression
  std::vector<std::string> keys;    // Object (parallel to kids)
  std::vector<TNode> kids;          // Object / Array
};

struct TemplateProgram {
  rapidjson::MemoryPoolAllocator<> pool;  // declared first: outlives `root`
  TNode root;
  bool uses_event = false;
};

namespace {

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return !(s[0] >= '0' && s[0] <= '9') && s[0] != '-';
}

// Compiles one template string into `out` (Const / Single / Mixed).
bool compile_string(std::string_view text, TNode& out, TemplateProgram& prog, ParseError& err) {
  std::vector<TNode::Part> parts;
  std::string pending;
  std::size_t pos = 0;
  for (;;) {
    std::size_t open = text.find("${{", pos);
    if (open == std::string_view::npos) break;
    pending.append(text.substr(pos, open - pos));
    std::size_t start = open + 3, end = std::string_view::npos;
    bool in_string = false;
    for (std::size_t j = start; j < text.size(); ++j) {
      if (text[j] == '\'') {
        in_string = !in_string;  // '' escapes toggle twice: still correct
      } else if (!in_string && text[j] == '}' && j + 1 < text.size() && text[j + 1] == '}') {
        end = j;
        break;
      }
    }
    if (end == std::string_view::npos) {
      err.offset = open;
      err.message = "unterminated '${{' (missing '}}')";
      return false;
    }
    auto parsed = Expression::parse(text.substr(start, end - start));
    if (auto* e = std::get_if<ParseError>(&parsed)) {
      err.offset = start + e->offset;
      err.message = std::move(e->message);
      return false;
    }
    Expression& ex = std::get<Expression>(parsed);
    prog.uses_event = prog.uses_event || ex.uses_event();
    parts.push_back(TNode::Part{std::move(pending), std::move(ex)});
    pending.clear();
    pos = end + 2;
  }
  pending.append(text.substr(pos));
  if (parts.empty()) {
    out.k = TNode::K::Const;
    out.constant.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), prog.pool);
  } else if (parts.size() == 1 && is_blank(parts[0].text) && is_blank(pending)) {
    out.k = TNode::K::Single;
    out.single.emplace(std::move(parts[0].expr));
  } else {
    out.k = TNode::K::Mixed;
    out.parts = std::move(parts);
    out.tail = std::move(pending);
  }
  return true;
}

bool compile_tree(const rapidjson::Value& v, TNode& out, TemplateProgram& prog, std::string& path, int depth,
                  ParseError& err) {
  if (v.IsString()) {
    if (compile_string({v.GetString(), v.GetStringLength()}, out, prog, err)) return true;
    err.path = path;
    return false;
  }
  if (!v.IsObject() && !v.IsArray()) {
    copy_json(out.constant, v, prog.pool);
    return true;
  }
  if (depth >= kMaxJsonDepth) {
    err.path = path;
    err.message = "template nested too deeply";
    return false;
  }
  std::size_t base = path.size();
  bool all_const = true;
  if (v.IsObject()) {
    out.k = TNode::K::Object;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (is_identifier(key)) {
        if (!path.empty()) path += '.';
        path += key;
      } else {
        path += "['";
        path += key;
        path += "']";
      }
      out.keys.emplace_back(key);
      out.kids.emplace_back();
      if (!compile_tree(it->value, out.kids.back(), prog, path, depth + 1, err)) return false;
      all_const = all_const && out.kids.back().k == TNode::K::Const;
      path.resize(base);
    }
  } else {
    out.k = TNode::K::Array;
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      path += '[' + std::to_string(i) + ']';
      out.kids.emplace_back();
      if (!compile_tree(v[i], out.kids.back(), prog, path, depth + 1, err)) return false;
      all_const = all_const && out.kids.back().k == TNode::K::Const;
      path.resize(base);
    }
  }
  if (all_const) {  // no expression below: keep the subtree as one constant
    out = TNode();
    copy_json(out.constant, v, prog.pool);
  }
  return true;
}

void render_mixed(const TNode& n, const Scope& scope, std::string& out) {
  for (const auto& p : n.parts) {
    out += p.text;
    p.expr.evaluate(scope).append_string(out);
  }
  out += n.tail;
}

void render_node(const TNode& n, const Scope& scope, rapidjson::Value& out, Alloc& alloc) {
  switch (n.k) {
    case TNode::K::Const: copy_json(out, n.constant, alloc); return;
    case TNode::K::Single: n.single->evaluate(scope).to_json(out, alloc); return;
    case TNode::K::Mixed: {
      std::string s;
      render_mixed(n, scope, s);
      out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
      return;
    }
    case TNode::K::Object:
      out.SetObject();
      for (std::size_t i = 0; i < n.kids.size(); ++i) {
        rapidjson::Value k(n.keys[i].data(), static_cast<rapidjson::SizeType>(n.keys[i].size()), alloc);
        rapidjson::Value v;
        render_node(n.kids[i], scope, v, alloc);
        out.AddMember(k, v, alloc);
      }
      return;
    case TNode::K::Array:
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(n.kids.size()), alloc);
      for (const TNode& kid : n.kids) {
        rapidjson::Value v;
        render_node(kid, scope, v, alloc);
        out.PushBack(v, alloc);
      }
      return;
  }
}

// Writes a node as compact JSON text.
void write_node_json(const TNode& n, const Scope& scope, std::string& out) {
  switch (n.k) {
    case TNode::K::Const: write_json(out, n.constant, false); return;
    case TNode::K::Single: write_json(out, n.single->evaluate(scope), false); return;
    case TNode::K::Mixed: {
      std::string s;
      render_mixed(n, scope, s);
      append_json_string(out, s);
      return;
    }
    case TNode::K::Object:
    case TNode::K::Array: {
      bool object = n.k == TNode::K::Object;
      out += object ? '{' : '[';
      for (std::size_t i = 0; i < n.kids.size(); ++i) {
        if (i) out += ',';
        if (object) {
          append_json_string(out, n.keys[i]);
          out += ':';
        }
        write_node_json(n.kids[i], scope, out);
      }
      out += object ? '}' : ']';
      return;
    }
  }
}

}  // namespace

}  // namespace switchyard::expr::detail

namespace switchyard::expr {

using detail::TemplateProgram;
using detail::TNode;

Template::Template(std::shared_ptr<const TemplateProgram> p) noexcept : prog_(std::move(p)) {}

std::variant<Template, ParseError> Template::compile(std::string_view text) {
  ParseError err;
  try {
    auto prog = std::make_shared<TemplateProgram>();
    if (!detail::compile_string(text, prog->root, *prog, err)) return err;
    return Template(std::move(prog));
  } catch (const std::exception& e) {
    err.message = std::string("internal error: ") + e.what();
    return err;
  }
}

std::variant<Template, ParseError> Template::compile(const rapidjson::Value& tree) {
  ParseError err;
  try {
    auto prog = std::make_shared<TemplateProgram>();
    std::string path;
    if (!detail::compile_tree(tree, prog->root, *prog, path, 0, err)) return err;
    return Template(std::move(prog));
  } catch (const std::exception& e) {
    err.message = std::string("internal error: ") + e.what();
    return err;
  }
}

bool Template::is_constant() const noexcept { return !prog_ || prog_->root.k == TNode::K::Const; }

bool Template::uses_event() const noexcept { return prog_ && prog_->uses_event; }

void Template::render(const Scope& scope, rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) const {
  out.SetNull();
  if (!prog_) return;
  try {
    detail::render_node(prog_->root, scope, out, alloc);
  } catch (...) {  // allocation failure; rendering never throws
    out.SetNull();
  }
}

std::string Template::render_string(const Scope& scope) const {
  std::string s;
  render_string(scope, s);
  return s;
}

void Template::render_string(const Scope& scope, std::string& out) const {
  if (!prog_) return;
  const TNode& root = prog_->root;
  try {
    switch (root.k) {
      case TNode::K::Const:
        if (root.constant.IsString()) {
          out.append(root.constant.GetString(), root.constant.GetStringLength());
        } else {
          detail::write_json(out, root.constant, false);
        }
        return;
      case TNode::K::Single: root.single->evaluate(scope).append_string(out); return;
      case TNode::K::Mixed: detail::render_mixed(root, scope, out); return;
      default: detail::write_node_json(root, scope, out); return;
    }
  } catch (...) {  // allocation failure; rendering never throws
  }
}

}  // namespace switchyard::expr
