// `switchyard render PIPELINE INPUT`: what each sink of a pipeline would send for one
// input, without sending it. The input goes through the pipeline's real transforms and
// each sink's if:, as in `switchyard test`; each sink the event reaches is then asked,
// configured but never started, what it would send (Sink::render). Values of secret
// options are redacted unless --show-secrets.

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/dry_pipeline.hpp"
#include "cli/setup.hpp"
#include "config/pipeline_config.hpp"
#include "config/templates.hpp"
#include "http/server.hpp"
#include "log/logging.hpp"
#include "runtime/io.hpp"

namespace switchyard::cli {
namespace {

// INPUT as events: one input entry (a map with payload or payload_file), a list of them,
// or any other JSON: the payload itself, of type `type`.
Result<std::vector<std::unique_ptr<Event>>> read_inputs(const RenderOptions& options, const std::string& pipeline) {
  std::string text;
  if (options.input == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(options.input, std::ios::binary);
    if (!in) return invalid_config(options.input + ": cannot read the input file");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return invalid_config(options.input + ": not valid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                          rapidjson::GetParseError_En(doc.GetParseError()));
  }
  const std::filesystem::path base = options.input == "-" ? std::filesystem::path(".")
                                                          : std::filesystem::path(options.input).parent_path();
  auto is_entry = [](const rapidjson::Value& v) {
    return v.IsObject() && (v.HasMember("payload") || v.HasMember("payload_file"));
  };
  std::vector<std::unique_ptr<Event>> out;
  auto add = [&](const rapidjson::Value& entry, const std::string& where) -> Status {
    std::string key;
    auto event = event_from_input(entry, base, pipeline, key);
    if (!event) return invalid_config(options.input + ": " + where + (key.empty() ? "" : key + ": ") + event.error().message);
    if (!entry.HasMember("type") && !options.type.empty()) (*event)->type = options.type;
    out.push_back(std::move(*event));
    return {};
  };
  if (doc.IsArray() && !doc.Empty() && std::all_of(doc.Begin(), doc.End(), is_entry)) {
    for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
      if (Status s = add(doc[i], "[" + std::to_string(i) + "] "); !s) return s.error();
    }
  } else if (is_entry(doc)) {
    if (Status s = add(doc, ""); !s) return s.error();
  } else {
    rapidjson::Document entry(rapidjson::kObjectType);
    entry.AddMember("payload", rapidjson::Value(doc, entry.GetAllocator()), entry.GetAllocator());
    if (Status s = add(entry, ""); !s) return s.error();
  }
  return out;
}

std::string pretty(const rapidjson::Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(b);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return b.GetString();
}

Result<config::Variables> parse_variables(const std::vector<std::string>& assignments) {
  config::Variables out;
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_config("--var " + a + ": expected NAME=VALUE");
    out[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return out;
}

}  // namespace

int render(const Common& common, const RenderOptions& options) {
  Setup setup;
  if (!prepare(common, setup)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  log::setup("warn", setup.engine.log_format);
  for (const auto& e : setup.plugin_errors) std::cerr << "plugin refused: " << e << "\n";
  auto variables = parse_variables(options.variables);
  if (!variables) {
    std::cerr << variables.error().message << "\n";
    return 1;
  }
  config::YamlLimits limits = config::pipeline_limits(setup.engine);
  limits.interpolation.values = *variables;
  config::set_expression_env(setup.engine.env_allow, *variables);
  config::PipelineConfig pipeline;
  if (!config::load_pipeline(options.pipeline, setup.registry, pipeline, setup.diagnostics, limits)) {
    print_diagnostics(setup.diagnostics);
    return 1;
  }
  auto inputs = read_inputs(options, pipeline.name);
  if (!inputs) {
    std::cerr << inputs.error().message << "\n";
    return 1;
  }
  runtime::Io io(1);
  io.start();
  int code = 0;
  rapidjson::Document out(rapidjson::kArrayType);
  auto& a = out.GetAllocator();
  {
    http::Server server(io, config::listener_settings("http", "127.0.0.1:0"));  // never opened
    auto received = run_through(pipeline, std::move(*inputs), io, server);
    if (!received) {
      std::cerr << "the pipeline did not run: " << received.error().message << "\n";
      io.stop();
      return 1;
    }
    if (received->transform_errors > 0) {
      std::cerr << received->transform_errors << " event(s) failed in a transform; the last: " << received->last_error
                << "\n";
      code = 1;
    }
    SinkRenderers renderers(pipeline, io, server);
    for (const auto& sink : pipeline.sinks) {
      for (const auto& event : received->by_sink[sink.name]) {
        rapidjson::Value item(rapidjson::kObjectType);
        auto rendered = renderers.render(sink.name, *event);
        if (rendered && *rendered) {
          Rendering r = std::move(**rendered);
          if (!options.show_secrets) redact(r, renderers.secrets(sink.name, *event));
          rendering_json(r, item, a);
        } else if (rendered) {
          item.AddMember("error", rapidjson::Value(("a " + sink.type + " sink cannot say what it would send").c_str(), a), a);
        } else {
          std::string message = rendered.error().message;
          if (!options.show_secrets) {
            // An error may quote a rendered value.
            Rendering r{.body = message};
            redact(r, renderers.secrets(sink.name, *event));
            message = r.body;
          }
          item.AddMember("error", rapidjson::Value(message.c_str(), a), a);
          code = 1;
        }
        // sink and type first: what a reader looks for.
        rapidjson::Value ordered(rapidjson::kObjectType);
        ordered.AddMember("sink", rapidjson::Value(sink.name.c_str(), a), a);
        ordered.AddMember("type", rapidjson::Value(sink.type.c_str(), a), a);
        for (auto& m : item.GetObject()) ordered.AddMember(m.name, m.value, a);
        out.PushBack(ordered, a);
      }
    }
  }
  io.stop();
  if (options.format == "text") {
    if (out.Empty()) std::cout << "no sink receives this input\n";
    for (const auto& item : out.GetArray()) {
      std::cout << "sink " << item["sink"].GetString() << " (" << item["type"].GetString() << ")\n";
      if (item.HasMember("error")) {
        std::cout << "  error: " << item["error"].GetString() << "\n\n";
        continue;
      }
      std::cout << "  " << item["method"].GetString() << " " << item["url"].GetString() << "\n";
      for (const auto& h : item["headers"].GetObject()) {
        std::cout << "  " << h.name.GetString() << ": " << h.value.GetString() << "\n";
      }
      std::string body = item["body"].IsString() ? item["body"].GetString() : pretty(item["body"]);
      std::string indented = "  ";
      for (char ch : body) {
        indented += ch;
        if (ch == '\n') indented += "  ";
      }
      std::cout << "\n" << indented << "\n\n";
    }
  } else {
    std::cout << pretty(out) << "\n";
  }
  return code;
}

}  // namespace switchyard::cli
