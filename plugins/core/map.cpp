// `map` transform: builds a new payload, sets fields, changes the type or subject.
#include "map.hpp"

#include "json_path.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "payload", .type = OptionType::json_template,
     .description = "Replace the payload with this (a map or list of templates gives JSON).",
     .example = "{build: '${{ payload.workflow_run.id }}', ok: '${{ payload.workflow_run.conclusion == ''success'' }}'}"},
    {.name = "set", .type = OptionType::json_template,
     .description = "Map of dotted payload path to template; each is evaluated on the incoming event, then set.",
     .example = "{repo: '${{ payload.repository.full_name }}', meta.seen_at: '${{ now() }}'}"},
    {.name = "drop", .type = OptionType::string_list, .default_value = "[]",
     .description = "Dotted payload paths to remove (after payload and set).", .example = "[repository.owner, sender]"},
    {.name = "event_type", .type = OptionType::text_template,
     .description = "New CloudEvents type.", .example = "ci.build.${{ payload.workflow_run.conclusion }}"},
    {.name = "subject", .type = OptionType::text_template,
     .description = "New CloudEvents subject.", .example = "${{ payload.workflow_run.head_branch }}"},
};

}  // namespace

const ComponentDecl kMapDecl{
    .kind = ComponentKind::transform,
    .type = "map",
    .summary = "Builds or reshapes the payload from templates; drops fields; sets type and subject.",
    .options = kOptions,
    .create = &make_component<MapTransform>,
};

Status MapTransform::configure(const Options& options, Context&) {
  payload_ = options.template_of("payload");
  set_ = options.template_of("set");
  type_ = options.template_of("event_type");
  subject_ = options.template_of("subject");
  if (options.has("set")) {
    const auto& set = options.json("set");
    if (!set.IsObject()) return invalid_config("set: expected a map of path to template");
    for (const auto& m : set.GetObject()) {
      auto path = split_path(std::string_view(m.name.GetString(), m.name.GetStringLength()));
      if (path.empty()) return invalid_config(std::string("set: bad path '") + m.name.GetString() + "'");
      set_paths_.push_back(std::move(path));
    }
  }
  for (const auto& d : options.strings("drop")) {
    auto path = split_path(d);
    if (path.empty()) return invalid_config("drop: bad path '" + d + "'");
    drop_.push_back(std::move(path));
  }
  if (!payload_ && !set_ && drop_.empty() && !type_ && !subject_ &&
      (options.has("payload") || options.has("set") || options.has("event_type") || options.has("subject"))) {
    return invalid_config("templates need the engine");
  }
  return {};
}

}  // namespace switchyard::core

namespace switchyard::core {

Result<Verdict> MapTransform::apply(Event& event) {
  auto& alloc = event.allocator();
  // Everything is evaluated against the incoming event before anything changes.
  rapidjson::Value payload;
  rapidjson::Value set;
  std::string type;
  std::string subject;
  if (payload_) payload_->render(event, payload, alloc);
  if (set_) set_->render(event, set, alloc);
  if (type_) type_->render_string(event, type);
  if (subject_) subject_->render_string(event, subject);

  if (payload_) static_cast<rapidjson::Value&>(event.data) = payload;
  if (set_ && set.IsObject()) {
    std::size_t i = 0;
    for (auto& m : set.GetObject()) {
      if (i < set_paths_.size()) set_path(event.data, set_paths_[i++], m.value, alloc);
    }
  }
  for (const auto& path : drop_) erase_path(event.data, path);
  if (type_) {
    if (type.empty()) return permanent("event_type rendered empty");
    event.type = std::move(type);
  }
  if (subject_) event.subject = std::move(subject);
  return Verdict::keep;
}

}  // namespace switchyard::core
