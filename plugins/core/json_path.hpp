#pragma once
// Dotted payload paths ("workflow_run.head_commit.id") for transforms that set or drop fields.

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

namespace switchyard::core {

/// Splits "a.b.c"; empty when the path has an empty segment.
inline std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = path.find('.', start);
    const std::string_view segment = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (segment.empty()) return {};
    out.emplace_back(segment);
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

/// Sets root[path] = value, creating (or replacing non-object) intermediate objects.
inline void set_path(rapidjson::Value& root, const std::vector<std::string>& path,
                     rapidjson::Value& value, rapidjson::MemoryPoolAllocator<>& alloc) {
  rapidjson::Value* node = &root;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!node->IsObject()) node->SetObject();
    const auto& key = path[i];
    auto it = node->FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it == node->MemberEnd()) {
      node->AddMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc),
                      rapidjson::Value(rapidjson::kObjectType), alloc);
      it = node->MemberEnd() - 1;
    }
    node = &it->value;
  }
  *node = value;  // moves
}

/// Removes root[path] if present.
inline void erase_path(rapidjson::Value& root, const std::vector<std::string>& path) {
  rapidjson::Value* node = &root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    if (!node->IsObject()) return;
    auto it = node->FindMember(rapidjson::StringRef(path[i].data(), path[i].size()));
    if (it == node->MemberEnd()) return;
    node = &it->value;
  }
  // EraseMember keeps the order of the remaining members (RemoveMember would not).
  if (node->IsObject()) node->EraseMember(rapidjson::StringRef(path.back().data(), path.back().size()));
}

}  // namespace switchyard::core
