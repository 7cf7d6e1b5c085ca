// `switchyard plugins check FILE.so`: load one library alone, print what it declares, and
// run each component through configure → start → drain → stop with its declared defaults
// (and the declared examples for required options), so an author sees problems before deploying.

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/describe.hpp"
#include "config/templates.hpp"
#include "config/yaml_json.hpp"
#include "log/logging.hpp"
#include "http/server.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"
#include "runtime/replies.hpp"

namespace switchyard::cli {
namespace {

// Counts what a source emits during the check, and accepts everything.
class CountingEmitter final : public Emitter {
 public:
  void emit(std::unique_ptr<Event>, EmitCallback done) override {
    ++emitted;
    if (done) done({});
  }
  bool saturated() const override { return false; }
  void when_ready(std::function<void()> ready) override { ready(); }
  std::atomic<std::size_t> emitted{0};
};

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

Status step(runtime::Strand& strand, const char* what, const std::function<Status()>& fn) {
  try {
    Status s = runtime::run_on(strand, fn);
    if (!s) return Error{s.error().kind, std::string(what) + ": " + s.error().message, std::nullopt};
    return {};
  } catch (const std::exception& ex) {
    return permanent(std::string(what) + " threw: " + ex.what());
  } catch (...) {
    return permanent(std::string(what) + " threw a non-standard exception");
  }
}

Status check_component(const ComponentDecl& decl, runtime::Io& io, runtime::Services& services) {
  rapidjson::Document values;
  std::string problems;
  if (!check_options(decl, values, problems)) {
    return invalid_config("cannot configure with defaults and examples: " + problems +
                          " (declare an example for each required option)");
  }
  config::CompiledTemplates templates;
  std::vector<config::TemplateError> template_errors;
  config::compile_option_templates(decl.options, values, "", templates, template_errors);
  if (!template_errors.empty()) {
    return invalid_config("declared defaults or examples do not compile: " + template_errors.front().path +
                          ": " + template_errors.front().message);
  }
  CountingEmitter emitter;
  runtime::Strand strand = io.make_strand();
  runtime::PipelineReplies replies(io.make_strand());
  runtime::ComponentContext context("check", decl.type, decl.type, strand, services, emitter, replies, false);
  Options options(values, decl.options, &templates);
  std::unique_ptr<Component> component;
  if (Status s = step(strand, "create", [&]() -> Status {
        component = decl.create();
        return component ? Status{} : permanent("factory returned nothing");
      });
      !s) {
    return s;
  }
  if (Status s = step(strand, "configure", [&] { return component->configure(options, context); }); !s) return s;
  if (Status s = step(strand, "start", [&] { return component->start(); }); !s) return s;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let a source run a little
  std::promise<void> drained;
  auto drained_future = drained.get_future();
  if (Status s = step(strand, "drain", [&]() -> Status {
        component->drain([&drained] { drained.set_value(); });
        return {};
      });
      !s) {
    return s;
  }
  if (drained_future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return permanent("drain did not call back within 5 s");
  }
  if (Status s = step(strand, "stop", [&] {
        component->stop();
        context.close();
        return Status{};
      }); !s) return s;
  if (Status s = step(strand, "destroy", [&] { component.reset(); return Status{}; }); !s) return s;
  if (decl.kind == ComponentKind::source) {
    std::cout << "    (emitted " << emitter.emitted.load() << " event(s) in 200 ms)\n";
  }
  return {};
}

}  // namespace

int plugins_check(const std::string& file) {
  log::setup("info", "text");
  loader::PluginRegistry registry;
  std::string error;
  if (!registry.load(file, error)) {
    std::cerr << "refused: " << error << "\n";
    return 1;
  }
  const auto plugins = registry.plugins();
  const PluginDescriptor& plugin = *plugins.front().first;
  std::cout << "plugin " << plugin.name << " " << plugin.version << " (SDK ABI "
            << plugin.abi_version << ", " << plugin.toolchain << ")\n"
            << "  " << plugin.components.size() << " component(s)\n\n";
  runtime::Io io(1);
  io.start();
  runtime::MemoryStateStore store;
  http::Server server(io, {.name = "http", .listen = "127.0.0.1:0"});
  runtime::Services services{io, store, server};
  int failures = 0;
  for (const auto* component : registry.components()) {
    describe_component(*component, std::cout);
    Status s = check_component(*component->decl, io, services);
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
