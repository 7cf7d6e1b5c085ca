// `dedup`: drops events whose key was seen within the window.
#include "dedup.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "key", .type = OptionType::text_template, .required = true,
     .description = "What makes two events the same.", .example = "${{ payload.workflow_run.id }}"},
    {.name = "window", .type = OptionType::duration, .default_value = "24h",
     .description = "How long a key is remembered."},
};

}  // namespace

const ComponentDecl kDedupDecl{
    .kind = ComponentKind::transform,
    .type = "dedup",
    .summary = "Drops events whose key was seen within the window.",
    .options = kOptions,
    .create = &make_component<DedupTransform>,
};

Status DedupTransform::configure(const Options& options, Context& context) {
  context_ = &context;
  key_ = options.template_of("key");
  window_ = options.duration("window");
  if (!key_) return invalid_config("key: no compiled template (templates need the engine)");
  if (window_.count() <= 0) return invalid_config("window: must be positive");
  return {};
}

Result<Verdict> DedupTransform::apply(Event& event) {
  scratch_.assign("k:");
  key_->render_string(event, scratch_);
  // Transforms run one event at a time: the look and the remembering need no lock between
  // them. A key an earlier version stored as an entry (get()) counts until its window ends.
  auto& state = context_->state();
  if (state.remembers(scratch_) || state.get(scratch_)) {
    if (context_->logger().enabled(LogLevel::debug)) {
      context_->logger().debug("event " + event.id + " dropped as a duplicate");
    }
    return Verdict::drop;
  }
  if (Status s = state.remember(scratch_, window_); !s) return s.error();
  return Verdict::keep;
}

}  // namespace switchyard::core
