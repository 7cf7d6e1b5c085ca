#pragma once
// A sink's `if:` routing condition, compiled at load. Today it is a boolean literal; the
// expression language (${{ }}) plugs in here without touching the runtime.

#include <rapidjson/document.h>

#include <memory>
#include <string>

namespace switchyard {
class Event;
}

namespace switchyard::config {

class Condition {
 public:
  virtual ~Condition() = default;
  /// Whether `event` should go to the sink. Must not throw; cheap.
  virtual bool evaluate(const Event& event) const = 0;
};

/// Compiles an `if:` value. On error returns nullptr and sets `error` (one line).
std::shared_ptr<const Condition> compile_condition(const rapidjson::Value& value,
                                                   std::string& error);

}  // namespace switchyard::config
