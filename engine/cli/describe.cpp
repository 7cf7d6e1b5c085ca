#include "cli/describe.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <iomanip>
#include <map>
#include <string>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"

namespace switchyard::cli {
namespace {

std::string requirement(const OptionSpec& spec) {
  if (spec.required) return "required";
  if (spec.default_value) {
    return std::string("default: ") + (spec.secret && *spec.default_value ? "<redacted>" : spec.default_value);
  }
  return "optional";
}

std::string choices(const OptionSpec& spec) {
  std::string out;
  for (const char* c : spec.choices) out += (out.empty() ? "" : " | ") + std::string(c);
  return out;
}

std::string md_escape(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

void markdown_rows(std::span<const OptionSpec> options, const std::string& prefix, std::ostream& out) {
  for (const auto& spec : options) {
    const std::string name = prefix + spec.name;
    std::string details = spec.description;
    if (!spec.choices.empty()) details += " One of: `" + choices(spec) + "`.";
    if (spec.example) details += " Example: `" + std::string(spec.example) + "`.";
    if (spec.secret) details += " **Secret**: redacted in logs and the admin API.";
    std::string req = requirement(spec);
    if (spec.default_value) req = spec.secret ? "default: (secret)" : "default: `" + std::string(spec.default_value) + "`";
    out << "| `" << name << "` | " << to_string(spec.type) << " | " << md_escape(req) << " | "
        << md_escape(details) << " |\n";
    if (spec.type == OptionType::object) markdown_rows(spec.children, name + ".", out);
  }
}

void markdown_table(std::span<const OptionSpec> options, std::ostream& out) {
  if (options.empty()) {
    out << "No options.\n\n";
    return;
  }
  out << "| option | type | required / default | description |\n|---|---|---|---|\n";
  markdown_rows(options, "", out);
  out << "\n";
}

}  // namespace

void print_component_list(const loader::PluginRegistry& registry, std::ostream& out) {
  std::size_t width = 4;
  for (const auto* c : registry.components()) width = std::max(width, std::string(c->decl->type).size());
  out << std::left << std::setw(static_cast<int>(width) + 2) << "TYPE" << std::setw(11) << "KIND"
      << std::setw(12) << "PLUGIN" << "SUMMARY\n";
  for (const auto* c : registry.components()) {
    out << std::left << std::setw(static_cast<int>(width) + 2) << c->decl->type << std::setw(11)
        << to_string(c->decl->kind) << std::setw(12) << c->plugin->name << c->decl->summary << "\n";
  }
}

void print_component_list_json(const loader::PluginRegistry& registry, std::ostream& out) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto* c : registry.components()) {
    w.StartObject();
    w.Key("type");
    w.String(c->decl->type);
    w.Key("kind");
    w.String(std::string(to_string(c->decl->kind)).c_str());
    w.Key("plugin");
    w.String(c->plugin->name);
    w.Key("version");
    w.String(c->plugin->version);
    w.Key("summary");
    w.String(c->decl->summary);
    w.EndObject();
  }
  w.EndArray();
  out << buffer.GetString() << "\n";
}

std::vector<std::string> near_component_types(const loader::PluginRegistry& registry, std::string_view type) {
  // Nearest first: a typo of the whole name (up to a third of its letters), then the types
  // one of whose dotted parts is `type` or a typo of it ("webhook", "interaction").
  std::multimap<std::size_t, std::string> near;
  const std::size_t allowed = std::max<std::size_t>(2, type.size() / 3);
  for (const auto* c : registry.components()) {
    const std::string_view name = c->decl->type;
    std::size_t best = detail::edit_distance(type, name);
    for (std::size_t start = 0; start <= name.size();) {
      const std::size_t dot = std::min(name.find('.', start), name.size());
      if (dot > start) best = std::min(best, 1 + detail::edit_distance(type, name.substr(start, dot - start)));
      start = dot + 1;
    }
    if (best <= allowed && best > 0) near.emplace(best, std::string(name));
  }
  std::vector<std::string> out;
  for (auto& [distance, name] : near) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

void print_options(std::span<const OptionSpec> options, std::ostream& out, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (const auto& spec : options) {
    out << pad << spec.name << "  (" << to_string(spec.type) << ", " << requirement(spec)
        << (spec.secret ? ", secret" : "") << ")\n";
    out << pad << "    " << spec.description << "\n";
    if (!spec.choices.empty()) out << pad << "    one of: " << choices(spec) << "\n";
    if (spec.example) out << pad << "    example: " << spec.example << "\n";
    if (spec.type == OptionType::object) print_options(spec.children, out, indent + 4);
  }
}

void describe_component(const loader::RegisteredComponent& component, std::ostream& out) {
  const ComponentDecl& decl = *component.decl;
  out << decl.type << " (" << to_string(decl.kind) << ")\n";
  out << "  " << decl.summary << "\n";
  out << "  plugin: " << component.plugin->name << " " << component.plugin->version << " ("
      << component.origin << ")\n\n";
  if (decl.options.empty()) {
    out << "  No options.\n";
  } else {
    out << "Options:\n";
    print_options(decl.options, out);
  }
  if (decl.kind == ComponentKind::sink) {
    out << "\nEvery sink also takes (handled by the engine):\n";
    print_options(config::sink_schema(), out);
  }
}

void print_reference_markdown(const loader::PluginRegistry& registry, std::ostream& out) {
  out << "# Pipeline reference\n\n"
      << "<!-- Generated by `switchyard plugins docs` from the components' declarations. "
         "Do not edit by hand. -->\n\n"
      << "## Engine configuration (`config/switchyard.yaml`)\n\n"
      << "Every key has a default; the file may be absent.\n\n";
  markdown_table(config::engine_config_schema(), out);
  out << "## Pipeline file\n\nOne pipeline per file in `pipelines.dir`.\n\n";
  markdown_table(config::pipeline_schema(), out);
  out << "### Keys every sink takes\n\n";
  markdown_table(config::sink_schema(), out);
  for (ComponentKind kind : {ComponentKind::source, ComponentKind::transform, ComponentKind::sink}) {
    out << "## " << (kind == ComponentKind::source ? "Sources" : kind == ComponentKind::transform ? "Transforms" : "Sinks") << "\n\n";
    for (const auto* c : registry.components()) {
      if (c->decl->kind != kind) continue;
      out << "### `" << c->decl->type << "`\n\n" << c->decl->summary << " (plugin `"
          << c->plugin->name << "`)\n\n";
      markdown_table(c->decl->options, out);
    }
  }
}

}  // namespace switchyard::cli
