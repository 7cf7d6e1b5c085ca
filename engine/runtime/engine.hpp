#pragma once
// The engine: runs pipelines on one executor, handles SIGTERM/SIGINT with a bounded drain.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "switchyard/result.hpp"

namespace switchyard::runtime {

class Pipeline;

/// One pipeline file as read for a reload.
struct PipelineFile {
  std::string file;
  std::string name;                              ///< The name it gives, read even when invalid.
  std::string content;                           ///< Unchanged content: the pipeline is left alone.
  std::optional<config::PipelineConfig> config;  ///< nullopt when the file is invalid
  std::string error;                             ///< Why it is invalid (file:line:col: ..., one per line).
};
/// Reads every file of the pipelines directory.
using PipelineLoader = std::function<std::vector<PipelineFile>()>;
using ReloadDone = std::function<void(Result<std::string>)>;

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
  /// run. `invalid`: the files that failed validation, logged and listed as failed (admin
  /// API), as a reload does with them. Returns how many started.
  std::size_t start(std::vector<config::PipelineConfig> pipelines, const std::vector<PipelineFile>& invalid = {});

  /// Turns hot reload on: SIGHUP and POST /api/reload re-read the pipelines with `load`,
  /// and with `watch` so does any change of a pipeline file (inotify, debounced).
  Status enable_reload(PipelineLoader load, bool watch);

  /// Queues a reload. Each changed valid file replaces its running pipeline without losing
  /// an event (new requests go to the new version, the old one drains); added files start
  /// pipelines, removed files stop theirs (drained); an invalid file leaves its running
  /// pipeline untouched. `done` (any thread) gets a summary, or an error naming every
  /// invalid file.
  void request_reload(ReloadDone done);

  /// Blocks until SIGTERM/SIGINT or request_stop(), then stops accepting, drains for
  /// shutdown_timeout and stops every component. Returns the process exit code.
  int run();

  /// Asks run() to shut down (thread-safe).
  void request_stop();

  /// The running pipelines.
  std::vector<std::shared_ptr<Pipeline>> pipelines() const;

 private:
  struct State;
  void wait_for_signal();
  void stop_reloading();
  Result<std::string> reload();
  Result<std::shared_ptr<Pipeline>> launch(const config::PipelineConfig& config, bool hold);
  void adopt_orphans(const std::vector<config::PipelineConfig>& configured, const std::vector<PipelineFile>& invalid);
  void retire(const std::string& name, std::shared_ptr<Pipeline> old, std::shared_ptr<Pipeline> next,
              std::uint64_t last_seq);
  std::unique_ptr<State> state_;
};

}  // namespace switchyard::runtime
