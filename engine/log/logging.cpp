#include "log/logging.hpp"

#include "switchyard/event.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <mutex>
#include <set>
#include <utility>

namespace switchyard::log {
namespace {

// The level as the configuration names it (log.level: warn, error), not spdlog's "warning".
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const auto name = level_name(msg.level);
    dest.append(name.data(), name.data() + name.size());
    for (std::size_t i = name.size(); i < 5; ++i) dest.push_back(' ');  // columns line up
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return spdlog::details::make_unique<LevelFlag>(); }
};

bool is_pipeline_logger(std::string_view name);

// What a JSON line carries as fields, from the logger's name ("pipeline/component", or a
// pipeline's own logger) and the message's conventions: a pipeline logger's lines about one
// component start with its label ("sinks[0] 'alert': ..."), and event lines name the event
// ("event <id> ...").
struct LineFields {
  std::string_view pipeline, component, event_id;
};

std::string_view event_id_in(std::string_view text) {
  for (std::size_t at = text.find("event "); at != std::string_view::npos; at = text.find("event ", at + 1)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1]))) continue;  // "prevent ", "Event "
    const std::size_t start = at + 6;
    std::size_t end = start;
    while (end < text.size() && text[end] != ' ' && text[end] != ',' && text[end] != '\n' &&
           !(text[end] == ':' && (end + 1 == text.size() || text[end + 1] == ' '))) {
      ++end;
    }
    const auto token = text.substr(start, end - start);
    // An id has a digit or a separator in it (UUIDv7, a GitHub delivery id, "push-1"); a word
    // ("event is", "event queue") has not.
    if (!token.empty() && token.size() <= 200 && token.front() != '(' &&
        token.find_first_of("0123456789-_.") != std::string_view::npos) {
      return token;
    }
  }
  return {};
}

LineFields fields_of(std::string_view logger, std::string_view text) {
  LineFields f;
  if (const auto slash = logger.find('/'); slash != std::string_view::npos) {
    f.pipeline = logger.substr(0, slash);
    f.component = logger.substr(slash + 1);
  } else if (is_pipeline_logger(logger)) {
    f.pipeline = logger;
    // "source 'github': ...", "transforms[1] 'only-main': ...", "sinks[0] 'alert': ..."
    const auto quote = text.find(" '");
    const bool labelled = quote != std::string_view::npos &&
                          (text.starts_with("source") || text.starts_with("sinks[") || text.starts_with("transforms["));
    if (labelled) {
      const auto close = text.find("':", quote + 2);
      if (close != std::string_view::npos && close - quote < 200) f.component = text.substr(quote + 2, close - quote - 2);
    }
  }
  f.event_id = event_id_in(text);
  return f;
}

// One JSON object per line (a multi-line message stays one line: its newlines are escaped):
// {"time","level","logger","pipeline","component","event_id","msg"}, the middle three when known.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string time = format_rfc3339(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(msg.time));
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    append(dest, "{\"time\":\"");
    append(dest, time);
    append(dest, "\",\"level\":\"");
    append(dest, level_name(msg.level));
    append(dest, "\",\"logger\":");
    escape(dest, logger);
    const LineFields fields = fields_of(logger, text);
    for (const auto& [key, value] : {std::pair{",\"pipeline\":", fields.pipeline},
                                     std::pair{",\"component\":", fields.component},
                                     std::pair{",\"event_id\":", fields.event_id}}) {
      if (value.empty()) continue;
      append(dest, key);
      escape(dest, value);
    }
    append(dest, ",\"msg\":");
    escape(dest, text);
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

// The names of pipelines' own loggers (make_pipeline): their lines get a pipeline field.
struct PipelineLoggers {
  std::mutex mutex;
  std::set<std::string, std::less<>> names;
};
PipelineLoggers& pipeline_loggers() {
  static PipelineLoggers p;
  return p;
}
bool is_pipeline_logger(std::string_view name) {
  auto& p = pipeline_loggers();
  std::lock_guard lock(p.mutex);
  return p.names.find(name) != p.names.end();
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
    auto text = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    text->add_flag<LevelFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %* [%n] %v");
    s.sink->set_formatter(std::move(text));
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

std::shared_ptr<spdlog::logger> make_pipeline(const std::string& name) {
  {
    auto& p = pipeline_loggers();
    std::lock_guard lock(p.mutex);
    p.names.insert(name);
  }
  return make(name);
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
