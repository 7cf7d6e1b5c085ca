#include "common/event_path.hpp"

#include <algorithm>

namespace switchyard::event_path {

Result<Path> Path::parse(std::string_view text) {
  Path path;
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto dot = text.find('.', start);
    parts.emplace_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() < 2 || (parts[0] != "meta" && parts[0] != "payload") ||
      std::any_of(parts.begin() + 1, parts.end(), [](const std::string& p) { return p.empty(); })) {
    return invalid_config("expected meta.<name> or payload.<name>[.<name>...], not '" + std::string(text) + "'");
  }
  path.meta_ = parts[0] == "meta";
  path.keys_.assign(std::make_move_iterator(parts.begin() + 1), std::make_move_iterator(parts.end()));
  return path;
}

Status Path::set(Event& event, rapidjson::Value& value) const {
  Event::Allocator& alloc = event.allocator();
  rapidjson::Value* node = meta_ ? &event.meta : &event.data;
  if (node->IsNull()) node->SetObject();
  if (!node->IsObject()) return permanent(meta_ ? "meta is not an object" : "the payload is not an object");
  for (std::size_t i = 0; i + 1 < keys_.size(); ++i) {
    const std::string& key = keys_[i];
    auto it = node->FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == node->MemberEnd()) {
      node->AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc),
                      rapidjson::Value(rapidjson::kObjectType), alloc);
      node = &(node->MemberEnd() - 1)->value;
    } else {
      if (!it->value.IsObject()) it->value.SetObject();
      node = &it->value;
    }
  }
  const std::string& last = keys_.back();
  auto it = node->FindMember(rapidjson::StringRef(last.data(), last.size()));
  if (it != node->MemberEnd()) {
    it->value = value;  // moves
  } else {
    node->AddMember(rapidjson::Value(last.data(), static_cast<rapidjson::SizeType>(last.size()), alloc), value, alloc);
  }
  return {};
}

}  // namespace switchyard::event_path
