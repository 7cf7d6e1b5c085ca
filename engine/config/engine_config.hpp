#pragma once
// The engine's own configuration (config/switchyard.yaml). Every key has a default and the
// file may be absent; it is validated with the same option schemas plugins use.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/yaml_json.hpp"
#include "http/server.hpp"
#include "switchyard/options.hpp"

namespace switchyard::config {

struct EngineConfig {
  std::string file;  ///< The file read; empty when running on defaults.
  struct Http {
    std::string listen;
    std::uint64_t max_body = 0;
    std::uint64_t max_header = 0;
    std::chrono::milliseconds read_timeout{0};
    std::chrono::milliseconds idle_timeout{0};
    std::uint64_t max_connections = 0;
    std::uint64_t max_connections_per_ip = 0;
    bool exempt_loopback = true;
    std::string tls_cert;
    std::string tls_key;
  } http;
  struct Admin {
    std::string listen;
    std::string token;
    std::vector<std::string> allowed_hosts;
  } admin;
  std::vector<std::string> plugin_paths;  ///< Empty: the defaults next to the binary.
  std::string pipelines_dir;
  bool watch = true;
  std::uint64_t pipeline_max_file_bytes = kDefaultMaxFileBytes;
  std::string state_dir;
  std::uint64_t state_max_bytes = 0;  ///< 0: no cap.
  bool state_fsync = true;
  std::string log_level;
  std::string log_format;
  unsigned threads = 0;  ///< Executor threads; 0 = one per core.
  std::chrono::milliseconds shutdown_timeout{0};
  std::vector<std::string> env_allow;  ///< Variables visible to expressions as `env`.
  /// Probable mistakes that still load (a bare $VAR in admin.token); also logged.
  Diagnostics warnings;
};

/// A listener named `name` on `listen` with the declared defaults of `http:` for the rest.
http::ServerSettings listener_settings(std::string name, std::string listen);

/// The declared schema of the engine configuration (for validation and docs).
std::span<const OptionSpec> engine_config_schema();

/// What pipeline files may cost and read: pipelines.max_file_size, and env.allow for their
/// ${VAR} and ${file:} interpolation.
YamlLimits pipeline_limits(const EngineConfig& config);

/// Loads `path`, or the defaults when `path` is empty and config/switchyard.yaml is absent.
/// `explicit_path` says whether the user named the file (then it must exist).
Status load_engine_config(const std::string& path, bool explicit_path, EngineConfig& out,
                          Diagnostics& diagnostics);

}  // namespace switchyard::config
