#include "runtime/watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/logging.hpp"

namespace switchyard::runtime {

bool is_pipeline_file_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

DirectoryWatcher::DirectoryWatcher(std::filesystem::path dir, std::chrono::milliseconds quiet,
                                   std::function<void()> changed)
    : dir_(std::move(dir)), quiet_(quiet), changed_(std::move(changed)) {}

DirectoryWatcher::~DirectoryWatcher() { stop(); }

Status DirectoryWatcher::start() {
  inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ < 0) return permanent(std::string("inotify: ") + std::strerror(errno));
  // Finished writes, renames in and out, new files (symlinks have no write), deletions:
  // what editors and deployment tools do. Not IN_MODIFY: a slow writer would get each
  // partial state reloaded (a half-written file that is still valid YAML).
  if (::inotify_add_watch(inotify_, dir_.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF |
                              IN_MOVE_SELF) < 0) {
    const int e = errno;
    ::close(inotify_);
    inotify_ = -1;
    return permanent("watching " + dir_.string() + ": " + std::strerror(e));
  }
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
  return {};
}

void DirectoryWatcher::stop() {
  if (wake_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (inotify_ >= 0) ::close(inotify_);
  if (wake_ >= 0) ::close(wake_);
  inotify_ = wake_ = -1;
}

void DirectoryWatcher::run() {
  alignas(inotify_event) char buffer[16 * 1024];
  bool pending = false;
  for (;;) {
    pollfd fds[2] = {{inotify_, POLLIN, 0}, {wake_, POLLIN, 0}};
    // With a change pending, wait only for the quiet period; then report it.
    const int timeout = pending ? static_cast<int>(quiet_.count()) : -1;
    const int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    if (n == 0) {
      pending = false;
      changed_();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      const ssize_t len = ::read(inotify_, buffer, sizeof buffer);
      for (ssize_t off = 0; off < len;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buffer + off);
        // Pipeline files, and Kubernetes ConfigMap volumes, which swap a "..data" symlink.
        if (ev->len > 0 && (is_pipeline_file_name(ev->name) || std::string_view(ev->name).starts_with(".."))) {
          pending = true;
        }
        if (ev->mask & IN_Q_OVERFLOW) pending = true;
        if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
          log::engine().warn("pipelines directory {} was removed or moved: no longer watching it (SIGHUP or "
                             "POST /api/reload still reload)", dir_.string());
          return;
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
  }
}

}  // namespace switchyard::runtime
