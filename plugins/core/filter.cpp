// `filter` transform: keeps the events whose condition holds.
#include "filter.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "if", .type = OptionType::condition, .required = true,
     .description = "Keep the event when this holds (GitHub truthiness); drop it otherwise.",
     .example = "${{ payload.action == 'completed' && payload.workflow_run.conclusion == 'failure' }}"},
};

}  // namespace

const ComponentDecl kFilterDecl{
    .kind = ComponentKind::transform,
    .type = "filter",
    .summary = "Keeps events for which the if: condition holds.",
    .options = kOptions,
    .create = &make_component<FilterTransform>,
};

Status FilterTransform::configure(const Options& options, Context&) {
  condition_ = options.template_of("if");
  if (!condition_) return invalid_config("if: no compiled condition (templates need the engine)");
  return {};
}

}  // namespace switchyard::core
