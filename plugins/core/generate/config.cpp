// `generate`: options and declaration.
#include "generate/generate.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "payload", .type = OptionType::json_template, .default_value = R"({"message": "hello from switchyard"})",
     .description = "The JSON payload of every event.", .example = R"({action: completed, workflow_run: {id: 1}})"},
    {.name = "event_type", .type = OptionType::string, .default_value = "switchyard.generated",
     .description = "CloudEvents type of the events."},
    {.name = "event_source", .type = OptionType::string, .default_value = "switchyard://generate",
     .description = "CloudEvents source of the events."},
    {.name = "event_subject", .type = OptionType::string, .description = "CloudEvents subject, if any."},
    {.name = "interval", .type = OptionType::duration, .default_value = "1s",
     .description = "Time between events; 0 emits as fast as the pipeline accepts them."},
    {.name = "count", .type = OptionType::integer, .default_value = "0",
     .description = "Stop after this many events; 0 never stops."},
};

}  // namespace

const ComponentDecl kGenerateDecl{
    .kind = ComponentKind::source,
    .type = "generate",
    .summary = "Emits a configured JSON event every interval, or count events as fast as possible.",
    .options = kOptions,
    .create = &make_component<GenerateSource>,
};

Status GenerateSource::configure(const Options& options, Context& context) {
  context_ = &context;
  payload_.CopyFrom(options.json("payload"), payload_.GetAllocator());
  type_ = options.string("event_type");
  source_ = options.string("event_source");
  subject_ = options.string("event_subject");
  interval_ = options.duration("interval");
  const std::int64_t count = options.integer("count");
  if (count < 0) return invalid_config("count: must be 0 (unlimited) or more");
  count_ = static_cast<std::uint64_t>(count);
  if (type_.empty()) return invalid_config("event_type: must not be empty");
  return {};
}

}  // namespace switchyard::core
