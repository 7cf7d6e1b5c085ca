#include "map/map.hpp"

#include "common/json_path.hpp"

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
