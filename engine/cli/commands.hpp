#pragma once
// The `switchyard` subcommands. Each returns the process exit code.

#include <chrono>
#include <string>
#include <vector>

namespace switchyard::cli {

struct Common {
  std::string config_file;     ///< -c, else $SWITCHYARD_CONFIG, else config/switchyard.yaml when present
  bool config_explicit = false;  ///< named by -c or $SWITCHYARD_CONFIG: it must exist
};

/// `strict`: any invalid pipeline file stops the start (exit 1); else invalid files are
/// reported and listed as failed, and the valid ones start.
int run(const Common& common, bool strict = false);
/// `format`: "text" (problems on standard error) or "json" (the report on standard output,
/// docs/operations.md).
int validate(const Common& common, const std::vector<std::string>& files, const std::string& format = "text");
int test(const Common& common, const std::vector<std::string>& files);
/// `json`: a JSON array of {type, kind, plugin, version, summary} instead of a table.
int plugins_list(const Common& common, bool json = false);
int plugins_describe(const Common& common, const std::string& type);
int plugins_docs(const Common& common);
int plugins_check(const std::string& file);

struct SendOptions {
  std::vector<std::string> args;     ///< SERVICE [ARGUMENT] FILE ("-": stdin)
  std::string secret;                ///< default: the service's usual variable
  std::string url;                   ///< default: the source's route on http.listen
  std::vector<std::string> headers;  ///< extra "Name: value" headers, set before signing
  std::string ca_file;
  bool insecure = false;
};
/// Signs FILE as SERVICE signs its requests (the signer an HTTP source's plugin declares)
/// and posts it.
int send(const Common& common, const SendOptions& options);

struct DlqOptions {
  std::vector<std::string> ids;
  std::string pipeline;
  std::string sink;
  std::string older_than;  ///< a duration: entries that failed at least this long ago
  bool all = false;        ///< replay/drop: every entry (when no id or filter is given)
  bool json = false;       ///< list: a JSON array instead of a table
};
int dlq_list(const Common& common, const DlqOptions& options);
int dlq_show(const Common& common, const DlqOptions& options);
int dlq_replay(const Common& common, const DlqOptions& options);
int dlq_adopt(const Common& common, const DlqOptions& options);
int dlq_drop(const Common& common, const DlqOptions& options);

struct HealthOptions {
  bool ready = false;  ///< /readyz instead of /healthz
  std::string url;     ///< default: /healthz on admin.listen (loopback for 0.0.0.0)
  std::chrono::milliseconds timeout{5000};
};
/// GETs a running engine's /healthz (or /readyz) with admin.token; 0 on HTTP 200.
int health(const Common& common, const HealthOptions& options);

struct RenderOptions {
  std::string pipeline;                ///< the pipeline file
  std::string input;                   ///< a JSON input entry, list of them, or payload ("-": stdin)
  std::string type;                    ///< the event type of a bare payload (default test.input)
  std::vector<std::string> variables;  ///< NAME=VALUE for ${NAME} and env.NAME, over the environment
  bool show_secrets = false;           ///< print secret options' values instead of <redacted>
  std::string format = "json";         ///< json | text
};
/// Prints what each sink of a pipeline would send for an input (Sink::render), sending
/// nothing: the input goes through the real transforms and each sink's if: first.
int render(const Common& common, const RenderOptions& options);

struct TapOptions {
  std::string pipeline;
  std::string admin;     ///< HOST:PORT of the admin listener; default: admin.listen
  bool payload = false;  ///< not built yet: refused
};
/// Prints, as JSON lines, each stage the events of a pipeline pass in a running engine.
int tap(const Common& common, const TapOptions& options);

}  // namespace switchyard::cli
