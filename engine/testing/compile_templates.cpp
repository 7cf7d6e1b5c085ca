// The Switchyard::testing library: gives the SDK's header-only harness the engine's
// expression compiler, so components with template options can be unit-tested.
#include <switchyard/testing.hpp>

#include "config/templates.hpp"

namespace switchyard::testing {

std::unique_ptr<TemplateSet> compile_templates(std::span<const OptionSpec> schema,
                                               const rapidjson::Value& values, std::string& error) {
  auto out = std::make_unique<config::CompiledTemplates>();
  std::vector<config::TemplateError> errors;
  config::compile_option_templates(schema, values, "", *out, errors);
  if (!errors.empty()) {
    error = errors.front().path + ": " + errors.front().message + " (at offset " +
            std::to_string(errors.front().offset) + ")";
    return nullptr;
  }
  return out;
}

}  // namespace switchyard::testing
