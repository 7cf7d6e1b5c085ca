#include "log/logging.hpp"

#include "switchyard/event.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

namespace switchyard::log {
namespace {

// One JSON object per line: {"time","level","logger","msg"}.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string time = format_rfc3339(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(msg.time));
    append(dest, "{\"time\":\"");
    append(dest, time);
    append(dest, "\",\"level\":\"");
    const auto level = spdlog::level::to_string_view(msg.level);
    append(dest, std::string_view(level.data(), level.size()));
    append(dest, "\",\"logger\":");
    escape(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    append(dest, ",\"msg\":");
    escape(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    append(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  static void append(spdlog::memory_buf_t& dest, std::string_view s) {
    dest.append(s.data(), s.data() + s.size());
  }
  static void escape(spdlog::memory_buf_t& dest, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    dest.push_back('"');
    for (unsigned char c : s) {
      switch (c) {
        case '"': append(dest, "\\\""); break;
        case '\\': append(dest, "\\\\"); break;
        case '\n': append(dest, "\\n"); break;
        case '\r': append(dest, "\\r"); break;
        case '\t': append(dest, "\\t"); break;
        default:
          if (c < 0x20) {
            const char u[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
            dest.append(u, u + 6);
          } else {
            dest.push_back(static_cast<char>(c));
          }
      }
    }
    dest.push_back('"');
  }
};

struct Shared {
  std::mutex mutex;
  std::shared_ptr<spdlog::sinks::stderr_sink_mt> sink =
      std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::info;
  std::shared_ptr<spdlog::logger> engine;
};

Shared& shared() {
  static Shared s;
  return s;
}

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void setup(std::string_view level, std::string_view format) {
  Shared& s = shared();
  std::lock_guard lock(s.mutex);
  s.level = spdlog::level::from_str(std::string(level));
  if (format == "json") {
    s.sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    s.sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%e %-5l [%n] %v", spdlog::pattern_time_type::utc));
  }
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(s.level); });
  if (s.engine) s.engine->set_level(s.level);
}

std::shared_ptr<spdlog::logger> make(const std::string& name) {
  Shared& s = shared();
  auto logger = std::make_shared<spdlog::logger>(name, s.sink);
  logger->set_level(s.level);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

spdlog::logger& engine() {
  Shared& s = shared();
  std::lock_guard lock(s.mutex);
  if (!s.engine) {
    s.engine = std::make_shared<spdlog::logger>("engine", s.sink);
    s.engine->set_level(s.level);
    s.engine->flush_on(spdlog::level::trace);
  }
  return *s.engine;
}

ComponentLogger::ComponentLogger(const std::string& name) : logger_(make(name)) {}

bool ComponentLogger::enabled(LogLevel level) const {
  return logger_->should_log(to_spdlog(level));
}

void ComponentLogger::log(LogLevel level, std::string_view message) {
  logger_->log(to_spdlog(level), "{}", message);
}

}  // namespace switchyard::log
