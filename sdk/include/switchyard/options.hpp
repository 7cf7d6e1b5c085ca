#pragma once
// Option schemas: each component declares its options once (name, type, default or
// required, description, example, secret). The engine validates pipeline YAML against the
// declaration, fills defaults, prints `plugins describe` and the docs reference from it,
// and redacts secrets with it. Components read their validated options through Options.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

class Template;
class TemplateSet;
class TextOption;

/// The type of an option; the normalized value a component reads is noted for each.
/// Templates are their own types: only text_template, template_list, template_map,
/// json_template and condition options may hold ${{ }} (the engine compiles them once at
/// load); a plain string option holding ${{ }} is a load error, since its component reads
/// it once as text.
enum class OptionType {
  string,         ///< A string. Scalars are accepted and converted.
  integer,        ///< A signed 64-bit integer.
  number,         ///< A double.
  boolean,        ///< true / false.
  duration,       ///< "500ms", "10s", "5m", "24h", "1h30m" → milliseconds.
  size,           ///< "1024", "64KB", "25MiB" → bytes.
  string_list,    ///< A list of strings; a single string is accepted as a list of one.
  string_map,     ///< A map of string to string (headers, column mappings).
  object,         ///< A nested map validated against `children`.
  json,           ///< Any YAML value, taken as JSON.
  text_template,  ///< A string that may contain ${{ }} expressions, rendered per event.
  template_list,  ///< A list of text templates; a single string is accepted as a list of one.
  template_map,   ///< A map of string to text template (headers, column mappings).
  json_template,  ///< Any YAML value whose strings may contain ${{ }} expressions.
  condition,      ///< true, false or a "${{ expression }}" tested for GitHub truthiness.
};

/// The declaration of one option.
struct OptionSpec {
  const char* name = "";
  OptionType type = OptionType::string;
  bool required = false;
  /// Default in text form: the plain scalar for string/duration/size/number/boolean/text
  /// templates, JSON text for lists, maps, objects and JSON. nullptr: no default.
  const char* default_value = nullptr;
  const char* description = "";
  const char* example = nullptr;
  bool secret = false;  ///< Redacted in logs, errors, describe output and the admin API.
  std::span<const char* const> choices = {};  ///< For strings: the allowed values, if limited.
  std::span<const OptionSpec> children = {};  ///< For OptionType::object.
  /// For a string: the path this component serves on the engine's shared HTTP listener.
  /// The engine then refuses two pipelines on one path (validate names both), answers the
  /// path 503 + Retry-After while its pipeline starts, and lets a reload move it.
  bool route = false;
};

/// A validation failure: the option path ("retry.max") and a one-line reason.
struct OptionError {
  std::string path;
  std::string message;
};

/// The lower-case name of an option type, as printed by `plugins describe`.
inline const char* to_string(OptionType type) {
  switch (type) {
    case OptionType::string: return "string";
    case OptionType::integer: return "integer";
    case OptionType::number: return "number";
    case OptionType::boolean: return "boolean";
    case OptionType::duration: return "duration";
    case OptionType::size: return "size";
    case OptionType::string_list: return "list of strings";
    case OptionType::string_map: return "map of strings";
    case OptionType::object: return "object";
    case OptionType::json: return "json";
    case OptionType::text_template: return "template";
    case OptionType::template_list: return "list of templates";
    case OptionType::template_map: return "map of templates";
    case OptionType::json_template: return "json template";
    case OptionType::condition: return "condition";
  }
  return "unknown";
}

/// Checks `input` (a JSON object, typically converted from YAML) against `schema`, writing
/// the normalized object with defaults applied into `out`. Every problem is appended to
/// `errors`, with paths prefixed by `prefix`. Values of secret options never appear in errors.
inline void normalize_options(std::span<const OptionSpec> schema, const rapidjson::Value& input,
                       rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc,
                       std::vector<OptionError>& errors, const std::string& prefix = "");

/// A copy of normalized options with every secret value replaced by "<redacted>".
inline void redact_options(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                    rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc);

/// Read access to a component's validated, defaulted options. Borrowed: the engine keeps
/// the values alive for the component's lifetime.
class Options {
 public:
  Options(const rapidjson::Value& values, std::span<const OptionSpec> schema,
          const TemplateSet* templates = nullptr, std::string prefix = {})
      : values_(&values), schema_(schema), templates_(templates), prefix_(std::move(prefix)) {}

  /// Whether the option was given or has a default.
  bool has(std::string_view name) const { return find(name) != nullptr; }
  /// A string option, "" when absent.
  std::string_view string(std::string_view name) const {
    const auto* v = find(name);
    return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                              : std::string_view();
  }
  /// An integer option, `fallback` when absent.
  std::int64_t integer(std::string_view name, std::int64_t fallback = 0) const {
    const auto* v = find(name);
    return v && v->IsInt64() ? v->GetInt64() : fallback;
  }
  /// A number option, `fallback` when absent.
  double number(std::string_view name, double fallback = 0) const {
    const auto* v = find(name);
    return v && v->IsNumber() ? v->GetDouble() : fallback;
  }
  /// A boolean option, `fallback` when absent.
  bool boolean(std::string_view name, bool fallback = false) const {
    const auto* v = find(name);
    return v && v->IsBool() ? v->GetBool() : fallback;
  }
  /// A duration option, `fallback` when absent.
  std::chrono::milliseconds duration(std::string_view name,
                                     std::chrono::milliseconds fallback = {}) const {
    const auto* v = find(name);
    return v && v->IsInt64() ? std::chrono::milliseconds(v->GetInt64()) : fallback;
  }
  /// A size option in bytes, `fallback` when absent.
  std::uint64_t size(std::string_view name, std::uint64_t fallback = 0) const {
    const auto* v = find(name);
    return v && v->IsUint64() ? v->GetUint64() : fallback;
  }
  /// A list-of-strings option, empty when absent.
  std::vector<std::string> strings(std::string_view name) const {
    std::vector<std::string> out;
    if (const auto* v = find(name); v && v->IsArray()) {
      for (const auto& item : v->GetArray()) {
        if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
      }
    }
    return out;
  }
  /// The raw normalized JSON of an option (maps, objects, json, templates); null when absent.
  const rapidjson::Value& json(std::string_view name) const {
    static const rapidjson::Value kNull;
    const auto* v = find(name);
    return v ? *v : kNull;
  }
  /// A nested object option.
  Options object(std::string_view name) const {
    static const rapidjson::Value kEmpty(rapidjson::kObjectType);
    const auto* v = find(name);
    std::span<const OptionSpec> children;
    for (const auto& spec : schema_) {
      if (name == spec.name) children = spec.children;
    }
    return Options(v && v->IsObject() ? *v : kEmpty, children, templates_,
                   prefix_ + std::string(name) + ".");
  }
  /// The compiled template of a text_template, json_template or condition option; nullptr
  /// when the option is absent (or when no engine compiled templates, as in a bare unit test).
  inline const Template* template_of(std::string_view name) const;
  /// A text_template option, rendered per event (its literal text when nothing compiled it).
  inline TextOption text(std::string_view name) const;
  /// The items of a template_list option, each rendered per event.
  inline std::vector<TextOption> texts(std::string_view name) const;
  /// The entries of a template_map option (e.g. headers), whose values are rendered per event.
  inline std::vector<std::pair<std::string_view, TextOption>> text_map(std::string_view name) const;
  /// All normalized values as one JSON object.
  const rapidjson::Value& values() const { return *values_; }
  std::span<const OptionSpec> schema() const { return schema_; }

 private:
  const rapidjson::Value* find(std::string_view name) const {
    if (!values_->IsObject()) return nullptr;
    auto it = values_->FindMember(
        rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
    if (it == values_->MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  const rapidjson::Value* values_;
  std::span<const OptionSpec> schema_;
  const TemplateSet* templates_;
  std::string prefix_;
};

}  // namespace switchyard

#include "switchyard/detail/options_impl.hpp"
