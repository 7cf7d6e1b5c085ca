#include "config/templates.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "expr/expr.hpp"
#include "switchyard/event.hpp"

namespace switchyard::config {
namespace {

// The env context: only the variables the engine config allows. Written once at load.
rapidjson::Document& env_document() {
  static rapidjson::Document doc(rapidjson::kObjectType);
  return doc;
}

// The names of env.allow, as last set: env.NAME of any other variable is a load error.
std::vector<std::string>& allowed_env() {
  static std::vector<std::string> names;
  return names;
}

bool env_allowed(std::string_view name) {
  const auto& names = allowed_env();
  // Expressions look names up ignoring ASCII case (as GitHub does), so the check does too.
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    return n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
             auto up = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
             return up(a) == up(b);
           });
  });
}

// Builds the `event` context (the CloudEvents envelope) for expressions that use it.
void build_envelope(const Event& event, rapidjson::Document& out) {
  auto& a = out.GetAllocator();
  out.SetObject();
  auto str = [&](const char* key, const std::string& v) {
    out.AddMember(rapidjson::StringRef(key),
                  rapidjson::Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a), a);
  };
  out.AddMember("specversion", "1.0", a);
  str("id", event.id);
  str("source", event.source);
  str("type", event.type);
  str("subject", event.subject);
  str("time", format_rfc3339(event.time));
  str("pipeline", event.pipeline);
  out.AddMember("attempt", event.attempt, a);
  out.AddMember("meta", rapidjson::Value(event.meta, a), a);
  out.AddMember("data", rapidjson::Value(event.data, a), a);
}

// A compiled template. When the template is exactly one expression, `single_` lets test()
// evaluate it directly for its truthiness without building any JSON (conditions).
class ExprTemplate final : public Template {
 public:
  ExprTemplate(expr::Template t, std::optional<expr::Expression> single)
      : template_(std::move(t)), single_(std::move(single)) {}

  bool is_constant() const override { return template_.is_constant(); }

  void render(const Event& event, rapidjson::Value& out,
              rapidjson::MemoryPoolAllocator<>& alloc) const override {
    std::optional<rapidjson::Document> envelope;
    template_.render(scope(event, envelope), out, alloc);
  }
  void render_string(const Event& event, std::string& out) const override {
    std::optional<rapidjson::Document> envelope;
    template_.render_string(scope(event, envelope), out);
  }
  bool test(const Event& event) const override {
    std::optional<rapidjson::Document> envelope;
    if (single_) return single_->evaluate_bool(scope(event, envelope));
    rapidjson::Document result;
    template_.render(scope(event, envelope), result, result.GetAllocator());
    return truthy(result);
  }

 private:
  expr::Scope scope(const Event& event, std::optional<rapidjson::Document>& envelope) const {
    expr::Scope s;
    s.payload = &event.data;
    s.meta = &event.meta;
    s.env = &env_document();
    if (template_.uses_event()) {
      build_envelope(event, envelope.emplace());
      s.event = &*envelope;
    }
    return s;
  }
  // GitHub truthiness of a typed JSON result.
  static bool truthy(const rapidjson::Value& v) {
    if (v.IsNull()) return false;
    if (v.IsBool()) return v.GetBool();
    if (v.IsNumber()) {
      const double d = v.GetDouble();
      return d == d && d != 0;
    }
    if (v.IsString()) return v.GetStringLength() > 0;
    return true;
  }

  expr::Template template_;
  std::optional<expr::Expression> single_;
};

// A fixed value: `if: true`, or a condition that is a plain boolean.
class ConstantTemplate final : public Template {
 public:
  explicit ConstantTemplate(bool value) : value_(value) {}
  bool is_constant() const override { return true; }
  void render(const Event&, rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>&) const override {
    out.SetBool(value_);
  }
  void render_string(const Event&, std::string& out) const override { out += value_ ? "true" : "false"; }
  bool test(const Event&) const override { return value_; }

 private:
  bool value_;
};

// "${{ expr }}" exactly (surrounding blanks allowed): the inside, else nullopt.
std::optional<std::string_view> single_expression(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, last - first + 1);
  if (!text.starts_with("${{") || !text.ends_with("}}")) return std::nullopt;
  const std::string_view inner = text.substr(3, text.size() - 5);
  if (inner.find("${{") != std::string_view::npos || inner.find("}}") != std::string_view::npos) {
    return std::nullopt;
  }
  return inner;
}

}  // namespace

void set_expression_env(const std::vector<std::string>& allowed) { set_expression_env(allowed, {}); }

void set_expression_env(const std::vector<std::string>& allowed, const Variables& values) {
  allowed_env() = allowed;
  auto& doc = env_document();
  doc.SetObject();
  for (const auto& name : allowed) {
    const auto given = values.find(name);
    if (const char* value = given != values.end() ? given->second.c_str() : std::getenv(name.c_str())) {
      doc.AddMember(rapidjson::Value(name.c_str(), doc.GetAllocator()),
                    rapidjson::Value(value, doc.GetAllocator()), doc.GetAllocator());
    }
  }
}

std::shared_ptr<const Template> compile_template(const rapidjson::Value& value, bool tree,
                                                 TemplateError& error) {
  auto compiled = tree ? expr::Template::compile(value)
                       : (value.IsString() ? expr::Template::compile(std::string_view(
                                                 value.GetString(), value.GetStringLength()))
                                           : expr::Template::compile(value));
  if (!compiled) {
    const expr::ParseError& e = compiled.error();
    error = TemplateError{e.path, e.offset, e.message};
    return nullptr;
  }
  auto& t = *compiled;
  for (const auto& ref : t.env_references()) {
    if (env_allowed(ref.name)) continue;
    // Not a silent null at run time: the engine would never show this variable.
    error = TemplateError{ref.path, ref.offset,
                          "env." + ref.name + " is not in the engine configuration's env.allow, so it would "
                          "always be null; list it there (env: { allow: [" + ref.name + "] })"};
    return nullptr;
  }
  std::optional<expr::Expression> single;
  if (!tree && value.IsString()) {
    if (auto inner = single_expression(std::string_view(value.GetString(), value.GetStringLength()))) {
      auto parsed = expr::Expression::parse(*inner);
      if (parsed) single = std::move(*parsed);
    }
  }
  return std::make_shared<ExprTemplate>(std::move(t), std::move(single));
}

std::shared_ptr<const Template> compile_condition_template(const rapidjson::Value& value,
                                                           TemplateError& error) {
  if (value.IsBool()) return std::make_shared<ConstantTemplate>(value.GetBool());
  if (!value.IsString()) {
    error.message = "expected a condition: true, false or ${{ expression }}";
    return nullptr;
  }
  const std::string_view text(value.GetString(), value.GetStringLength());
  if (text == "true" || text == "false") return std::make_shared<ConstantTemplate>(text == "true");
  if (text.find("${{") == std::string_view::npos) {
    // GitHub evaluates a bare `if:` as an expression; we ask for the ${{ }} so that a
    // misplaced plain string is an error rather than always true.
    error.message = "expected a condition: true, false or ${{ expression }}";
    return nullptr;
  }
  auto compiled = compile_template(value, false, error);
  if (compiled && !single_expression(text)) {
    // Text around the ${{ }} renders a non-empty string, which is always true.
    error.message = "a condition is one ${{ expression }} with nothing around it (text outside it would make "
                    "it always true): write ${{ payload.branch == 'main' }}, not ${{ payload.branch }} == 'main'";
    return nullptr;
  }
  return compiled;
}

const Template* CompiledTemplates::find(std::string_view path) const {
  auto it = templates_.find(path);
  return it == templates_.end() ? nullptr : it->second.get();
}

void CompiledTemplates::add(std::string path, std::shared_ptr<const Template> t) {
  templates_[std::move(path)] = std::move(t);
}

namespace {

// The error's option path: `base` (prefix + relative path) joined with the path inside the
// value the expression compiler reported.
void report(const std::string& prefix, const std::string& rel, TemplateError error,
            std::vector<TemplateError>& errors) {
  const std::string base = prefix.empty() ? rel : prefix + "." + rel;
  error.path = error.path.empty() ? base
               : error.path.front() == '[' ? base + error.path
                                            : base + "." + error.path;
  errors.push_back(std::move(error));
}

// A secret option's value must not reach an error message, and the compiler's messages
// quote what they stumble on: keep the position, withhold the details.
TemplateError withheld(TemplateError error) {
  error.message = "this expression does not compile (details withheld: the option is secret)";
  return error;
}

// One string of a text template (text_template, an item of template_list or template_map).
void compile_text(const rapidjson::Value& value, const std::string& prefix, const std::string& rel, bool secret,
                  CompiledTemplates& out, std::vector<TemplateError>& errors) {
  if (!value.IsString()) return;
  TemplateError error;
  if (auto t = compile_template(value, false, error)) {
    out.add(rel, std::move(t));
  } else {
    report(prefix, rel, secret ? withheld(std::move(error)) : std::move(error), errors);
  }
}

// A plain string option is read once, as text: ${{ }} there would never be evaluated.
void refuse_expression(const rapidjson::Value& value, const std::string& prefix, const std::string& rel,
                       std::vector<TemplateError>& errors) {
  if (!value.IsString()) return;
  const std::string_view text(value.GetString(), value.GetStringLength());
  const auto at = text.find("${{");
  if (at == std::string_view::npos) return;
  report(prefix, rel,
         TemplateError{"", at,
                       "this option is plain text, read once: it takes no ${{ }} expressions (templates are "
                       "declared as such in `plugins describe`; ${VAR} reads an environment variable)"},
         errors);
}

// Calls `each(item, path)` for a string, the items of a list or the values of a map.
template <class F>
void each_string(const rapidjson::Value& value, const std::string& rel, F&& each) {
  if (value.IsString()) {
    each(value, rel);
  } else if (value.IsArray()) {
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) each(value[i], rel + "[" + std::to_string(i) + "]");
  } else if (value.IsObject()) {
    for (const auto& m : value.GetObject()) each(m.value, rel + "." + m.name.GetString());
  }
}

}  // namespace

void compile_option_templates(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                              const std::string& prefix, CompiledTemplates& out,
                              std::vector<TemplateError>& errors, const std::string& relative) {
  if (!values.IsObject()) return;
  for (const auto& spec : schema) {
    auto it = values.FindMember(spec.name);
    if (it == values.MemberEnd() || it->value.IsNull()) continue;
    const std::string rel = relative + spec.name;
    const rapidjson::Value& value = it->value;
    switch (spec.type) {
      case OptionType::object:
        compile_option_templates(spec.children, value, prefix, out, errors, rel + ".");
        continue;
      case OptionType::string:
      case OptionType::string_list:
      case OptionType::string_map:
        each_string(value, rel, [&](const rapidjson::Value& v, const std::string& path) {
          refuse_expression(v, prefix, path, errors);
        });
        continue;
      case OptionType::text_template:
      case OptionType::template_list:
      case OptionType::template_map:
        each_string(value, rel, [&](const rapidjson::Value& v, const std::string& path) {
          compile_text(v, prefix, path, spec.secret, out, errors);
        });
        continue;
      case OptionType::json_template:
      case OptionType::condition:
        break;
      default:
        continue;
    }
    TemplateError error;
    auto t = spec.type == OptionType::condition ? compile_condition_template(value, error)
                                                : compile_template(value, true, error);
    if (!t) {
      report(prefix, rel, spec.secret ? withheld(std::move(error)) : std::move(error), errors);
      continue;
    }
    out.add(rel, std::move(t));
  }
}

}  // namespace switchyard::config
