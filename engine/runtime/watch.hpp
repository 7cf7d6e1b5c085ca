#pragma once
// Watches the pipelines directory with inotify and reports changes to pipeline files once
// they have settled: editors that write via a temporary file and rename, or write in
// several bursts, cause one report per quiet period, not one per system call.

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "switchyard/result.hpp"

namespace switchyard::runtime {

class DirectoryWatcher {
 public:
  /// `changed` runs on the watcher's thread after `quiet` without further events.
  DirectoryWatcher(std::filesystem::path dir, std::chrono::milliseconds quiet, std::function<void()> changed);
  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  Status start();
  void stop();

 private:
  void run();

  std::filesystem::path dir_;
  std::chrono::milliseconds quiet_;
  std::function<void()> changed_;
  int inotify_ = -1;
  int wake_ = -1;  // eventfd: stop()
  std::thread thread_;
};

/// Whether a file name is a pipeline file (*.yaml, *.yml; not hidden, not an editor backup).
bool is_pipeline_file_name(std::string_view name);

}  // namespace switchyard::runtime
