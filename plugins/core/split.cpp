// `split` transform: one event per item of an array.
#include "split.hpp"

#include <algorithm>
#include <string>

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "items", .type = OptionType::text_template, .required = true,
     .description = "The array to split (exactly one ${{ }}): one event per item, in order. Null, missing or "
                    "empty: the event is dropped; any other non-array: the event fails.",
     .example = "${{ payload.commits }}"},
    {.name = "with", .type = OptionType::json_template,
     .description = "A map of templates evaluated on the incoming event; its members are added to each new "
                    "event's payload, next to item, index and count.",
     .example = "{repo: '${{ payload.repository.full_name }}', pusher: '${{ payload.pusher.name }}'}"},
    {.name = "id", .type = OptionType::text_template,
     .description = "Each new event's id, evaluated on the new event (its payload is {item, index, count, ...with}; "
                    "event.id is still the incoming event's). Default: <incoming id>-<index>, so a redelivery "
                    "makes the same ids.",
     .example = "${{ event.id }}-${{ payload.item.id }}"},
    {.name = "max_items", .type = OptionType::integer, .default_value = "1000",
     .description = "More items than this fail the event (nothing is split): a bound on what one event can become."},
};

const char* kind_of(const rapidjson::Value& v) {
  if (v.IsObject()) return "an object";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  return "null";
}

}  // namespace

const ComponentDecl kSplitDecl{
    .kind = ComponentKind::transform,
    .type = "split",
    .summary = "One event per item of an array (each commit of a push); each goes through the rest of the pipeline.",
    .options = kOptions,
    .create = &make_component<SplitEvents>,
};

Status SplitEvents::configure(const Options& options, Context&) {
  items_ = options.template_of("items");
  with_ = options.template_of("with");
  id_ = options.template_of("id");
  if (!items_) return invalid_config("items: expected a template giving an array, e.g. ${{ payload.commits }}");
  const std::int64_t max = options.integer("max_items");
  if (max < 1) return invalid_config("max_items: expected 1 or more");
  max_items_ = static_cast<std::size_t>(max);
  return {};
}

Result<Events> SplitEvents::split(Event& event) {
  rapidjson::Document scratch;
  rapidjson::Value items;
  items_->render(event, items, scratch.GetAllocator());
  Events out;
  if (items.IsNull()) return out;
  if (!items.IsArray()) return permanent(std::string("items: expected an array, got ") + kind_of(items));
  const std::size_t count = items.Size();
  if (count > max_items_) {
    return permanent("items: " + std::to_string(count) + " items, more than max_items (" +
                     std::to_string(max_items_) + ")");
  }
  rapidjson::Value with;
  if (with_) with_->render(event, with, scratch.GetAllocator());
  if (with_ && !with.IsObject()) return permanent("with: expected a map of templates");
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto made = std::make_unique<Event>();
    auto& alloc = made->allocator();
    made->id = event.id;
    made->source = event.source;
    made->type = event.type;
    made->subject = event.subject;
    made->time = event.time;
    made->meta.CopyFrom(event.meta, alloc);
    made->data.SetObject();
    rapidjson::Value item;
    item.CopyFrom(items[static_cast<rapidjson::SizeType>(i)], alloc);
    made->data.AddMember("item", item, alloc);
    made->data.AddMember("index", static_cast<std::uint64_t>(i), alloc);
    made->data.AddMember("count", static_cast<std::uint64_t>(count), alloc);
    if (with.IsObject()) {
      for (const auto& m : with.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (name == "item" || name == "index" || name == "count") continue;  // ours win
        rapidjson::Value key(m.name, alloc);
        rapidjson::Value value(m.value, alloc);
        made->data.AddMember(key, value, alloc);
      }
    }
    if (id_) {
      std::string id = id_->render_string(*made);
      if (id.empty()) return permanent("id rendered empty for item " + std::to_string(i));
      made->id = std::move(id);
    } else {
      made->id += "-" + std::to_string(i);
    }
    out.push_back(std::move(made));
  }
  return out;
}

}  // namespace switchyard::core
