// `file` sink: appends one JSON line per event to a file.
#include "file_sink.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .required = true,
     .description = "File to append to; created (with parent directories absent: an error) if missing.",
     .example = "/tmp/switchyard-events.jsonl"},
    {.name = "format", .type = OptionType::string, .default_value = "cloudevent",
     .description = "cloudevent: the structured CloudEvents JSON; data: only the payload.",
     .choices = kLineFormats},
    {.name = "fsync", .type = OptionType::boolean, .default_value = "false",
     .description = "fsync after every line: survives power loss, costs a disk flush per event."},
};

}  // namespace

const ComponentDecl kFileDecl{
    .kind = ComponentKind::sink,
    .type = "file",
    .summary = "Appends each event as one JSON line to a file.",
    .options = kOptions,
    .create = &make_component<FileSink>,
};

Status FileSink::configure(const Options& options, Context&) {
  path_ = options.string("path");
  if (path_.empty()) return invalid_config("path: must not be empty");
  format_ = parse_line_format(options.string("format"));
  fsync_ = options.boolean("fsync");
  return {};
}

}  // namespace switchyard::core

namespace switchyard::core {

FileSink::~FileSink() { stop(); }

Status FileSink::start() {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return permanent("cannot open " + path_ + ": " + std::strerror(errno));
  return {};
}

void FileSink::deliver(EventPtr event, DeliveryCallback done) {
  line_.clear();
  append_json_line(*event, format_, false, line_);
  // O_APPEND makes each write land at the end, whole, even with other writers.
  std::size_t written = 0;
  while (written < line_.size()) {
    const ssize_t n = ::write(fd_, line_.data() + written, line_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return done(retryable("writing " + path_ + " failed: " + std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync_ && ::fsync(fd_) != 0) {
    return done(retryable("fsync " + path_ + " failed: " + std::strerror(errno)));
  }
  done({});
}

void FileSink::stop() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace switchyard::core
