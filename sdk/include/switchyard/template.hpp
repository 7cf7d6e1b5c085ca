#pragma once
// Compiled templates and conditions. The engine compiles every option declared as a
// template (text_template, template_list, template_map, json_template, condition) and every
// `if:` once at load — `${{ }}` expressions with GitHub Actions semantics — and a component
// evaluates them per event through these interfaces. Syntax errors are load-time errors
// with file, line and column.

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "switchyard/event.hpp"

namespace switchyard {

/// A compiled template. Thread-safe: evaluation is const.
class Template {
 public:
  virtual ~Template() = default;
  /// True when the template holds no expression (its value never changes).
  virtual bool is_constant() const = 0;
  /// Typed result: a string that is exactly one ${{ }} keeps the expression's type, mixed
  /// text gives a string, a YAML map/list gives JSON. Written into `out` using `alloc`.
  virtual void render(const Event& event, rapidjson::Value& out,
                      rapidjson::MemoryPoolAllocator<>& alloc) const = 0;
  /// String result, appended to `out` (objects and arrays as compact JSON).
  virtual void render_string(const Event& event, std::string& out) const = 0;
  /// GitHub truthiness of the typed result (null, false, 0, NaN and '' are false).
  virtual bool test(const Event& event) const = 0;

  /// Convenience: the string result.
  std::string render_string(const Event& event) const {
    std::string out;
    render_string(event, out);
    return out;
  }
};

/// A text_template option (or an item of a template_list / template_map) as written, with
/// the template the engine compiled from it: Options::text("url") in configure(), render()
/// per event. Borrowed, like Options: valid for the component's lifetime.
class TextOption {
 public:
  TextOption() = default;
  TextOption(std::string_view literal, const Template* compiled) : literal_(literal), compiled_(compiled) {}

  /// True when the value is the same for every event (no expression).
  bool is_constant() const { return compiled_ == nullptr || compiled_->is_constant(); }
  /// The option's text as written (expressions unevaluated).
  std::string_view literal() const { return literal_; }
  /// The compiled template, nullptr for a value without expressions: for the typed result
  /// (Template::render), e.g. whether an expression gave a list or a string.
  const Template* compiled() const { return compiled_; }
  /// The value for `event`, appended to `out`.
  void render(const Event& event, std::string& out) const {
    if (compiled_ != nullptr) {
      compiled_->render_string(event, out);
    } else {
      out.append(literal_);
    }
  }
  std::string render(const Event& event) const {
    std::string out;
    render(event, out);
    return out;
  }

 private:
  std::string_view literal_;
  const Template* compiled_ = nullptr;
};

/// The compiled templates of one component's options, by option path ("text", "embed.title").
class TemplateSet {
 public:
  virtual ~TemplateSet() = default;
  /// The template compiled for the option at `path`, or nullptr when it has none.
  virtual const Template* find(std::string_view path) const = 0;
};

}  // namespace switchyard
