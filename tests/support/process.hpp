#pragma once
// Runs the switchyard binary as a child process, as an operator would.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

extern char** environ;

namespace switchyard::test {

/// A child process with stdout and stderr captured to files in `dir`.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::filesystem::path& dir,
        const std::filesystem::path& cwd = {})
      : out_(dir / ("stdout-" + std::to_string(counter()))), err_(dir / ("stderr-" + std::to_string(counter()))) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("posix_spawn failed for " + args[0]);
  }
  ~Child() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  void signal(int sig) { ::kill(pid_, sig); }

  /// Waits for exit; returns the exit code, or 128+signal. nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exit_code_) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_code_;
  }

  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

 private:
  static int counter() {
    static int n = 0;
    return n++;
  }
  pid_t pid_ = -1;
  std::filesystem::path out_;
  std::filesystem::path err_;
  std::optional<int> exit_code_;
};

/// Runs to completion: exit code, stdout, stderr.
struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

inline Outcome run_to_end(const std::vector<std::string>& args, const TempDir& dir,
                          const std::filesystem::path& cwd = {}) {
  Child child(args, dir.path(), cwd);
  auto code = child.wait();
  return Outcome{code.value_or(-1), child.out(), child.err()};
}

}  // namespace switchyard::test
