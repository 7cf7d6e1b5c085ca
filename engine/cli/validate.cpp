// `switchyard validate [FILES] [--format text|json]`: every check `run` makes before a
// pipeline starts, without starting one. The files are read and checked against the
// declarations (positions, types, expressions, names and paths unique across files), then
// each component of each valid pipeline is created and configured as `run` configures it,
// with the engine's own context, so its own checks run too (an empty secret, a URL whose
// host an event decides); what it logs at warn or above during configure is a warning.
// Nothing is started: no route opens, no connection is made.

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "cli/setup.hpp"
#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "http/server.hpp"
#include "log/logging.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"
#include "runtime/replies.hpp"

namespace switchyard::cli {
namespace {

// The component's context as `run` builds it, but what it logs at warn or above while it
// is configured is kept (and not printed): validate reports it with the component's place.
class CapturingContext final : public Context {
 public:
  class CapturingLogger final : public Logger {
   public:
    bool enabled(LogLevel level) const override { return level >= LogLevel::warn; }
    void log(LogLevel level, std::string_view message) override {
      if (level >= LogLevel::warn) lines.emplace_back(message);
    }
    std::vector<std::string> lines;
  };

  explicit CapturingContext(runtime::ComponentContext& inner) : inner_(inner) {}
  std::string_view pipeline() const override { return inner_.pipeline(); }
  std::string_view component() const override { return inner_.component(); }
  Logger& logger() override { return logger_; }
  Executor& executor() override { return inner_.executor(); }
  StateStore& state() override { return inner_.state(); }
  Emitter& emitter() override { return inner_.emitter(); }
  HttpRoutes& routes() override { return inner_.routes(); }
  std::unique_ptr<HttpClient> http_client(const HttpClientOptions& options) override {
    return inner_.http_client(options);
  }
  Metrics& metrics() override { return inner_.metrics(); }
  Replies& replies() override { return inner_.replies(); }
  const std::vector<std::string>& warnings() const { return logger_.lines; }

 private:
  runtime::ComponentContext& inner_;
  CapturingLogger logger_;
};

// "file:line:col" (the file may hold colons) as a diagnostic's position.
config::Diagnostic at(const std::string& location, std::string path, std::string message) {
  config::Diagnostic d{location, 0, 0, std::move(path), std::move(message)};
  const auto col = location.rfind(':');
  const auto line = col == std::string::npos || col == 0 ? std::string::npos : location.rfind(':', col - 1);
  if (line != std::string::npos) {
    d.file = location.substr(0, line);
    d.line = std::atoi(location.c_str() + line + 1);
    d.column = std::atoi(location.c_str() + col + 1);
  }
  return d;
}

// Creates and configures one component (then stops it, unstarted, as a pipeline whose
// build failed does): its error, and what it warned about.
void configure_check(const config::ComponentConfig& c, const std::string& place, const std::string& pipeline,
                     runtime::Services& services, config::Diagnostics& errors, config::Diagnostics& warnings) {
  const runtime::Strand strand = services.io.make_strand();
  runtime::RefusingEmitter emitter;
  runtime::PipelineReplies replies(strand);
  runtime::ComponentContext inner(pipeline, c.name, place, strand, services, emitter, replies, false);
  CapturingContext context(inner);
  const Options options(*c.options, c.decl->options, c.templates.get());
  std::unique_ptr<Component> component;
  std::string error;
  runtime::run_on(strand, [&] {
    try {
      component = c.decl->create();
      if (!component) {
        error = "the plugin's factory returned nothing";
      } else if (Status s = component->configure(options, context); !s) {
        error = s.error().message;
      }
    } catch (const std::exception& e) {
      error = std::string("configure threw: ") + e.what();
    } catch (...) {
      error = "configure threw a non-standard exception";
    }
    if (component) {
      try {
        component->stop();
      } catch (...) {  // a component that cannot stop unstarted is no configuration error
      }
    }
    component.reset();
    inner.close();
  });
  if (!error.empty()) errors.push_back(at(c.location, place, error));
  for (const auto& w : context.warnings()) warnings.push_back(at(c.location, place, w));
  replies.close();
}

// Configures every component of `pipelines`; returns how many pipelines have none that
// refused its configuration.
std::size_t configure_checks(const std::vector<config::PipelineConfig>& pipelines, config::Diagnostics& errors,
                             config::Diagnostics& warnings) {
  std::size_t valid = 0;
  runtime::Io io(1);
  io.start();
  runtime::StateTable store;
  // Never opened: the listener opens when a route is added, and only start() adds them.
  http::Server server(io, config::listener_settings("http", "127.0.0.1:0"));
  runtime::Services services{io, store, server};
  for (const auto& p : pipelines) {
    const std::size_t before = errors.size();
    for (std::size_t i = 0; i < p.sources.size(); ++i) {
      configure_check(p.sources[i], p.sources.size() == 1 ? std::string("source") : "sources[" + std::to_string(i) + "]",
                      p.name, services, errors, warnings);
    }
    for (std::size_t i = 0; i < p.transforms.size(); ++i) {
      configure_check(p.transforms[i], "transforms[" + std::to_string(i) + "]", p.name, services, errors, warnings);
    }
    for (std::size_t i = 0; i < p.sinks.size(); ++i) {
      configure_check(p.sinks[i], "sinks[" + std::to_string(i) + "]", p.name, services, errors, warnings);
    }
    if (errors.size() == before) ++valid;
  }
  io.stop();
  return valid;
}

void write_diagnostics(rapidjson::PrettyWriter<rapidjson::StringBuffer>& w, const config::Diagnostics& list) {
  w.StartArray();
  for (const auto& d : list) {
    w.StartObject();
    w.Key("file");
    w.String(d.file.c_str());
    w.Key("line");
    w.Int(d.line);
    w.Key("column");
    w.Int(d.column);
    w.Key("path");
    w.String(d.path.c_str());
    w.Key("message");
    w.String(d.message.c_str());
    w.EndObject();
  }
  w.EndArray();
}

// The JSON report (docs/operations.md, "validate --format json"): one entry per file, in
// order, each with its errors and warnings.
void print_json(const std::vector<std::string>& files, const config::Diagnostics& errors,
                const config::Diagnostics& warnings, std::size_t valid) {
  std::vector<std::string> order = files;
  for (const auto* list : {&errors, &warnings}) {
    for (const auto& d : *list) {
      if (std::find(order.begin(), order.end(), d.file) == order.end()) order.push_back(d.file);
    }
  }
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("valid");
  w.Bool(errors.empty());
  w.Key("pipelines");
  w.Uint64(valid);
  w.Key("errors");
  w.Uint64(errors.size());
  w.Key("warnings");
  w.Uint64(warnings.size());
  w.Key("files");
  w.StartArray();
  for (const auto& file : order) {
    config::Diagnostics file_errors, file_warnings;
    std::copy_if(errors.begin(), errors.end(), std::back_inserter(file_errors), [&](const auto& d) { return d.file == file; });
    std::copy_if(warnings.begin(), warnings.end(), std::back_inserter(file_warnings),
                 [&](const auto& d) { return d.file == file; });
    w.StartObject();
    w.Key("file");
    w.String(file.c_str());
    w.Key("errors");
    write_diagnostics(w, file_errors);
    w.Key("warnings");
    write_diagnostics(w, file_warnings);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::cout << buffer.GetString() << "\n";
}

}  // namespace

int validate(const Common& common, const std::vector<std::string>& files, const std::string& format) {
  const bool json = format == "json";
  Setup setup;
  // JSON: standard output holds the report alone, and every problem is in it.
  const bool prepared = prepare(common, setup, json ? "off" : "info");
  if (json) log::setup("off", "text");
  if (!prepared) {
    if (json) {
      print_json({common.config_file}, setup.diagnostics, {}, 0);
    } else {
      print_diagnostics(setup.diagnostics);
      std::cerr << setup.diagnostics.size() << " error(s)\n";
    }
    return 1;
  }
  config::Diagnostics warnings;
  if (json) {
    for (const auto& e : setup.plugin_errors) {
      setup.diagnostics.push_back({setup.engine.file.empty() ? common.config_file : setup.engine.file, 0, 0,
                                   "plugins", "plugin refused: " + e});
    }
  } else {
    for (const auto& e : setup.plugin_errors) std::cerr << "plugin refused: " << e << "\n";
  }
  std::vector<std::filesystem::path> paths(files.begin(), files.end());
  auto pipelines = config::load_pipelines(setup.engine.pipelines_dir, paths, setup.registry, setup.diagnostics,
                                          config::pipeline_limits(setup.engine), &warnings);
  config::Diagnostics configured;
  const std::size_t valid = configure_checks(pipelines, setup.diagnostics, configured);
  if (json) {
    std::vector<std::string> order;
    if (paths.empty()) {
      for (const auto& p : config::pipeline_files(setup.engine.pipelines_dir)) order.push_back(p.string());
    } else {
      order = files;
    }
    warnings.insert(warnings.end(), configured.begin(), configured.end());
    print_json(order, setup.diagnostics, warnings, valid);
    return setup.diagnostics.empty() ? 0 : 1;
  }
  for (const auto& w : configured) log::engine().warn("{}", config::format(w));
  print_diagnostics(setup.diagnostics);
  const std::size_t errors = setup.diagnostics.size() + setup.plugin_errors.size();
  if (errors > 0) {
    std::cerr << errors << " error(s)\n";
    return 1;
  }
  std::cout << "ok: " << valid << " pipeline(s) valid\n";
  return 0;
}

}  // namespace switchyard::cli
