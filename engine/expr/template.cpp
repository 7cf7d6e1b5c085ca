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
  std::vector<EnvReference> env;  // env.NAME read by its expressions
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

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Length of the context name (payload, event, meta, env; any case) at s[i], or 0.
std::size_t context_word(std::string_view s, std::size_t i) {
  for (std::string_view w : {"payload", "event", "meta", "env"}) {
    if (s.size() - i >= w.size() && iequals(s.substr(i, w.size()), w) &&
        (i + w.size() == s.size() || !is_word_char(s[i + w.size()]))) {
      return w.size();
    }
  }
  return 0;
}

// A property path starting at s[i] (`payload.commits[0].id`), for a suggestion.
std::string_view path_at(std::string_view s, std::size_t i) {
  std::size_t j = i;
  while (j < s.size() && (is_word_char(s[j]) || s[j] == '.' || s[j] == '[' || s[j] == ']' || s[j] == '-' ||
                          s[j] == '*' || s[j] == '\'')) {
    ++j;
  }
  while (j > i && s[j - 1] == '.') --j;
  return s.substr(i, j - i);
}

// Text outside ${{ }} that another template language would have evaluated:
// Liquid's and Vector's `{{ payload.x }}`, the shell's `$payload.x` and
// `${payload.x}`. Left alone it would be sent as written; `offset` is where
// `text` starts in the template string.
bool check_literal_text(std::string_view text, std::size_t offset, ParseError& err) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string suggestion;
    std::string_view written;
    if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      std::size_t j = i + 2;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      if (j < text.size() && text[j] == '.') ++j;  // Vector's `{{ .field }}`
      if (j >= text.size() || context_word(text, j) == 0) continue;
      std::size_t close = text.find("}}", j);
      std::string_view inner = text.substr(j, close == std::string_view::npos ? std::string_view::npos : close - j);
      inner = inner.substr(0, inner.find('|'));  // Liquid filters: `{{ payload.x | upcase }}`
      while (!inner.empty() && (inner.back() == ' ' || inner.back() == '\t')) inner.remove_suffix(1);
      suggestion = std::string(inner);
      written = "{{ }}";
    } else if (text[i] == '$' && i + 1 < text.size()) {
      std::size_t j = i + 1 + (text[i + 1] == '{');
      std::size_t word = j < text.size() ? context_word(text, j) : 0;
      if (word == 0 || j + word >= text.size() || (text[j + word] != '.' && text[j + word] != '[')) continue;
      suggestion = std::string(path_at(text, j));
      written = j > i + 1 ? "${VAR} (an environment variable, read when the file loads)" : "$name";
    } else {
      continue;
    }
    err.offset = offset + i;
    err.message = "did you mean ${{ " + suggestion + " }}? Expressions are written ${{ }}, not " + std::string(written);
    return false;
  }
  return true;
}

// env.NAME and env['NAME'] in an expression (offsets inside its text).
void collect_env(const Node& n, std::size_t base, std::vector<EnvReference>& out) {
  if ((n.op == Op::Property || n.op == Op::Index) && n.kids[0]->op == Op::Context && n.kids[0]->ctx == Ctx::Env) {
    if (n.op == Op::Property) {
      out.push_back(EnvReference{n.text, base + n.offset, {}});
    } else if (n.kids[1]->op == Op::Literal && n.kids[1]->literal.is_string()) {
      out.push_back(EnvReference{n.kids[1]->text, base + n.offset, {}});
    }
  }
  for (const auto& kid : n.kids) collect_env(*kid, base, out);
}

// Compiles one template string into `out` (Const / Single / Mixed).
bool compile_string(std::string_view text, TNode& out, TemplateProgram& prog, ParseError& err) {
  std::vector<TNode::Part> parts;
  std::string pending;
  std::size_t pos = 0;
  for (;;) {
    std::size_t open = text.find("${{", pos);
    if (open == std::string_view::npos) break;
    if (!check_literal_text(text.substr(pos, open - pos), pos, err)) return false;
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
    if (!parsed) {
      err.offset = start + parsed.error().offset;
      err.message = std::move(parsed.error().message);
      return false;
    }
    Expression& ex = *parsed;
    prog.uses_event = prog.uses_event || ex.uses_event();
    collect_env(*Access::program(ex)->root, start, prog.env);
    parts.push_back(TNode::Part{std::move(pending), std::move(ex)});
    pending.clear();
    pos = end + 2;
  }
  if (!check_literal_text(text.substr(pos), pos, err)) return false;
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
    const std::size_t env_before = prog.env.size();
    if (compile_string({v.GetString(), v.GetStringLength()}, out, prog, err)) {
      for (std::size_t i = env_before; i < prog.env.size(); ++i) prog.env[i].path = path;
      return true;
    }
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
      if (key.find("${{") != std::string_view::npos) {
        // Keys are literal: this one would be sent as written, braces and all.
        err.path = path;
        err.message = "an object key is not a template: ${{ }} in a key would be sent as written";
        return false;
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

// Appends the string; false (with `out` unchanged) when an expression in it
// yields omit(): the whole string is left out.
bool render_mixed(const TNode& n, const Scope& scope, std::string& out) {
  const std::size_t before = out.size();
  for (const auto& p : n.parts) {
    out += p.text;
    Value v = p.expr.evaluate(scope);
    if (Access::is_omit(v)) {
      out.resize(before);
      return false;
    }
    v.append_string(out);
  }
  out += n.tail;
  return true;
}

// Renders `n` into `out`; false when it yields omit() (then `out` is null and
// the enclosing map or list leaves it out).
bool render_node(const TNode& n, const Scope& scope, rapidjson::Value& out, Alloc& alloc) {
  switch (n.k) {
    case TNode::K::Const: copy_json(out, n.constant, alloc); return true;
    case TNode::K::Single: {
      Value v = n.single->evaluate(scope);
      v.to_json(out, alloc);
      return !Access::is_omit(v);
    }
    case TNode::K::Mixed: {
      std::string s;
      if (!render_mixed(n, scope, s)) {
        out.SetNull();
        return false;
      }
      out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
      return true;
    }
    case TNode::K::Object:
      out.SetObject();
      for (std::size_t i = 0; i < n.kids.size(); ++i) {
        rapidjson::Value v;
        if (!render_node(n.kids[i], scope, v, alloc)) continue;
        rapidjson::Value k(n.keys[i].data(), static_cast<rapidjson::SizeType>(n.keys[i].size()), alloc);
        out.AddMember(k, v, alloc);
      }
      return true;
    case TNode::K::Array:
      out.SetArray();
      out.Reserve(static_cast<rapidjson::SizeType>(n.kids.size()), alloc);
      for (const TNode& kid : n.kids) {
        rapidjson::Value v;
        if (render_node(kid, scope, v, alloc)) out.PushBack(v, alloc);
      }
      return true;
  }
  return true;
}

// Writes a node as compact JSON text; false (writing nothing) when it yields
// omit().
bool write_node_json(const TNode& n, const Scope& scope, std::string& out) {
  switch (n.k) {
    case TNode::K::Const: write_json(out, n.constant, false); return true;
    case TNode::K::Single: {
      Value v = n.single->evaluate(scope);
      if (Access::is_omit(v)) return false;
      write_json(out, v, false);
      return true;
    }
    case TNode::K::Mixed: {
      std::string s;
      if (!render_mixed(n, scope, s)) return false;
      append_json_string(out, s);
      return true;
    }
    case TNode::K::Object:
    case TNode::K::Array: {
      bool object = n.k == TNode::K::Object;
      out += object ? '{' : '[';
      bool first = true;
      for (std::size_t i = 0; i < n.kids.size(); ++i) {
        const std::size_t before = out.size();
        if (!first) out += ',';
        if (object) {
          append_json_string(out, n.keys[i]);
          out += ':';
        }
        if (write_node_json(n.kids[i], scope, out)) {
          first = false;
        } else {
          out.resize(before);
        }
      }
      out += object ? '}' : ']';
      return true;
    }
  }
  return true;
}

}  // namespace

}  // namespace switchyard::expr::detail

namespace switchyard::expr {

using detail::TemplateProgram;
using detail::TNode;

Template::Template(std::shared_ptr<const TemplateProgram> p) noexcept : prog_(std::move(p)) {}

Result<Template, ParseError> Template::compile(std::string_view text) {
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

Result<Template, ParseError> Template::compile(const rapidjson::Value& tree) {
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

const std::vector<EnvReference>& Template::env_references() const noexcept {
  static const std::vector<EnvReference> kNone;
  return prog_ ? prog_->env : kNone;
}

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
      case TNode::K::Mixed: detail::render_mixed(root, scope, out); return;  // omitted: ''
      default: detail::write_node_json(root, scope, out); return;
    }
  } catch (...) {  // allocation failure; rendering never throws
  }
}

}  // namespace switchyard::expr
