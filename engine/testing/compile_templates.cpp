// The Switchyard::testing library: gives the SDK's header-only harness the engine's
// expression language, so components with template options can be unit-tested.
#include <switchyard/testing.hpp>

#include "config/templates.hpp"

namespace {

switchyard::Result<std::unique_ptr<switchyard::TemplateSet>> compile(std::span<const switchyard::OptionSpec> schema,
                                                                     const rapidjson::Value& values) {
  auto out = std::make_unique<switchyard::config::CompiledTemplates>();
  std::vector<switchyard::config::TemplateError> errors;
  switchyard::config::compile_option_templates(schema, values, "", *out, errors);
  if (!errors.empty()) {
    return switchyard::invalid_config(errors.front().path + ": " + errors.front().message + " (at offset " +
                                      std::to_string(errors.front().offset) + ")");
  }
  return std::unique_ptr<switchyard::TemplateSet>(std::move(out));
}

const switchyard::testing::ExpressionSupport kSupport{.compile = &compile,
                                                      .allow_env = &switchyard::config::set_expression_env};

}  // namespace

extern "C" const switchyard::testing::ExpressionSupport* switchyard_testing_expressions() { return &kSupport; }
