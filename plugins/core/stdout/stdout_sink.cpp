#include "stdout/stdout_sink.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace switchyard::core {
namespace {

// Every stdout sink of every pipeline shares the one stream: lines must not interleave.
std::mutex& stdout_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void StdoutSink::deliver(EventPtr event, DeliveryCallback done) {
  line_.clear();
  append_json_line(*event, format_, pretty_, line_);
  bool ok = false;
  {
    std::lock_guard lock(stdout_mutex());
    ok = std::fwrite(line_.data(), 1, line_.size(), stdout) == line_.size() &&
         std::fflush(stdout) == 0;
  }
  if (ok) {
    done({});
  } else {
    done(retryable(std::string("writing to stdout failed: ") + std::strerror(errno)));
  }
}

}  // namespace switchyard::core
