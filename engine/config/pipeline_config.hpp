#pragma once
// Pipeline files: one pipeline per YAML file, validated against the engine's pipeline
// schema and each component's declared options. Every error is collected with its position.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/condition.hpp"
#include "config/diagnostics.hpp"
#include "config/templates.hpp"
#include "config/yaml_json.hpp"
#include "switchyard/component.hpp"

namespace switchyard::loader {
class PluginRegistry;
}

namespace switchyard::config {

struct JsonFile;

/// A configured component: its declaration and its validated, defaulted options.
struct ComponentConfig {
  const ComponentDecl* decl = nullptr;
  std::string type;
  std::string name;      ///< Unique within the pipeline; defaults to the type.
  std::string location;  ///< "file:line:col" of its entry, for messages.
  std::shared_ptr<const rapidjson::Document> options;
  /// The compiled templates of its template and condition options.
  std::shared_ptr<const CompiledTemplates> templates;
  /// The options with secrets replaced, safe for logs and the admin API.
  std::shared_ptr<const rapidjson::Document> redacted;
};

// The engine's keys of pipelines and sinks are declared once (pipeline_schema(),
// sink_schema()); the values below come from there, defaults included: build these with
// default_sink_config() / default_pipeline_config() (or load_pipeline), never by hand.

/// Retry policy of a sink (contract section 7).
struct RetryPolicy {
  std::uint32_t max_attempts = 0;
  std::chrono::milliseconds initial{0};
  std::chrono::milliseconds max{0};
  std::chrono::milliseconds max_age{0};
};

struct SinkConfig : ComponentConfig {
  std::shared_ptr<const Condition> condition;  ///< nullptr: every event.
  RetryPolicy retry;
  std::size_t queue_size = 0;
  std::size_t queue_bytes = 0;
  std::size_t concurrency = 0;
  bool ordered = false;
  std::shared_ptr<const Template> order_key;  ///< nullptr with ordered: one key for all.
};

enum class Durability { disk, memory };

struct PipelineConfig {
  std::string name;
  std::string file;
  std::string description;
  Durability durability = Durability::disk;
  std::size_t queue_size = 0;
  std::size_t queue_bytes = 0;
  /// `source:`, or each of `sources:` in order: events of every source go through the same
  /// transforms to the same sinks. Never empty once loaded.
  std::vector<ComponentConfig> sources;
  std::vector<ComponentConfig> transforms;
  std::vector<SinkConfig> sinks;
  /// Things that load but are probably mistakes (a bare $VAR in a secret), with positions;
  /// load_pipeline also logs them.
  Diagnostics warnings;
};

/// A path a pipeline serves on the shared listener: the value of an option its component
/// declares `.route`, and where it is configured.
struct RoutePath {
  std::string path;
  std::string option;    ///< "source.path", "sources[1].path", "sinks[0].path"
  std::string location;  ///< "file:line:col" of the component's entry
};
std::vector<RoutePath> route_paths(const PipelineConfig& pipeline);

/// A sink's engine keys (retry, queue_size, concurrency, ordered) at their declared defaults.
SinkConfig default_sink_config();
/// A pipeline's engine keys (durability, queue_size) at their declared defaults.
PipelineConfig default_pipeline_config();

/// Declared engine-owned keys, for docs.
std::span<const OptionSpec> pipeline_schema();
std::span<const OptionSpec> sink_schema();

/// The limits of a pipeline file when the engine configuration says nothing: 1 MiB, and
/// interpolation reads no variable and no file (pipeline_limits() in engine_config.hpp
/// gives the configured ones).
inline YamlLimits default_pipeline_limits() { return YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true}); }

/// Loads and validates one pipeline file: an error (the first of the diagnostics it
/// reported) when invalid.
Status load_pipeline(const std::filesystem::path& file, const loader::PluginRegistry& registry,
                     PipelineConfig& out, Diagnostics& diagnostics,
                     const YamlLimits& limits = default_pipeline_limits());

/// Loads the given files (or every *.yaml / *.yml in `dir` when `files` is empty), checking
/// that pipeline names are unique. Returns the valid pipelines; errors go to diagnostics,
/// and every file's warnings (valid or not) also to `warnings` when given.
std::vector<PipelineConfig> load_pipelines(const std::filesystem::path& dir,
                                           const std::vector<std::filesystem::path>& files,
                                           const loader::PluginRegistry& registry,
                                           Diagnostics& diagnostics,
                                           const YamlLimits& limits = default_pipeline_limits(),
                                           Diagnostics* warnings = nullptr);

/// Warnings for secret options of `schema` (values under `prefix` in `file`) whose text has a
/// bare `$NAME`: taken as written, where `${NAME}` was probably meant.
void warn_bare_variables(std::span<const OptionSpec> schema, const rapidjson::Value& values,
                         const JsonFile& file, const std::string& prefix, Diagnostics& warnings);

/// The pipeline name a file gives, read even when the file is invalid (admin API, logs): its
/// top-level `name:` when one can be read from its text, else the file name without extension
/// (the default name).
std::string pipeline_name_hint(const std::filesystem::path& file);

/// Pipeline files in `dir`, sorted.
std::vector<std::filesystem::path> pipeline_files(const std::filesystem::path& dir);

}  // namespace switchyard::config
