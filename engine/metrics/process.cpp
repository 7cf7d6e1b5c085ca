#include "metrics/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>

namespace switchyard::metrics {
namespace {

// Fields 14 (utime), 15 (stime), 22 (starttime, clock ticks after boot) and 23 (vsize) of
// /proc/self/stat; the command name (field 2) may hold spaces, so counting starts after ')'.
struct Stat {
  double cpu_seconds = 0;
  double start_ticks = 0;
  double virtual_bytes = 0;
};

bool read_stat(Stat& out) {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int n = 3; fields >> field; ++n) {
    if (n == 14 || n == 15) out.cpu_seconds += std::stod(field) / hz;
    if (n == 22) out.start_ticks = std::stod(field);
    if (n == 23) {
      out.virtual_bytes = std::stod(field);
      return true;
    }
  }
  return false;
}

double boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return n > 0 ? n - 1 : 0;  // less the one this listing holds open
}

}  // namespace

void collect_process(Registry& registry) {
  Stat stat;
  if (read_stat(stat)) {
    // A counter only goes up: it is moved by what was used since the last scrape.
    static std::mutex mutex;
    static double counted = 0;
    std::lock_guard lock(mutex);
    if (stat.cpu_seconds > counted) {
      registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", {})
          .inc(stat.cpu_seconds - counted);
      counted = stat.cpu_seconds;
    }
    registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {}).set(stat.virtual_bytes);
    static const double start = boot_time() + stat.start_ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
    registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", {})
        .set(start);
  }
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {}).set(resident_bytes());
  registry.gauge("process_open_fds", "Number of open file descriptors.", {}).set(open_fds());
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    registry.gauge("process_max_fds", "Maximum number of open file descriptors.", {})
        .set(static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace switchyard::metrics
