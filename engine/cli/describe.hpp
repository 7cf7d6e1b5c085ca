#pragma once
// Text and Markdown renderings of the component declarations: `plugins list`,
// `plugins describe`, `plugins docs` (docs/reference.md) and `plugins check`.

#include <ostream>
#include <span>

#include "loader/registry.hpp"

namespace switchyard::cli {

void print_component_list(const loader::PluginRegistry& registry, std::ostream& out);
void describe_component(const loader::RegisteredComponent& component, std::ostream& out);
void print_options(std::span<const OptionSpec> options, std::ostream& out, int indent = 2);
void print_reference_markdown(const loader::PluginRegistry& registry, std::ostream& out);

}  // namespace switchyard::cli
