#include "stamp.hpp"

namespace stamp {

using namespace switchyard;

Status StampTransform::configure(const Options& options, Context& context) {
  field_ = options.string("field");
  value_ = options.template_of("value");
  overwrite_ = options.boolean("overwrite");
  logger_ = &context.logger();
  if (field_.empty()) return invalid_config("field: must not be empty");
  if (!value_) return invalid_config("value: no compiled template (in tests, link Switchyard::testing)");
  return {};
}

Result<Verdict> StampTransform::apply(Event& event) {
  if (!event.data.IsObject()) {
    return permanent("payload is not a JSON object; cannot set '" + field_ + "'");
  }
  auto& alloc = event.allocator();
  const std::string text = value_->render_string(event);
  rapidjson::Value value(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), alloc);
  auto it = event.data.FindMember(field_.c_str());
  if (it != event.data.MemberEnd()) {
    if (!overwrite_) return Verdict::keep;
    it->value = value;
  } else {
    event.data.AddMember(rapidjson::Value(field_.c_str(), alloc), value, alloc);
  }
  if (logger_->enabled(LogLevel::debug)) logger_->debug("stamped event " + event.id);
  return Verdict::keep;
}

namespace {
// Options, declared once: validation, defaults, `plugins describe` and docs read this.
constexpr OptionSpec kOptions[] = {
    {.name = "field", .type = OptionType::string, .required = true,
     .description = "Payload field to set.", .example = "environment"},
    {.name = "value", .type = OptionType::text_template, .required = true,
     .description = "Value to set it to: text, or a template evaluated per event.",
     .example = "production"},
    {.name = "overwrite", .type = OptionType::boolean, .default_value = "true",
     .description = "Replace the field when the payload already has it."},
};
}  // namespace

const ComponentDecl kStampDecl{
    .kind = ComponentKind::transform,
    .type = "example.stamp",
    .summary = "SDK example: sets a payload field to a value (a template).",
    .options = kOptions,
    .create = &make_component<StampTransform>,
};

namespace {
const ComponentDecl kComponents[] = {kStampDecl};
}  // namespace

}  // namespace stamp

SWITCHYARD_PLUGIN("example", "1.0.0", stamp::kComponents)
