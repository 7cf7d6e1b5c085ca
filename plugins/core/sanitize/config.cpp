// `sanitize`: options and declaration.
#include <algorithm>

#include "sanitize/sanitize.hpp"

namespace switchyard::core {
namespace {

constexpr OptionSpec kOptions[] = {
    {.name = "paths", .type = OptionType::string_list, .default_value = "[]",
     .description = "Payload paths to clean (dotted; * matches every member or item). Empty: every string in the payload.",
     .example = "[pull_request.title, commits.*.message]"},
    {.name = "escape_html", .type = OptionType::boolean, .default_value = "true",
     .description = "Escape & < > \" ' as HTML entities."},
    {.name = "block_schemes", .type = OptionType::string_list,
     .default_value = R"(["javascript:", "data:", "vbscript:"])",
     .description = "URL schemes whose values are replaced by an empty string."},
};

}  // namespace

const ComponentDecl kSanitizeDecl{
    .kind = ComponentKind::transform,
    .type = "sanitize",
    .summary = "Escapes HTML in payload strings and blanks javascript:/data: URLs.",
    .options = kOptions,
    .create = &make_component<SanitizeTransform>,
};

Status SanitizeTransform::configure(const Options& options, Context& context) {
  context_ = &context;
  escape_ = options.boolean("escape_html", true);
  for (const auto& path : options.strings("paths")) {
    std::vector<std::string> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
      const std::size_t dot = path.find('.', start);
      const std::string segment = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (segment.empty()) return invalid_config("paths: empty segment in '" + path + "'");
      segments.push_back(segment);
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    paths_.push_back(std::move(segments));
  }
  for (auto scheme : options.strings("block_schemes")) {
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme.empty() || scheme.back() != ':') {
      return invalid_config("block_schemes: '" + scheme + "' must end with ':'");
    }
    schemes_.push_back(std::move(scheme));
  }
  return {};
}

}  // namespace switchyard::core
