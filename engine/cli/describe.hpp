#pragma once
// Text and Markdown renderings of the component declarations: `plugins list`,
// `plugins describe`, `plugins docs` (docs/reference.md) and `plugins check`.

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/registry.hpp"

namespace switchyard::cli {

void print_component_list(const loader::PluginRegistry& registry, std::ostream& out);
/// `plugins list --json`: [{"type", "kind", "plugin", "version", "summary"}, ...].
void print_component_list_json(const loader::PluginRegistry& registry, std::ostream& out);
/// Component types close to `type` (a typo, or one part of a dotted name such as
/// "webhook"), nearest first; empty when none is.
std::vector<std::string> near_component_types(const loader::PluginRegistry& registry, std::string_view type);
void describe_component(const loader::RegisteredComponent& component, std::ostream& out);
void print_options(std::span<const OptionSpec> options, std::ostream& out, int indent = 2);
void print_reference_markdown(const loader::PluginRegistry& registry, std::ostream& out);

}  // namespace switchyard::cli
