// `file` sink: appends one JSON line per event to a file.
#include "file_sink.hpp"

#include <cerrno>
#include <cstring>
#include <sys/uio.h>
#include <unistd.h>

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "path", .type = OptionType::string, .required = true,
     .description = "File to append to; created (with parent directories absent: an error) if missing. "
                    "Moved or removed (logrotate), it is created again at the path within a second.",
     .example = "/tmp/switchyard-events.jsonl"},  // `plugins check` writes it
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

Status FileSink::configure(const Options& options, Context& context) {
  context_ = &context;
  path_ = options.string("path");
  if (path_.empty()) return invalid_config("path: must not be empty");
  format_ = parse_line_format(options.string("format"));
  fsync_ = options.boolean("fsync");
  return {};
}

}  // namespace switchyard::core

namespace switchyard::core {

FileSink::~FileSink() { stop(); }

Status FileSink::start() { return file_.open(path_); }

Result<std::optional<Rendering>> FileSink::render(const Event& event) {
  std::string line;
  append_json_line(event, format_, false, line);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return std::optional<Rendering>(Rendering{.method = "APPEND", .url = path_, .body = std::move(line)});
}

void FileSink::deliver(EventPtr event, DeliveryCallback done) {
  bool reopened = false;
  const auto file = file_.descriptor(reopened);
  if (!file) return done(file.error());
  if (reopened) context_->logger().info(path_ + " was moved or removed: writing to a new file at that path");
  const int fd = *file;
  // The received payload is written from the event, not copied into the line first.
  const LinePieces line = json_line_pieces(*event, format_, false, line_);
  iovec pieces[] = {{const_cast<char*>(line.head.data()), line.head.size()},
                    {const_cast<char*>(line.payload.data()), line.payload.size()},
                    {const_cast<char*>(line.tail.data()), line.tail.size()}};
  // O_APPEND makes each write land at the end, whole, even with other writers.
  iovec* next = pieces;
  int left = 3;
  while (left > 0) {
    const ssize_t n = ::writev(fd, next, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return done(retryable("writing " + path_ + " failed: " + std::strerror(errno)));
    }
    if (n == 0) return done(retryable("writing " + path_ + " failed: nothing was written"));
    // A short write (a signal, a full disk): on from where it stopped.
    auto written = static_cast<std::size_t>(n);
    for (; left > 0 && written >= next->iov_len; ++next, --left) written -= next->iov_len;
    if (left > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + written;
      next->iov_len -= written;
    }
  }
  if (fsync_ && ::fsync(fd) != 0) {
    return done(retryable("fsync " + path_ + " failed: " + std::strerror(errno)));
  }
  done({});
}

void FileSink::stop() { file_.close(); }

}  // namespace switchyard::core
