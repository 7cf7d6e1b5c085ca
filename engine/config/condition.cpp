#include "config/condition.hpp"

#include <string_view>

namespace switchyard::config {
namespace {

class ConstantCondition final : public Condition {
 public:
  explicit ConstantCondition(bool value) : value_(value) {}
  bool evaluate(const Event&) const override { return value_; }

 private:
  bool value_;
};

}  // namespace

std::shared_ptr<const Condition> compile_condition(const rapidjson::Value& value,
                                                   std::string& error) {
  if (value.IsBool()) return std::make_shared<ConstantCondition>(value.GetBool());
  if (value.IsString()) {
    const std::string_view text(value.GetString(), value.GetStringLength());
    if (text == "true") return std::make_shared<ConstantCondition>(true);
    if (text == "false") return std::make_shared<ConstantCondition>(false);
    if (text.find("${{") != std::string_view::npos) {
      error = "expressions in conditions are not supported by this build yet";
      return nullptr;
    }
  }
  error = "expected a condition: true, false or ${{ expression }}";
  return nullptr;
}

}  // namespace switchyard::config
