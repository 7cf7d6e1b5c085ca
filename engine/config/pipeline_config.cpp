#include "config/pipeline_config.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include "config/redaction.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"

namespace switchyard::config {
namespace {

constexpr const char* kDurabilities[] = {"disk", "memory"};

constexpr OptionSpec kPipeline[] = {
    {.name = "name", .type = OptionType::string, .description = "Unique pipeline name; defaults to the file name without extension."},
    {.name = "description", .type = OptionType::string, .description = "Free text shown by the admin API."},
    {.name = "durability", .type = OptionType::string, .default_value = "disk", .description = "disk: events are journaled before the source acknowledges them; memory: opt out.", .choices = kDurabilities},
    {.name = "queue_size", .type = OptionType::integer, .default_value = "1024", .description = "Events waiting for the transforms before the source is pushed back (HTTP sources answer 503)."},
    {.name = "queue_bytes", .type = OptionType::size, .default_value = "64MiB", .description = "Bytes of events waiting for the transforms before the source is pushed back, whichever of this and queue_size comes first (one event larger than it still passes alone)."},
    {.name = "source", .type = OptionType::json, .description = "The source component: type and its options. Either source or sources."},
    {.name = "sources", .type = OptionType::json, .description = "Several sources feeding the same transforms and sinks (a webhook and a poller of the same events, say): a list of source components, each with a name unique in the pipeline (default: its type). Either source or sources."},
    {.name = "transforms", .type = OptionType::json, .default_value = "[]", .description = "Transforms applied in order: type and options each."},
    {.name = "sinks", .type = OptionType::json, .required = true, .description = "Sinks; every event reaching the end of the transforms goes to each sink whose if: holds."},
};

constexpr OptionSpec kRetry[] = {
    {.name = "max_attempts", .type = OptionType::integer, .default_value = "5", .description = "Attempts before the event is dead-lettered."},
    {.name = "initial", .type = OptionType::duration, .default_value = "1s", .description = "First back-off; doubles each attempt, with full jitter."},
    {.name = "max", .type = OptionType::duration, .default_value = "5m", .description = "Largest back-off."},
    {.name = "max_age", .type = OptionType::duration, .default_value = "24h", .description = "Give up once the event is this old."},
};

constexpr OptionSpec kSourceKeys[] = {
    {.name = "type", .type = OptionType::string, .required = true, .description = "Source type, e.g. github.webhook."},
    {.name = "name", .type = OptionType::string, .description = "Name in logs and metrics, unique among the pipeline's sources; defaults to the type."},
};
constexpr OptionSpec kTransformKeys[] = {
    {.name = "type", .type = OptionType::string, .required = true, .description = "Transform type, e.g. filter."},
    {.name = "name", .type = OptionType::string, .description = "Name in logs and metrics; defaults to the type."},
};
constexpr OptionSpec kSinkKeys[] = {
    {.name = "type", .type = OptionType::string, .required = true, .description = "Sink type, e.g. slack.webhook."},
    {.name = "name", .type = OptionType::string, .description = "Unique within the pipeline; defaults to the type."},
    {.name = "if", .type = OptionType::condition, .description = "Routing condition: the sink receives an event only when it holds.", .example = "${{ payload.workflow_run.head_branch == 'main' }}"},
    {.name = "retry", .type = OptionType::object, .description = "Retry policy for failed deliveries.", .children = kRetry},
    {.name = "queue_size", .type = OptionType::integer, .default_value = "1024", .description = "Events waiting for this sink in memory: beyond it a durable pipeline's sink reads its backlog from the journal, a memory pipeline pushes back."},
    {.name = "queue_bytes", .type = OptionType::size, .default_value = "64MiB", .description = "Bytes of events waiting for this sink in memory, whichever of this and queue_size comes first (one event larger than it is still taken alone)."},
    {.name = "concurrency", .type = OptionType::integer, .default_value = "1", .description = "Deliveries in flight at once (1 keeps order)."},
    {.name = "ordered", .type = OptionType::boolean, .default_value = "false", .description = "With concurrency above 1: hold an event while an earlier one with the same order_key is in flight or being retried, until it succeeded or was dead-lettered."},
    {.name = "order_key", .type = OptionType::text_template, .description = "The key events are ordered by when ordered is true; without it, all events of the sink are one key.", .example = "${{ payload.repository.full_name }}"},
};

bool is_engine_key(std::span<const OptionSpec> keys, std::string_view name) {
  return std::any_of(keys.begin(), keys.end(), [&](const OptionSpec& s) { return name == s.name; });
}

std::string kind_name(ComponentKind kind) { return to_string(kind); }

class PipelineFileReader {
 public:
  PipelineFileReader(const JsonFile& file, const loader::PluginRegistry& registry,
                 Diagnostics& diagnostics)
      : file_(file), registry_(registry), diagnostics_(diagnostics) {}

  bool load(PipelineConfig& out) {
    const std::size_t before = diagnostics_.size();
    warnings_ = &out.warnings;
    rapidjson::Document top;
    std::vector<OptionError> errors;
    normalize_options(kPipeline, file_.json, top, top.GetAllocator(), errors);
    report(errors);
    const Options options(top, kPipeline);
    out.file = file_.file;
    out.name = std::string(options.string("name"));
    if (out.name.empty()) out.name = std::filesystem::path(file_.file).stem().string();
    out.description = std::string(options.string("description"));
    out.durability = options.string("durability") == "memory" ? Durability::memory : Durability::disk;
    out.queue_size = positive(options.integer("queue_size"), "queue_size");
    out.queue_bytes = bytes(options.size("queue_bytes"), "queue_bytes");

    if (file_.json.IsObject()) {
      const auto one = file_.json.FindMember("source");
      const auto several = file_.json.FindMember("sources");
      const bool has_one = one != file_.json.MemberEnd(), has_several = several != file_.json.MemberEnd();
      if (has_one && has_several) {
        diagnostics_.push_back(file_.error("sources", "give either source: or sources:, not both"));
      } else if (has_one) {
        out.sources.emplace_back();
        component(one->value, "source", ComponentKind::source, kSourceKeys, out.sources.back(), nullptr);
      } else if (has_several) {
        list(several->value, "sources", [&](const rapidjson::Value& v, const std::string& path) {
          ComponentConfig c;
          component(v, path, ComponentKind::source, kSourceKeys, c, nullptr);
          out.sources.push_back(std::move(c));
        });
        if (several->value.IsArray() && several->value.Empty()) {
          diagnostics_.push_back(file_.error("sources", "a pipeline needs at least one source"));
        }
      } else {
        diagnostics_.push_back(file_.error("source", "required option is missing: a pipeline needs a source (source:) or several (sources:)"));
      }
      if (auto it = file_.json.FindMember("transforms"); it != file_.json.MemberEnd()) {
        list(it->value, "transforms", [&](const rapidjson::Value& v, const std::string& path) {
          ComponentConfig c;
          component(v, path, ComponentKind::transform, kTransformKeys, c, nullptr);
          out.transforms.push_back(std::move(c));
        });
      }
      if (auto it = file_.json.FindMember("sinks"); it != file_.json.MemberEnd()) {
        list(it->value, "sinks", [&](const rapidjson::Value& v, const std::string& path) {
          SinkConfig c;
          component(v, path, ComponentKind::sink, kSinkKeys, c, &c);
          out.sinks.push_back(std::move(c));
        });
        if (it->value.IsArray() && it->value.Empty()) {
          diagnostics_.push_back(file_.error("sinks", "a pipeline needs at least one sink"));
        }
      }
    }
    unique_names(out.sources, "sources");
    unique_names(out.transforms, "transforms");
    unique_names(out.sinks, "sinks");
    one_component_per_route(out);
    return diagnostics_.size() == before;
  }

 private:
  void report(const std::vector<OptionError>& errors) {
    for (const auto& e : errors) {
      // A value whose ${VAR} failed was reported as such and left null: "missing" would
      // only repeat it.
      if (file_.unresolved.contains(e.path)) continue;
      diagnostics_.push_back(file_.error(e.path, e.message));
    }
  }

  std::size_t positive(std::int64_t v, const std::string& path) {
    if (v < 1 || v > 10'000'000) {
      diagnostics_.push_back(file_.error(path, "expected a number from 1 to 10000000"));
      return 1;
    }
    return static_cast<std::size_t>(v);
  }

  // A byte bound: at least 1 KiB (below that, every event would wait alone).
  std::size_t bytes(std::uint64_t v, const std::string& path) {
    if (v < 1024) {
      diagnostics_.push_back(file_.error(path, "expected at least 1KiB"));
      return 1024;
    }
    return static_cast<std::size_t>(v);
  }

  template <class F>
  void list(const rapidjson::Value& value, const std::string& path, F&& each) {
    if (value.IsNull()) return;
    if (!value.IsArray()) {
      diagnostics_.push_back(file_.error(path, "expected a list"));
      return;
    }
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      each(value[i], path + "[" + std::to_string(i) + "]");
    }
  }

  void component(const rapidjson::Value& value, const std::string& path, ComponentKind kind,
                 std::span<const OptionSpec> engine_keys, ComponentConfig& out, SinkConfig* sink) {
    const Mark mark = file_.marks.find(path);
    out.location = file_.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
    if (!value.IsObject()) {
      diagnostics_.push_back(file_.error(path, "expected a map with a type and its options"));
      return;
    }
    // Split the engine's keys from the plugin's options.
    rapidjson::Document engine_input(rapidjson::kObjectType);
    rapidjson::Document plugin_input(rapidjson::kObjectType);
    for (const auto& m : value.GetObject()) {
      const std::string_view key(m.name.GetString(), m.name.GetStringLength());
      auto& target = is_engine_key(engine_keys, key) ? engine_input : plugin_input;
      target.AddMember(rapidjson::Value(m.name, target.GetAllocator()),
                       rapidjson::Value(m.value, target.GetAllocator()), target.GetAllocator());
    }
    rapidjson::Document engine;
    std::vector<OptionError> errors;
    normalize_options(engine_keys, engine_input, engine, engine.GetAllocator(), errors, path);
    const Options keys(engine, engine_keys);
    out.type = std::string(keys.string("type"));
    out.name = keys.has("name") ? std::string(keys.string("name")) : out.type;
    if (sink) sink_keys(keys, path, *sink);

    const loader::RegisteredComponent* found = out.type.empty() ? nullptr : registry_.find(kind, out.type);
    if (!found && !out.type.empty()) {
      errors.push_back({path + ".type", unknown_type_message(kind, out.type)});
    }
    report(errors);
    if (!found) return;
    out.decl = found->decl;
    auto options = std::make_shared<rapidjson::Document>();
    std::vector<OptionError> plugin_errors;
    normalize_options(found->decl->options, plugin_input, *options, options->GetAllocator(),
                      plugin_errors, path);
    report(plugin_errors);
    refuse_url_credentials(found->decl->options, *options, path);
    auto templates = std::make_shared<CompiledTemplates>();
    std::vector<TemplateError> template_errors;
    compile_option_templates(found->decl->options, *options, path, *templates, template_errors);
    for (const auto& e : template_errors) template_error(e.path, e);
    out.templates = std::move(templates);
    warn_bare_variables(found->decl->options, *options, file_, path, *warnings_);
    auto redacted = std::make_shared<rapidjson::Document>();
    redact_options(found->decl->options, *options, *redacted, redacted->GetAllocator());
    redact_component(file_, path, found->decl->options, *redacted, redacted->GetAllocator());
    out.options = std::move(options);
    out.redacted = std::move(redacted);
  }

  // Credentials in a URL option would show wherever the URL does (and the HTTP client
  // refuses them at delivery): an error now, without the value.
  void refuse_url_credentials(std::span<const OptionSpec> schema, const rapidjson::Value& options,
                              const std::string& path) {
    const bool has_url = std::any_of(schema.begin(), schema.end(), [](const OptionSpec& s) { return s.name == std::string_view("url"); });
    if (!has_url || !options.IsObject()) return;
    auto url = options.FindMember("url");
    if (url == options.MemberEnd() || !url->value.IsString() || !url_has_credentials(url->value.GetString())) return;
    diagnostics_.push_back(file_.error(path + ".url", "user info in a URL (user:password@host) is refused: credentials "
                                                      "go in a header (e.g. headers: {Authorization: ...}), which is "
                                                      "redacted, or in the plugin's password option"));
  }

  void template_error(const std::string& path, const TemplateError& error) {
    const Mark m = file_.marks.find_in_value(path, error.offset);
    diagnostics_.push_back(Diagnostic{file_.file, m.line, m.column, path, error.message});
  }

  void sink_keys(const Options& keys, const std::string& path, SinkConfig& sink) {
    const rapidjson::Value& condition = keys.json("if");
    if (!condition.IsNull()) {
      TemplateError error;
      sink.condition = compile_condition(condition, error);
      if (!sink.condition) template_error(path + ".if", error);
    }
    const Options retry = keys.object("retry");
    const std::int64_t attempts = retry.integer("max_attempts");
    if (attempts < 1 || attempts > 1000) {
      diagnostics_.push_back(file_.error(path + ".retry.max_attempts", "expected 1 to 1000"));
    }
    sink.retry.max_attempts = static_cast<std::uint32_t>(std::clamp<std::int64_t>(attempts, 1, 1000));
    sink.retry.initial = retry.duration("initial");
    sink.retry.max = retry.duration("max");
    sink.retry.max_age = retry.duration("max_age");
    if (retry.has("initial") && retry.has("max") && sink.retry.initial > sink.retry.max) {
      diagnostics_.push_back(file_.error(path + ".retry.initial", "must not exceed retry.max"));
    }
    sink.queue_size = positive(keys.integer("queue_size"), path + ".queue_size");
    sink.queue_bytes = bytes(keys.size("queue_bytes"), path + ".queue_bytes");
    sink.concurrency = positive(keys.integer("concurrency"), path + ".concurrency");
    sink.ordered = keys.boolean("ordered");
    const rapidjson::Value& order_key = keys.json("order_key");
    if (!order_key.IsNull()) {
      TemplateError error;
      sink.order_key = compile_template(order_key, false, error);
      if (!sink.order_key) template_error(path + ".order_key", error);
      if (!sink.ordered) diagnostics_.push_back(file_.error(path + ".order_key", "has no effect without ordered: true"));
    }
  }

  std::string unknown_type_message(ComponentKind kind, const std::string& type) {
    const auto kinds = registry_.kinds_of(type);
    if (!kinds.empty()) {
      return "'" + type + "' is a " + kind_name(kinds.front()) + ", not a " + kind_name(kind);
    }
    std::string message = "unknown " + kind_name(kind) + " type '" + type + "'";
    std::string closest;
    std::size_t best = 3;
    for (const auto* c : registry_.components()) {
      if (c->decl->kind != kind) continue;
      const std::size_t d = detail::edit_distance(type, c->decl->type);
      if (d < best) {
        best = d;
        closest = c->decl->type;
      }
    }
    if (!closest.empty()) return message + " (did you mean '" + closest + "'?)";
    return message + " (see `switchyard plugins list`)";
  }

  // Two components of one pipeline on one path (two sources, say): the second would take
  // the route over from the first without a word, as a reload's new version does.
  void one_component_per_route(const PipelineConfig& pipeline) {
    std::map<std::string, std::string> seen;  // path → option
    for (const auto& route : route_paths(pipeline)) {
      auto [it, inserted] = seen.emplace(route.path, route.option);
      if (inserted) continue;
      const std::string option = route.option.substr(0, route.option.rfind('.'));
      diagnostics_.push_back(file_.error(route.option, "path " + route.path + " is already served by " + it->second +
                                                           " of this pipeline: give " + option + " another path"));
    }
  }

  template <class C>
  void unique_names(const std::vector<C>& components, const std::string& path) {
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < components.size(); ++i) {
      auto [it, inserted] = seen.emplace(components[i].name, i);
      if (!inserted && !components[i].name.empty()) {
        diagnostics_.push_back(file_.error(
            path + "[" + std::to_string(i) + "]",
            "name '" + components[i].name + "' is already used by " + path + "[" +
                std::to_string(it->second) + "]; give one of them a distinct name"));
      }
    }
  }

  const JsonFile& file_;
  const loader::PluginRegistry& registry_;
  Diagnostics& diagnostics_;
  Diagnostics* warnings_ = nullptr;
};

// The offset of a bare `$NAME` in `text` (not `${`, `$${` or `$$`), or npos.
std::size_t bare_variable(std::string_view text) {
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const char c = text[i + 1];
    if (text[i] != '$') continue;
    if (c == '$') {  // `$$`: not a reference
      ++i;
      continue;
    }
    if (c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return i;
  }
  return std::string_view::npos;
}

void warn_bare_variable(const JsonFile& file, const std::string& path, Diagnostics& warnings) {
  const std::string* raw = file.marks.raw(path);
  if (!raw) return;
  const std::size_t at = bare_variable(*raw);
  if (at == std::string_view::npos) return;
  const Mark m = file.marks.find_in_raw(path, at);
  std::size_t end = at + 1;
  while (end < raw->size() && ((*raw)[end] == '_' || std::isalnum(static_cast<unsigned char>((*raw)[end])))) ++end;
  std::string message;
  if (at == 0 && end == raw->size()) {  // the whole value: surely a name, not a secret
    const std::string name = raw->substr(1);
    message = "'$" + name + "' is taken as the secret itself, not read from the environment: write ${" + name + "}";
  } else {  // part of a value: do not quote it, it may be the secret
    message = "this secret contains a bare $NAME, which is taken as written: to read an environment variable "
              "write ${NAME}";
  }
  warnings.push_back(Diagnostic{file.file, m.line, m.column, path, std::move(message)});
}

}  // namespace

void warn_bare_variables(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                         const JsonFile& file, const std::string& prefix, Diagnostics& warnings) {
  if (!values.IsObject()) return;
  for (const auto& spec : schema) {
    auto it = values.FindMember(spec.name);
    if (it == values.MemberEnd()) continue;
    const std::string path = prefix.empty() ? spec.name : prefix + "." + spec.name;
    const rapidjson::Value& value = it->value;
    if (spec.type == OptionType::object) {
      warn_bare_variables(spec.children, value, file, path, warnings);
    } else if (spec.secret && value.IsArray() && file.marks.raw(path) != nullptr) {
      warn_bare_variable(file, path, warnings);  // one value written where a list is taken
    } else if (spec.secret && value.IsArray()) {
      for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
        warn_bare_variable(file, path + "[" + std::to_string(i) + "]", warnings);
      }
    } else if (spec.secret && value.IsObject()) {
      for (const auto& m : value.GetObject()) warn_bare_variable(file, path + "." + m.name.GetString(), warnings);
    } else if (spec.secret) {
      warn_bare_variable(file, path, warnings);
    }
  }
}

std::span<const OptionSpec> pipeline_schema() { return kPipeline; }
std::span<const OptionSpec> sink_schema() { return kSinkKeys; }

Status load_pipeline(const std::filesystem::path& file, const loader::PluginRegistry& registry,
                     PipelineConfig& out, Diagnostics& diagnostics, const YamlLimits& limits) {
  JsonFile json;
  const std::size_t before = diagnostics.size();
  if (Status read = load_yaml_file(file.string(), json, diagnostics, limits); !read) return read;
  if (!json.json.IsObject()) {
    diagnostics.push_back({file.string(), 1, 1, "", "expected a map with source and sinks"});
    return outcome(diagnostics, before);
  }
  // A file must not take the engine down, at start or on a hot reload: whatever loading it
  // throws (memory, a plugin's declaration) is an error of that file.
  try {
    PipelineFileReader(json, registry, diagnostics).load(out);
  } catch (const std::exception& e) {
    diagnostics.push_back({file.string(), 1, 1, "", std::string("cannot load the pipeline: ") + e.what()});
  }
  for (const auto& w : out.warnings) log::engine().warn("{}", format(w));
  // Report in file order, as an editor would list them.
  std::stable_sort(diagnostics.begin() + static_cast<std::ptrdiff_t>(before), diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return outcome(diagnostics, before);
}

// A line scan, not a YAML parse: the file may be broken anywhere, including its syntax.
std::string pipeline_name_hint(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  for (int n = 0; n < 10000 && std::getline(in, line); ++n) {
    if (line.rfind("name:", 0) != 0) continue;
    std::string value = line.substr(5);
    const auto comment = value.find(" #");
    if (comment != std::string::npos) value.resize(comment);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t\r");
    if (first == std::string::npos) break;
    value = value.substr(first, last - first + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (!value.empty() && value.size() <= 200) return value;
    break;
  }
  return file.stem().string();
}

std::vector<std::filesystem::path> pipeline_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {
void add_routes(const ComponentConfig& component, const std::string& prefix, std::vector<RoutePath>& out) {
  if (!component.decl || !component.options) return;
  for (const auto& spec : component.decl->options) {
    if (!spec.route) continue;
    auto it = component.options->FindMember(spec.name);
    if (it == component.options->MemberEnd() || !it->value.IsString()) continue;
    out.push_back({it->value.GetString(), prefix + spec.name, component.location});
  }
}

Diagnostic at(const RoutePath& route, std::string message) {
  // location is "file:line:col"; the file may itself hold colons.
  Diagnostic d{route.location, 0, 0, route.option, std::move(message)};
  const auto col = route.location.rfind(':');
  const auto line = col == std::string::npos || col == 0 ? std::string::npos : route.location.rfind(':', col - 1);
  if (line != std::string::npos) {
    d.file = route.location.substr(0, line);
    d.line = std::atoi(route.location.c_str() + line + 1);
    d.column = std::atoi(route.location.c_str() + col + 1);
  }
  return d;
}
}  // namespace

std::vector<RoutePath> route_paths(const PipelineConfig& pipeline) {
  std::vector<RoutePath> out;
  const bool several = pipeline.sources.size() > 1;
  for (std::size_t i = 0; i < pipeline.sources.size(); ++i) {
    add_routes(pipeline.sources[i], several ? "sources[" + std::to_string(i) + "]." : std::string("source."), out);
  }
  for (std::size_t i = 0; i < pipeline.sinks.size(); ++i) {
    add_routes(pipeline.sinks[i], "sinks[" + std::to_string(i) + "].", out);
  }
  return out;
}

std::vector<PipelineConfig> load_pipelines(const std::filesystem::path& dir,
                                           const std::vector<std::filesystem::path>& files,
                                           const loader::PluginRegistry& registry,
                                           Diagnostics& diagnostics, const YamlLimits& limits,
                                           Diagnostics* warnings) {
  std::vector<std::filesystem::path> inputs = files;
  if (inputs.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      diagnostics.push_back({dir.string(), 0, 0, "", "pipelines directory does not exist"});
      return {};
    }
    inputs = pipeline_files(dir);
  }
  std::vector<PipelineConfig> out;
  std::map<std::string, std::string> names;
  // One pipeline per path on the shared listener: the second would fail to start.
  std::map<std::string, std::pair<std::string, RoutePath>, std::less<>> paths;
  for (const auto& file : inputs) {
    PipelineConfig pipeline;
    const Status loaded = load_pipeline(file, registry, pipeline, diagnostics, limits);
    if (warnings) warnings->insert(warnings->end(), pipeline.warnings.begin(), pipeline.warnings.end());
    if (!loaded) continue;
    auto [it, inserted] = names.emplace(pipeline.name, file.string());
    if (!inserted) {
      diagnostics.push_back({file.string(), 1, 1, "name",
                             "pipeline name '" + pipeline.name + "' is already used by " + it->second});
      continue;
    }
    bool clash = false;
    for (auto& route : route_paths(pipeline)) {
      auto [p, first] = paths.try_emplace(route.path, pipeline.name, route);
      if (first || p->second.first == pipeline.name) continue;
      diagnostics.push_back(at(route, "path " + route.path + " is already served by pipeline '" + p->second.first +
                                          "' (" + p->second.second.location + "); give each pipeline its own path"));
      clash = true;
    }
    if (!clash) out.push_back(std::move(pipeline));
  }
  return out;
}

SinkConfig default_sink_config() {
  static const SinkConfig defaults = [] {
    rapidjson::Document keys;
    std::vector<OptionError> errors;
    normalize_options(kSinkKeys, rapidjson::Value(rapidjson::kObjectType), keys, keys.GetAllocator(), errors);
    const Options o(keys, kSinkKeys);
    const Options retry = o.object("retry");
    SinkConfig c;
    c.retry.max_attempts = static_cast<std::uint32_t>(retry.integer("max_attempts"));
    c.retry.initial = retry.duration("initial");
    c.retry.max = retry.duration("max");
    c.retry.max_age = retry.duration("max_age");
    c.queue_size = static_cast<std::size_t>(o.integer("queue_size"));
    c.queue_bytes = static_cast<std::size_t>(o.size("queue_bytes"));
    c.concurrency = static_cast<std::size_t>(o.integer("concurrency"));
    c.ordered = o.boolean("ordered");
    return c;
  }();
  return defaults;
}

PipelineConfig default_pipeline_config() {
  rapidjson::Document keys;
  std::vector<OptionError> errors;
  normalize_options(kPipeline, rapidjson::Value(rapidjson::kObjectType), keys, keys.GetAllocator(), errors);
  const Options o(keys, kPipeline);
  PipelineConfig c;
  c.durability = o.string("durability") == "memory" ? Durability::memory : Durability::disk;
  c.queue_size = static_cast<std::size_t>(o.integer("queue_size"));
  c.queue_bytes = static_cast<std::size_t>(o.size("queue_bytes"));
  return c;
}

}  // namespace switchyard::config
