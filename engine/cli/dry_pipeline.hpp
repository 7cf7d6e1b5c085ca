#pragma once
// What `switchyard test` and `switchyard render` share: input entries (a test case's
// `input:`, render's INPUT file) made into events, a pipeline run with its source swapped
// for those events and each sink for a capture (runtime/dry_run.hpp), and the pipeline's
// real sinks, configured but never started, asked what they would send for an event
// (Sink::render) with the values of their secret options at hand for redaction.

#include <rapidjson/document.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "switchyard/component.hpp"

namespace switchyard::http {
class Server;
}

namespace switchyard::runtime {
class Io;
class StateTable;
struct Services;
}

namespace switchyard::cli {

/// An input entry as an event: envelope fields `id`, `type` (default test.input), `source`,
/// `subject`; `payload` (inline JSON) or `payload_file` (relative to `base`); `meta`.
/// `error_key` gets the member at fault ("payload_file") when it fails.
Result<std::unique_ptr<Event>> event_from_input(const rapidjson::Value& input, const std::filesystem::path& base,
                                                const std::string& pipeline, std::string& error_key);

/// What the sinks of a pipeline received in a dry run.
struct Received {
  std::map<std::string, std::vector<EventPtr>> by_sink;  ///< every sink, in order received
  std::uint64_t transform_errors = 0;
  std::string last_error;  ///< the last transform error, without its time
};

/// Runs `pipeline` as `run` would (transforms, each sink's if:), with its source replaced by
/// `inputs` and every sink by a capture; fresh state, in memory. Error: the pipeline did not run.
Result<Received> run_through(const config::PipelineConfig& pipeline, std::vector<std::unique_ptr<Event>> inputs,
                             runtime::Io& io, http::Server& server);

/// The sinks of one pipeline, each created and configured (on its own strand) the first time
/// it is asked for, never started: nothing is sent, no connection made.
class SinkRenderers {
 public:
  SinkRenderers(const config::PipelineConfig& pipeline, runtime::Io& io, http::Server& server);
  ~SinkRenderers();
  SinkRenderers(const SinkRenderers&) = delete;
  SinkRenderers& operator=(const SinkRenderers&) = delete;

  /// What sink `name` would send for `event`: its Sink::render (nullopt: it cannot say).
  /// Error: the sink failed to configure, or rendering failed (what deliver() would fail with).
  Result<std::optional<Rendering>> render(const std::string& name, const Event& event);
  /// The values the sink's secret options take for `event` (templates rendered), non-empty.
  std::vector<std::string> secrets(const std::string& name, const Event& event);
  /// The sink's type ("" for a name the pipeline lacks).
  std::string type(const std::string& name) const;

 private:
  struct Hosted;
  Hosted* host(const std::string& name);

  const config::PipelineConfig& pipeline_;
  runtime::Io& io_;
  http::Server& server_;
  std::unique_ptr<runtime::StateTable> store_;  // the sinks' state: fresh, in memory
  std::unique_ptr<runtime::Services> services_;
  std::map<std::string, std::unique_ptr<Hosted>> hosted_;
};

/// The redacted form of a secret's value: for a URL its scheme and host with the rest
/// "<redacted>" (https://discord.com/<redacted>), else "<redacted>".
std::string redacted_secret(std::string_view value);
/// Replaces each of `secrets` in the url, header values and body of `rendering` by its
/// redacted form, longest first (a URL before its own token): every occurrence of a value
/// of 8 characters or more, a shorter one where it is the whole field.
void redact(Rendering& rendering, std::vector<std::string> secrets);

/// `rendering` as JSON: method, url, headers (an object; a repeated name's values joined by
/// ", "), body (its JSON when it parses, else the text).
void rendering_json(const Rendering& rendering, rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc);

}  // namespace switchyard::cli
