// `switchyard plugins check FILE.so`: load one library alone, print what it declares, and
// run each component in a real pipeline (the engine's own host, as `run` does) through
// configure → start → drain → stop with its declared defaults (and the declared examples
// for required options), so an author sees problems before deploying.

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <thread>

#include "config/engine_config.hpp"
#include "cli/commands.hpp"
#include "cli/describe.hpp"
#include "config/templates.hpp"
#include "config/yaml_json.hpp"
#include "log/logging.hpp"
#include "http/server.hpp"
#include "runtime/component_context.hpp"
#include "runtime/dry_run.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"

namespace switchyard::cli {
namespace {

// Options for the check: declared defaults, plus each required option's example.
bool check_options(const ComponentDecl& decl, rapidjson::Document& out, std::string& problems) {
  std::string yaml;
  for (const auto& spec : decl.options) {
    if (spec.required && spec.example) yaml += std::string(spec.name) + ": " + spec.example + "\n";
  }
  config::JsonFile input;
  config::Diagnostics diagnostics;
  if (yaml.empty()) {
    input.json.SetObject();
  } else if (!config::load_yaml_text("<examples>", yaml, input, diagnostics)) {
    problems = "declared examples are not valid YAML";
    return false;
  }
  std::vector<OptionError> errors;
  normalize_options(decl.options, input.json, out, out.GetAllocator(), errors);
  for (const auto& e : errors) problems += (problems.empty() ? "" : "; ") + e.path + ": " + e.message;
  return errors.empty();
}

// The component under check, configured with its defaults and examples.
Result<config::ComponentConfig> checked_component(const ComponentDecl& decl) {
  auto values = std::make_shared<rapidjson::Document>();
  std::string problems;
  if (!check_options(decl, *values, problems)) {
    return invalid_config("cannot configure with defaults and examples: " + problems +
                          " (declare an example for each required option)");
  }
  auto templates = std::make_shared<config::CompiledTemplates>();
  std::vector<config::TemplateError> template_errors;
  config::compile_option_templates(decl.options, *values, "", *templates, template_errors);
  if (!template_errors.empty()) {
    return invalid_config("declared defaults or examples do not compile: " + template_errors.front().path + ": " +
                          template_errors.front().message);
  }
  config::ComponentConfig c;
  c.decl = &decl;
  c.type = decl.type;
  c.name = decl.type;
  c.location = "<check>";
  c.options = values;
  c.redacted = values;
  c.templates = std::move(templates);
  return c;
}

// Runs the component in a real pipeline, between a dry-run input (one sample event, for
// transforms and sinks) and a capture sink: configure, start, 200 ms of running, drain, stop.
Status check_component(const ComponentDecl& decl, runtime::Services& services) {
  auto component = checked_component(decl);
  if (!component) return component.error();
  std::vector<std::unique_ptr<Event>> inputs;
  if (decl.kind != ComponentKind::source) {
    auto sample = std::make_unique<Event>();
    sample->type = "switchyard.check";
    sample->source = "switchyard://check";
    sample->data.SetObject();
    inputs.push_back(std::move(sample));
  }
  auto board = std::make_shared<runtime::DryRunBoard>(std::move(inputs));
  auto pipeline = std::make_shared<config::PipelineConfig>(config::default_pipeline_config());
  pipeline->name = "check";
  pipeline->durability = config::Durability::memory;
  switch (decl.kind) {
    case ComponentKind::source:
      pipeline->sources = {std::move(*component)};
      pipeline->sinks.push_back(runtime::dry_run_capture(board, "capture"));
      break;
    case ComponentKind::transform:
      pipeline->sources = {runtime::dry_run_input(board)};
      pipeline->transforms.push_back(std::move(*component));
      pipeline->sinks.push_back(runtime::dry_run_capture(board, "capture"));
      break;
    case ComponentKind::sink: {
      pipeline->sources = {runtime::dry_run_input(board)};
      config::SinkConfig sink = config::default_sink_config();
      static_cast<config::ComponentConfig&>(sink) = std::move(*component);
      // The sample event is delivered once: a sink that cannot deliver it (no server at
      // its example URL) is given up on at once instead of holding the drain.
      sink.retry.max_attempts = 1;
      pipeline->sinks.push_back(std::move(sink));
      break;
    }
  }
  auto stats = runtime::dry_run(pipeline, services, std::chrono::milliseconds(200), std::chrono::seconds(5));
  if (!stats) return stats.error();
  if (decl.kind == ComponentKind::source) {
    std::cout << "    (emitted " << board->captured("capture").size() << " event(s) in 200 ms)\n";
  }
  return {};
}

}  // namespace

int plugins_check(const std::string& file) {
  log::setup("info", "text");
  loader::PluginRegistry registry;
  if (Status loaded = registry.load(file); !loaded) {
    std::cerr << "refused: " << loaded.error().message << "\n";
    return 1;
  }
  const auto plugins = registry.plugins();
  const PluginDescriptor& plugin = *plugins.front().first;
  std::cout << "plugin " << plugin.name << " " << plugin.version << " (SDK ABI "
            << plugin.abi_version << ", " << plugin.toolchain << ")\n"
            << "  " << plugin.components.size() << " component(s)\n\n";
  runtime::Io io(1);
  io.start();
  runtime::StateTable store;
  http::Server server(io, config::listener_settings("http", "127.0.0.1:0"));
  runtime::Services services{io, store, server};
  int failures = 0;
  for (const auto* component : registry.components()) {
    describe_component(*component, std::cout);
    Status s = check_component(*component->decl, services);
    std::cout << (s ? "  check: ok (configure, start, drain, stop)\n\n"
                    : "  check: FAILED: " + s.error().message + "\n\n");
    if (!s) ++failures;
  }
  io.stop();
  std::cout << (failures == 0 ? "all components passed\n"
                              : std::to_string(failures) + " component(s) failed\n");
  return failures == 0 ? 0 : 1;
}

}  // namespace switchyard::cli
