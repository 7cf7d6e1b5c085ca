#pragma once
// Templates and conditions compiled once at load from ${{ }} expressions (engine/expr),
// evaluated per event through the SDK's Template interface.

#include <rapidjson/document.h>

#include <atomic>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

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
void set_expression_env(const std::vector<std::string>& allowed);

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
  /// Also records that the component asked for the template at `path`.
  const Template* find(std::string_view path) const override;
  /// `from_string`: compiled from a plain string option (its component decides whether it
  /// renders it per event; see unused_string_templates()).
  void add(std::string path, std::shared_ptr<const Template> t, bool from_string = false);
  bool empty() const { return templates_.empty(); }
  /// Paths of string options holding ${{ }} whose template the component never asked for:
  /// it read them as plain text, so their expressions would never be evaluated.
  std::vector<std::string> unused_string_templates() const;

 private:
  struct Entry {
    std::shared_ptr<const Template> compiled;
    bool from_string = false;
    mutable std::atomic<bool> asked{false};
  };
  std::map<std::string, Entry, std::less<>> templates_;
};

/// What ${{ }} in plain string options (string, and the items of string_list and string_map)
/// means for a component.
enum class StringExpressions {
  compile,  ///< sinks and transforms: compiled, for the component to render per event
  refuse,   ///< sources: an error (their options are read once, with no event to evaluate)
};

/// Compiles every text_template / json_template / condition option present in `values`
/// (normalized against `schema`), and ${{ }} in plain string options as `strings` says,
/// recursing into objects. Paths are relative to the component ("text", "embed.title",
/// "headers.X-Repo", "to[1]"); errors carry them prefixed by `prefix`.
void compile_option_templates(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                              const std::string& prefix, CompiledTemplates& out,
                              std::vector<TemplateError>& errors, const std::string& relative = "",
                              StringExpressions strings = StringExpressions::compile);

}  // namespace switchyard::config
