// `stdout` sink: one JSON line per event on standard output.
#include "stdout_sink.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "format", .type = OptionType::string, .default_value = "cloudevent",
     .description = "cloudevent: the structured CloudEvents JSON; data: only the payload.",
     .choices = kLineFormats},
    {.name = "pretty", .type = OptionType::boolean, .default_value = "false",
     .description = "Indent the JSON over several lines (for reading, not for machines)."},
};

}  // namespace

const ComponentDecl kStdoutDecl{
    .kind = ComponentKind::sink,
    .type = "stdout",
    .summary = "Writes each event as one JSON line to standard output.",
    .options = kOptions,
    .create = &make_component<StdoutSink>,
};

Status StdoutSink::configure(const Options& options, Context&) {
  format_ = parse_line_format(options.string("format"));
  pretty_ = options.boolean("pretty");
  return {};
}

}  // namespace switchyard::core

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

Result<std::optional<Rendering>> StdoutSink::render(const Event& event) {
  std::string line;
  append_json_line(event, format_, pretty_, line);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return std::optional<Rendering>(Rendering{.method = "WRITE", .url = "stdout", .body = std::move(line)});
}

}  // namespace switchyard::core
