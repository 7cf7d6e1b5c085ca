#pragma once
// Internal to the CLI: what most commands start with — the engine configuration read,
// logging set up, and the plugins loaded.

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "config/engine_config.hpp"
#include "http/addresses.hpp"
#include "loader/registry.hpp"

namespace switchyard::cli {

struct Setup {
  config::EngineConfig engine;
  loader::PluginRegistry registry;
  config::Diagnostics diagnostics;
  std::vector<std::string> plugin_errors;
};

/// Reads the engine config, sets up logging (at `log_level` until the config says) and
/// loads the plugins. False when the engine configuration itself is invalid (diagnostics
/// say why).
bool prepare(const Common& common, Setup& setup, const std::string& log_level = "info");

void print_diagnostics(const config::Diagnostics& diagnostics);

/// The admin listener as this host reaches it (an all-interfaces address on loopback), from
/// admin.listen; nullopt when it names no fixed port. For commands that ask a running engine.
std::optional<http::Endpoint> admin_endpoint(const config::EngineConfig& engine);

}  // namespace switchyard::cli
