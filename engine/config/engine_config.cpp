#include "config/engine_config.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "config/pipeline_config.hpp"
#include "config/yaml_json.hpp"
#include "log/logging.hpp"

namespace switchyard::config {
namespace {

constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr const char* kLogFormats[] = {"text", "json"};

constexpr OptionSpec kTls[] = {
    {.name = "cert", .type = OptionType::string, .description = "PEM certificate chain file; enables TLS on http.listen."},
    {.name = "key", .type = OptionType::string, .description = "PEM private key file.", .secret = false},
};
constexpr OptionSpec kHttp[] = {
    {.name = "listen", .type = OptionType::string, .default_value = "127.0.0.1:8080", .description = "Address:port of the shared listener that sources register routes on. Loopback by default; 0.0.0.0:8080 (or [::]:8080) listens on every interface."},
    {.name = "max_body", .type = OptionType::size, .default_value = "25MiB", .description = "Largest request body accepted (GitHub's own cap is 25 MiB)."},
    {.name = "max_header", .type = OptionType::size, .default_value = "16KiB", .description = "Largest request line plus headers; larger requests get 431."},
    {.name = "read_timeout", .type = OptionType::duration, .default_value = "15s", .description = "Time a client has to send a whole request (headers and body); slower clients are cut off."},
    {.name = "idle_timeout", .type = OptionType::duration, .default_value = "60s", .description = "How long an idle keep-alive connection stays open."},
    {.name = "max_connections", .type = OptionType::integer, .default_value = "10000", .description = "Concurrent connections. At the limit a new connection closes the oldest idle keep-alive one, or, with none idle, is answered 503 and closed. Also capped by the open-file limit, less a reserve for the admin listener and the journal."},
    {.name = "max_connections_per_ip", .type = OptionType::integer, .default_value = "256", .description = "Connections one client address may hold; further ones are answered 503 and closed. 0: no limit."},
    {.name = "exempt_loopback", .type = OptionType::boolean, .default_value = "true", .description = "Do not apply max_connections_per_ip to loopback clients (a reverse proxy on this host carries every client)."},
    {.name = "tls", .type = OptionType::object, .description = "Serve HTTPS instead of HTTP.", .children = kTls},
};
constexpr OptionSpec kAdmin[] = {
    {.name = "listen", .type = OptionType::string, .default_value = "127.0.0.1:9090", .description = "Address:port of the admin API, metrics and console."},
    {.name = "token", .type = OptionType::string, .default_value = "", .description = "Bearer token required by the admin API when set.", .secret = true},
    {.name = "allowed_hosts", .type = OptionType::string_list, .default_value = "[]", .description = "Host names requests may address the admin API by, besides IP addresses and localhost (a DNS-rebinding page's name is refused with 403); \"*\" accepts any.", .example = "[switchyard.internal]"},
};
constexpr OptionSpec kPlugins[] = {
    {.name = "paths", .type = OptionType::string_list, .description = "Directories scanned for plugin libraries. Default: lib/switchyard/plugins next to the binary, then under the install prefix.", .example = "[/opt/switchyard/plugins]"},
};
constexpr OptionSpec kPipelines[] = {
    {.name = "dir", .type = OptionType::string, .default_value = "pipelines", .description = "Directory of pipeline files (*.yaml, *.yml), one pipeline each."},
    {.name = "watch", .type = OptionType::boolean, .default_value = "true", .description = "Reload pipelines when files in dir change."},
    {.name = "max_file_size", .type = OptionType::size, .default_value = "1MiB", .description = "Largest pipeline file read; larger ones are refused before parsing. Its keys and values, once YAML aliases are expanded and ${...} interpolated, may come to 16 times this."},
};
constexpr OptionSpec kState[] = {
    {.name = "dir", .type = OptionType::string, .default_value = "var/switchyard", .description = "Directory for the journal (journal.db: events not yet delivered, the dead-letter queue, component state)."},
    {.name = "max_bytes", .type = OptionType::size, .default_value = "1GiB", .description = "Cap on the journal's live data; at the cap, sources of durable pipelines refuse events (HTTP 503) until sinks catch up. 0: no cap."},
    {.name = "fsync", .type = OptionType::boolean, .default_value = "true", .description = "Sync the journal to disk at every group commit (survives power loss); false survives a crash of the process only, for more throughput."},
};
constexpr OptionSpec kLog[] = {
    {.name = "level", .type = OptionType::string, .default_value = "info", .description = "Lowest level written.", .choices = kLogLevels},
    {.name = "format", .type = OptionType::string, .default_value = "text", .description = "text for people, json for machines (one object per line).", .choices = kLogFormats},
};
constexpr OptionSpec kRuntime[] = {
    {.name = "threads", .type = OptionType::integer, .default_value = "0", .description = "Executor threads; 0 means one per CPU core."},
    {.name = "shutdown_timeout", .type = OptionType::duration, .default_value = "30s", .description = "How long SIGTERM waits for in-flight events before exiting."},
};
constexpr OptionSpec kEnv[] = {
    {.name = "allow", .type = OptionType::string_list, .default_value = "[]", .description = "Environment variables that pipeline files may read: as env.NAME in expressions and as ${NAME} in values. file:PATH and file:DIR/ entries allow ${file:PATH} of that file or of files under that directory. The engine configuration itself reads any variable and file.", .example = "[GITHUB_WEBHOOK_SECRET, file:/run/secrets/]"},
};
constexpr OptionSpec kSchema[] = {
    {.name = "http", .type = OptionType::object, .description = "The shared HTTP listener for sources.", .children = kHttp},
    {.name = "admin", .type = OptionType::object, .description = "The admin listener.", .children = kAdmin},
    {.name = "plugins", .type = OptionType::object, .description = "Where plugin libraries are found.", .children = kPlugins},
    {.name = "pipelines", .type = OptionType::object, .description = "Where pipeline files are found.", .children = kPipelines},
    {.name = "state", .type = OptionType::object, .description = "Durable state.", .children = kState},
    {.name = "log", .type = OptionType::object, .description = "Logging.", .children = kLog},
    {.name = "runtime", .type = OptionType::object, .description = "Executor and shutdown.", .children = kRuntime},
    {.name = "env", .type = OptionType::object, .description = "Environment exposed to expressions.", .children = kEnv},
};

}  // namespace

std::span<const OptionSpec> engine_config_schema() { return kSchema; }

YamlLimits pipeline_limits(const EngineConfig& config) {
  return YamlLimits::of(config.pipeline_max_file_bytes, {.restricted = true, .allow = config.env_allow});
}

Status load_engine_config(const std::string& path, bool explicit_path, EngineConfig& out,
                          Diagnostics& diagnostics) {
  JsonFile file;
  const std::size_t errors_before = diagnostics.size();
  if (!path.empty() && (explicit_path || std::filesystem::exists(path))) {
    if (Status read = load_yaml_file(path, file, diagnostics); !read) return read;
    out.file = path;
  } else {
    file.file = "<defaults>";
    file.json.SetObject();
  }
  rapidjson::Document values;
  std::vector<OptionError> errors;
  normalize_options(kSchema, file.json, values, values.GetAllocator(), errors);
  for (auto& e : errors) {
    if (!file.unresolved.contains(e.path)) diagnostics.push_back(file.error(e.path, e.message));
  }
  warn_bare_variables(kSchema, file.json, file, "", out.warnings);
  for (const auto& w : out.warnings) log::engine().warn("{}", format(w));

  const Options root(values, kSchema);
  const Options http = root.object("http");
  out.http.listen = http.string("listen");
  out.http.max_body = http.size("max_body");
  out.http.max_header = http.size("max_header");
  out.http.read_timeout = http.duration("read_timeout");
  out.http.idle_timeout = http.duration("idle_timeout");
  out.http.max_connections = static_cast<std::uint64_t>(http.integer("max_connections"));
  out.http.max_connections_per_ip = static_cast<std::uint64_t>(http.integer("max_connections_per_ip"));
  out.http.exempt_loopback = http.boolean("exempt_loopback");
  out.http.tls_cert = http.object("tls").string("cert");
  out.http.tls_key = http.object("tls").string("key");
  out.admin.listen = root.object("admin").string("listen");
  out.admin.token = root.object("admin").string("token");
  out.admin.allowed_hosts = root.object("admin").strings("allowed_hosts");
  // An empty token turns authentication off. Set through ${VAR} or ${file:}, empty is a
  // mistake (a secret file mounted as a directory, an empty file, VAR= in a compose file),
  // not a choice: refuse to start rather than open the admin API.
  if (out.admin.token.empty()) {
    if (auto it = file.interpolated.find("admin.token"); it != file.interpolated.end() && !it->second.reference.empty()) {
      diagnostics.push_back(file.error("admin.token", it->second.reference + " is set but empty, which would turn the admin "
                                                          "API's authentication off; give it a token, or remove the "
                                                          "key (or leave the variable unset) to run without one"));
    }
  }
  out.plugin_paths = root.object("plugins").strings("paths");
  out.pipelines_dir = root.object("pipelines").string("dir");
  out.watch = root.object("pipelines").boolean("watch", true);
  out.pipeline_max_file_bytes = root.object("pipelines").size("max_file_size");
  if (out.pipeline_max_file_bytes == 0 || out.pipeline_max_file_bytes > (std::uint64_t{256} << 20)) {
    diagnostics.push_back(file.error("pipelines.max_file_size", "expected 1 byte to 256MiB"));
  }
  out.state_dir = root.object("state").string("dir");
  out.state_max_bytes = static_cast<std::uint64_t>(root.object("state").size("max_bytes"));
  out.state_fsync = root.object("state").boolean("fsync");
  out.log_level = root.object("log").string("level");
  out.log_format = root.object("log").string("format");
  const std::int64_t threads = root.object("runtime").integer("threads");
  if (threads < 0 || threads > 256) {
    diagnostics.push_back(file.error("runtime.threads", "expected 0 (one per core) to 256"));
  }
  out.threads = static_cast<unsigned>(threads < 0 ? 0 : threads);
  out.shutdown_timeout = root.object("runtime").duration("shutdown_timeout");
  out.env_allow = root.object("env").strings("allow");
  return outcome(diagnostics, errors_before);
}

http::ServerSettings listener_settings(std::string name, std::string listen) {
  static const rapidjson::Document defaults = [] {
    rapidjson::Document d;
    std::vector<OptionError> errors;
    normalize_options(kHttp, rapidjson::Value(rapidjson::kObjectType), d, d.GetAllocator(), errors);
    return d;
  }();
  const Options http(defaults, kHttp);
  return http::ServerSettings{.name = std::move(name),
                              .listen = std::move(listen),
                              .max_body = http.size("max_body"),
                              .max_header = http.size("max_header"),
                              .read_timeout = http.duration("read_timeout"),
                              .idle_timeout = http.duration("idle_timeout"),
                              .max_connections = static_cast<std::uint64_t>(http.integer("max_connections")),
                              .max_connections_per_ip = static_cast<std::uint64_t>(http.integer("max_connections_per_ip")),
                              .exempt_loopback = http.boolean("exempt_loopback")};
}

}  // namespace switchyard::config
