#include "cli/dry_pipeline.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "http/server.hpp"
#include "runtime/component_context.hpp"
#include "runtime/dry_run.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/replies.hpp"
#include "runtime/state_store.hpp"

namespace switchyard::cli {
namespace {

constexpr std::string_view kRedacted = "<redacted>";
constexpr std::size_t kMinRedactedInside = 8;

Result<std::string> read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return invalid_config("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The values of the secret options of `options` (nested objects too) for `event`.
void secret_values(const Options& options, const Event& event, std::vector<std::string>& out) {
  for (const OptionSpec& spec : options.schema()) {
    if (spec.type == OptionType::object && !spec.children.empty()) {
      secret_values(options.object(spec.name), event, out);
      continue;
    }
    if (!spec.secret || !options.has(spec.name)) continue;
    switch (spec.type) {
      case OptionType::text_template:
        out.push_back(options.text(spec.name).render(event));
        break;
      case OptionType::template_list:
        for (const auto& t : options.texts(spec.name)) out.push_back(t.render(event));
        break;
      case OptionType::template_map:
        for (const auto& [key, t] : options.text_map(spec.name)) out.push_back(t.render(event));
        break;
      case OptionType::string_list:
        for (auto& s : options.strings(spec.name)) out.push_back(std::move(s));
        break;
      default: {
        const rapidjson::Value& v = options.json(spec.name);
        if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
        if (v.IsObject()) {
          for (const auto& m : v.GetObject()) {
            if (m.value.IsString()) out.emplace_back(m.value.GetString(), m.value.GetStringLength());
          }
        }
      }
    }
  }
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

}  // namespace

Result<std::unique_ptr<Event>> event_from_input(const rapidjson::Value& in, const std::filesystem::path& base,
                                                const std::string& pipeline, std::string& error_key) {
  if (!in.IsObject()) return invalid_config("expected a map (type, payload, meta...)");
  auto event = std::make_unique<Event>();
  auto str = [&](const char* key, std::string& target, const char* fallback) {
    auto it = in.FindMember(key);
    target = it != in.MemberEnd() && it->value.IsString() ? it->value.GetString() : fallback;
  };
  str("id", event->id, "");
  if (event->id.empty()) event->id = make_event_id();
  str("type", event->type, "test.input");
  str("source", event->source, "switchyard://test");
  str("subject", event->subject, "");
  event->time = std::chrono::system_clock::now();
  event->pipeline = pipeline;
  if (auto it = in.FindMember("payload"); it != in.MemberEnd()) {
    event->data.CopyFrom(it->value, event->allocator());
  } else if (auto f = in.FindMember("payload_file"); f != in.MemberEnd() && f->value.IsString()) {
    error_key = "payload_file";
    const auto text = read_text(base / f->value.GetString());
    if (!text) return text.error();
    event->data.Parse(text->c_str());
    if (event->data.HasParseError()) return invalid_config("not valid JSON");
    error_key.clear();
  } else {
    event->data.SetObject();
  }
  if (auto it = in.FindMember("meta"); it != in.MemberEnd() && it->value.IsObject()) {
    event->meta.CopyFrom(it->value, event->allocator());
  }
  return event;
}

Result<Received> run_through(const config::PipelineConfig& pipeline, std::vector<std::unique_ptr<Event>> inputs,
                             runtime::Io& io, http::Server& server) {
  auto board = std::make_shared<runtime::DryRunBoard>(std::move(inputs));
  auto config = std::make_shared<config::PipelineConfig>(pipeline);
  config->durability = config::Durability::memory;
  config->sources = {runtime::dry_run_input(board)};
  for (auto& sink : config->sinks) {
    config::SinkConfig capture = runtime::dry_run_capture(board, sink.name);
    capture.condition = sink.condition;
    capture.queue_size = sink.queue_size;
    sink = std::move(capture);
  }
  // Fresh state for every run: dedup and rate limits never leak between cases.
  runtime::StateTable store;
  runtime::Services services{io, store, server};
  auto stats = runtime::dry_run(config, services, std::chrono::milliseconds(0), std::chrono::seconds(30));
  if (!stats) return stats.error();
  Received out;
  out.transform_errors = stats->transform_errors;
  if (out.transform_errors > 0) out.last_error = stats->last_error.substr(stats->last_error.find(' ') + 1);
  for (const auto& sink : pipeline.sinks) out.by_sink[sink.name] = board->captured(sink.name);
  return out;
}

// One sink, configured on its own strand as `run` configures it, never started.
struct SinkRenderers::Hosted {
  Hosted(const config::SinkConfig& c, const std::string& pipeline, runtime::Services& services)
      : config(c),
        strand(services.io.make_strand()),
        replies(strand),
        context(pipeline, c.name, "sink '" + c.name + "'", strand, services, emitter, replies, false),
        options(*c.options, c.decl->options, c.templates.get()) {}

  const config::SinkConfig& config;
  runtime::Strand strand;
  runtime::RefusingEmitter emitter;
  runtime::PipelineReplies replies;
  runtime::ComponentContext context;
  Options options;
  std::unique_ptr<Component> component;
  std::string error;  // why it could not be configured
};

SinkRenderers::SinkRenderers(const config::PipelineConfig& pipeline, runtime::Io& io, http::Server& server)
    : pipeline_(pipeline), io_(io), server_(server), store_(std::make_unique<runtime::StateTable>()),
      services_(std::make_unique<runtime::Services>(runtime::Services{io, *store_, server})) {}

SinkRenderers::~SinkRenderers() {
  for (auto& [name, h] : hosted_) {
    runtime::run_on(h->strand, [&h = *h] {
      if (h.component) {
        try {
          h.component->stop();
        } catch (...) {  // an unstarted sink that cannot stop changes nothing here
        }
      }
      h.component.reset();
      h.context.close();
    });
    h->replies.close();
  }
}

SinkRenderers::Hosted* SinkRenderers::host(const std::string& name) {
  if (auto it = hosted_.find(name); it != hosted_.end()) return it->second.get();
  auto c = std::find_if(pipeline_.sinks.begin(), pipeline_.sinks.end(), [&](const auto& s) { return s.name == name; });
  if (c == pipeline_.sinks.end()) return nullptr;
  auto h = std::make_unique<Hosted>(*c, pipeline_.name, *services_);
  runtime::run_on(h->strand, [&h = *h] {
    try {
      h.component = h.config.decl->create();
      if (!h.component) {
        h.error = "the plugin's factory returned nothing";
      } else if (Status s = h.component->configure(h.options, h.context); !s) {
        h.error = s.error().message;
      }
    } catch (const std::exception& e) {
      h.error = std::string("configure threw: ") + e.what();
    } catch (...) {
      h.error = "configure threw a non-standard exception";
    }
  });
  return hosted_.emplace(name, std::move(h)).first->second.get();
}

Result<std::optional<Rendering>> SinkRenderers::render(const std::string& name, const Event& event) {
  Hosted* h = host(name);
  if (h == nullptr) return invalid_config("the pipeline has no sink named '" + name + "'");
  if (!h->error.empty()) return invalid_config("sink '" + name + "' could not be configured: " + h->error);
  return runtime::run_on(h->strand, [&]() -> Result<std::optional<Rendering>> {
    try {
      return static_cast<Sink&>(*h->component).render(event);
    } catch (const std::exception& e) {
      return permanent(std::string("render threw: ") + e.what());
    } catch (...) {
      return permanent("render threw a non-standard exception");
    }
  });
}

std::vector<std::string> SinkRenderers::secrets(const std::string& name, const Event& event) {
  std::vector<std::string> out;
  if (Hosted* h = host(name)) secret_values(h->options, event, out);
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

std::string SinkRenderers::type(const std::string& name) const {
  for (const auto& s : pipeline_.sinks) {
    if (s.name == name) return s.type;
  }
  return {};
}

std::string redacted_secret(std::string_view value) {
  const auto scheme = value.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return std::string(kRedacted);
  const auto host_end = value.find_first_of("/?#", scheme + 3);
  if (host_end == std::string_view::npos) return std::string(kRedacted);
  std::string authority(value.substr(scheme + 3, host_end - scheme - 3));
  if (authority.find('@') != std::string::npos) authority = std::string(kRedacted) + authority.substr(authority.rfind('@'));
  return std::string(value.substr(0, scheme + 3)) + authority + "/" + std::string(kRedacted);
}

void redact(Rendering& rendering, std::vector<std::string> secrets) {
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    const std::string shown = redacted_secret(secret);
    // A short value ("main" in a secret map of headers) is redacted where it is the whole
    // of a field only: replaced inside text, it would garble what has nothing to do with it.
    const bool inside = secret.size() >= kMinRedactedInside;
    auto apply = [&](std::string& text) {
      if (inside) {
        replace_all(text, secret, shown);
      } else if (text == secret) {
        text = shown;
      }
    };
    apply(rendering.url);
    apply(rendering.body);
    HttpHeaders headers;
    for (const auto& field : rendering.headers) {
      std::string value = field.value;
      apply(value);
      headers.add(field.name, std::move(value));
    }
    rendering.headers = std::move(headers);
  }
}

void rendering_json(const Rendering& rendering, rapidjson::Value& out, rapidjson::Document::AllocatorType& a) {
  out.SetObject();
  out.AddMember("method", rapidjson::Value(rendering.method.c_str(), a), a);
  out.AddMember("url", rapidjson::Value(rendering.url.c_str(), a), a);
  rapidjson::Value headers(rapidjson::kObjectType);
  for (const auto& field : rendering.headers) {
    rapidjson::Value name(field.name.c_str(), a);
    if (auto it = headers.FindMember(name); it != headers.MemberEnd()) {
      const std::string joined = std::string(it->value.GetString()) + ", " + field.value;
      it->value.SetString(joined.c_str(), static_cast<rapidjson::SizeType>(joined.size()), a);
    } else {
      headers.AddMember(name, rapidjson::Value(field.value.c_str(), a), a);
    }
  }
  out.AddMember("headers", headers, a);
  rapidjson::Document body;
  body.Parse(rendering.body.data(), rendering.body.size());
  if (!rendering.body.empty() && !body.HasParseError()) {
    out.AddMember("body", rapidjson::Value(body, a), a);
  } else {
    out.AddMember("body", rapidjson::Value(rendering.body.data(), static_cast<rapidjson::SizeType>(rendering.body.size()), a), a);
  }
}

}  // namespace switchyard::cli
