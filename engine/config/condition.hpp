#pragma once
// A sink's `if:` routing condition, compiled at load: a boolean literal or a ${{ }}
// expression (GitHub Actions semantics, engine/expr).

#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "config/templates.hpp"

namespace switchyard {
class Event;
}

namespace switchyard::config {

class Condition {
 public:
  virtual ~Condition() = default;
  /// Whether `event` should go to the sink. Never throws.
  virtual bool evaluate(const Event& event) const = 0;
};

/// Compiles an `if:` value. On error returns nullptr and fills `error` (offset inside the string).
std::shared_ptr<const Condition> compile_condition(const rapidjson::Value& value,
                                                   TemplateError& error);

}  // namespace switchyard::config
