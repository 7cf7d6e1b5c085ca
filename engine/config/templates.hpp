#pragma once
// Templates and conditions compiled once at load from ${{ }} expressions (engine/expr),
// evaluated per event through the SDK's Template interface.

#include <rapidjson/document.h>

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/interpolate.hpp"
#include "switchyard/options.hpp"
#include "switchyard/template.hpp"

namespace switchyard::config {

/// A template that failed to compile: option path, byte offset in the string, reason.
struct TemplateError {
  std::string path;
  std::size_t offset = 0;
  std::string message;
};

/// Sets which environment variables expressions see as `env` (engine config env.allow).
/// Templates compiled afterwards that read env.NAME of any other variable fail to compile.
void set_expression_env(const std::vector<std::string>& allowed);
/// The same, with `values` standing in for the environment's (a test file's `variables:`).
void set_expression_env(const std::vector<std::string>& allowed, const Variables& values);

/// Compiles a template from an option value: a string (text or single expression) or,
/// when `tree` is true, any JSON tree of such strings. nullptr with `error` set on failure.
std::shared_ptr<const Template> compile_template(const rapidjson::Value& value, bool tree,
                                                 TemplateError& error);

/// Compiles a condition: a boolean, "true"/"false", or a string holding ${{ }}.
std::shared_ptr<const Template> compile_condition_template(const rapidjson::Value& value,
                                                           TemplateError& error);

/// The compiled templates of one component, by option path.
class CompiledTemplates final : public TemplateSet {
 public:
  const Template* find(std::string_view path) const override;
  void add(std::string path, std::shared_ptr<const Template> t);
  bool empty() const { return templates_.empty(); }

 private:
  std::map<std::string, std::shared_ptr<const Template>, std::less<>> templates_;
};

/// Compiles every template option present in `values` (normalized against `schema`):
/// text_template, the items of template_list and template_map, json_template and condition,
/// recursing into objects; ${{ }} in a plain string option is an error (it is read once, as
/// text). Paths are relative to the component ("text", "embed.title", "headers.X-Repo",
/// "to[1]"); errors carry them prefixed by `prefix`.
void compile_option_templates(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                              const std::string& prefix, CompiledTemplates& out,
                              std::vector<TemplateError>& errors, const std::string& relative = "");

}  // namespace switchyard::config
