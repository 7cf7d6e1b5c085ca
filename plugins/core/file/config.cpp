// `file`: options and declaration.
#include "file/file_sink.hpp"

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
