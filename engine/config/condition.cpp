#include "config/condition.hpp"

#include <string_view>

namespace switchyard::config {
namespace {

class ExpressionCondition final : public Condition {
 public:
  explicit ExpressionCondition(std::shared_ptr<const Template> t) : template_(std::move(t)) {}
  bool evaluate(const Event& event) const override { return template_->test(event); }

 private:
  std::shared_ptr<const Template> template_;
};

}  // namespace

std::shared_ptr<const Condition> compile_condition(const rapidjson::Value& value,
                                                   TemplateError& error) {
  auto t = compile_condition_template(value, error);
  if (!t) return nullptr;
  return std::make_shared<ExpressionCondition>(std::move(t));
}

}  // namespace switchyard::config
