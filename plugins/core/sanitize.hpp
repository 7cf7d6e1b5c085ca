#pragma once
// `sanitize` transform: makes payload strings safe to show in a browser — escapes HTML in
// every string (or only under the listed paths) and blanks URLs whose scheme can run code
// (javascript:, data:, vbscript:).

#include <string>
#include <string_view>
#include <vector>

#include "switchyard/component.hpp"

namespace switchyard::core {

extern const ComponentDecl kSanitizeDecl;

/// Escapes & < > " ' as HTML entities.
std::string escape_html(std::string_view text);

/// Whether `text` is a URL with one of `schemes` ("javascript:"...), the way a browser reads
/// it: leading spaces/control characters skipped, tabs and newlines inside ignored,
/// letters compared case-insensitively.
bool has_blocked_scheme(std::string_view text, const std::vector<std::string>& schemes);

class SanitizeTransform final : public Transform {
 public:
  Status configure(const Options& options, Context& context) override;
  Result<Verdict> apply(Event& event) override;

 private:
  void clean(rapidjson::Value& value, Event::Allocator& alloc);
  void clean_path(rapidjson::Value& value, std::size_t segment, const std::vector<std::string>& path,
                  Event::Allocator& alloc);

  std::vector<std::vector<std::string>> paths_;  // split on '.', "*" matches every member/item
  std::vector<std::string> schemes_;
  bool escape_ = true;
  std::uint64_t blocked_ = 0;
  Context* context_ = nullptr;
};

}  // namespace switchyard::core
