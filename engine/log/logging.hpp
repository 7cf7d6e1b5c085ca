#pragma once
// Logging through spdlog: text for people, JSON lines for machines. Every component gets
// a logger named "pipeline/component" writing through the shared sink.

#include <memory>
#include <string>
#include <string_view>

#include "switchyard/context.hpp"

namespace spdlog {
class logger;
}

namespace switchyard::log {

/// Configures the process-wide sink (stderr): `level` trace|debug|info|warn|error,
/// `format` text|json. Safe to call again (e.g. after reading the config).
void setup(std::string_view level, std::string_view format);

/// A logger named `name` on the shared sink.
std::shared_ptr<spdlog::logger> make(const std::string& name);

/// A pipeline's own logger, named after it: its JSON lines carry the pipeline as a field.
std::shared_ptr<spdlog::logger> make_pipeline(const std::string& name);

/// The engine's own logger.
spdlog::logger& engine();

/// The SDK Logger over an spdlog logger.
class ComponentLogger final : public Logger {
 public:
  explicit ComponentLogger(const std::string& name);
  bool enabled(LogLevel level) const override;
  void log(LogLevel level, std::string_view message) override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace switchyard::log
