// `stdout`: options and declaration.
#include "stdout/stdout_sink.hpp"

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
