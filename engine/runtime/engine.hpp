#pragma once
// The engine: runs pipelines on one executor, handles SIGTERM/SIGINT with a bounded drain.

#include <memory>
#include <vector>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "switchyard/result.hpp"

namespace switchyard::runtime {

class Pipeline;

class Engine {
 public:
  explicit Engine(const config::EngineConfig& config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Opens the journal in state.dir (when set) and loads the components' state. An error
  /// (a damaged or foreign file, an unwritable directory) means the engine must not run.
  Status open_journal();

  /// Opens the admin listener (admin.listen; nothing when empty). An error (address in
  /// use, not an IP) means the engine must not run.
  Status open_admin();

  /// Builds and starts each pipeline. One that fails is logged and left out; the others
  /// run. Returns how many started.
  std::size_t start(std::vector<config::PipelineConfig> pipelines);

  /// Blocks until SIGTERM/SIGINT or request_stop(), then stops accepting, drains for
  /// shutdown_timeout and stops every component. Returns the process exit code.
  int run();

  /// Asks run() to shut down (thread-safe).
  void request_stop();

  /// The running pipelines.
  std::vector<std::shared_ptr<Pipeline>> pipelines() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace switchyard::runtime
