#include "stamp.hpp"

namespace stamp {

using namespace switchyard;

Status StampTransform::configure(const Options& options, Context& context) {
  field_ = options.string("field");
  value_ = options.string("value");
  overwrite_ = options.boolean("overwrite");
  logger_ = &context.logger();
  if (field_.empty()) return invalid_config("field: must not be empty");
  return {};
}

Result<Verdict> StampTransform::apply(Event& event) {
  if (!event.data.IsObject()) {
    return permanent("payload is not a JSON object; cannot set '" + field_ + "'");
  }
  auto& alloc = event.allocator();
  rapidjson::Value value(value_.c_str(), static_cast<rapidjson::SizeType>(value_.size()), alloc);
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
    {.name = "value", .type = OptionType::string, .required = true,
     .description = "Value to set it to.", .example = "production"},
    {.name = "overwrite", .type = OptionType::boolean, .default_value = "true",
     .description = "Replace the field when the payload already has it."},
};
}  // namespace

const ComponentDecl kStampDecl{
    .kind = ComponentKind::transform,
    .type = "example.stamp",
    .summary = "SDK example: sets a payload field to a fixed value.",
    .options = kOptions,
    .create = &make_component<StampTransform>,
};

namespace {
const ComponentDecl kComponents[] = {kStampDecl};
}  // namespace

}  // namespace stamp

SWITCHYARD_PLUGIN("example", "1.0.0", stamp::kComponents)
