// `sanitize` transform: escapes HTML in chosen fields and drops dangerous URLs.
#include "sanitize.hpp"

#include <algorithm>
#include <cctype>

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

namespace switchyard::core {

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

bool has_blocked_scheme(std::string_view text, const std::vector<std::string>& schemes) {
  // https://url.spec.whatwg.org/#url-parsing: leading C0 controls and spaces are stripped,
  // ASCII tab and newlines removed anywhere, scheme letters are case-insensitive.
  std::string prefix;
  std::size_t i = 0;
  while (i < text.size() && static_cast<unsigned char>(text[i]) <= 0x20) ++i;
  for (; i < text.size() && prefix.size() < 16; ++i) {
    const char c = text[i];
    if (c == '\t' || c == '\n' || c == '\r') continue;
    prefix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == ':') break;
  }
  for (const auto& scheme : schemes) {
    if (prefix == scheme) return true;
  }
  return false;
}

void SanitizeTransform::clean(rapidjson::Value& value, Event::Allocator& alloc) {
  if (value.IsString()) {
    const std::string_view text(value.GetString(), value.GetStringLength());
    if (has_blocked_scheme(text, schemes_)) {
      value.SetString("", alloc);
      ++blocked_;
      return;
    }
    if (escape_ && text.find_first_of("&<>\"'") != std::string_view::npos) {
      const std::string escaped = escape_html(text);
      value.SetString(escaped.data(), static_cast<rapidjson::SizeType>(escaped.size()), alloc);
    }
  } else if (value.IsObject()) {
    for (auto& m : value.GetObject()) clean(m.value, alloc);
  } else if (value.IsArray()) {
    for (auto& item : value.GetArray()) clean(item, alloc);
  }
}

void SanitizeTransform::clean_path(rapidjson::Value& value, std::size_t segment,
                                   const std::vector<std::string>& path, Event::Allocator& alloc) {
  if (segment == path.size()) return clean(value, alloc);
  const std::string& key = path[segment];
  if (key == "*") {
    if (value.IsObject()) {
      for (auto& m : value.GetObject()) clean_path(m.value, segment + 1, path, alloc);
    } else if (value.IsArray()) {
      for (auto& item : value.GetArray()) clean_path(item, segment + 1, path, alloc);
    }
    return;
  }
  if (value.IsObject()) {
    auto it = value.FindMember(rapidjson::StringRef(key.data(), key.size()));
    if (it != value.MemberEnd()) clean_path(it->value, segment + 1, path, alloc);
  }
}

Result<Verdict> SanitizeTransform::apply(Event& event) {
  auto& alloc = event.allocator();
  const std::uint64_t blocked_before = blocked_;
  if (paths_.empty()) {
    clean(event.data, alloc);
  } else {
    for (const auto& path : paths_) clean_path(event.data, 0, path, alloc);
  }
  if (blocked_ != blocked_before && context_->logger().enabled(LogLevel::debug)) {
    context_->logger().debug("event " + event.id + ": blanked " +
                             std::to_string(blocked_ - blocked_before) + " URL(s) with a blocked scheme");
  }
  return Verdict::keep;
}

}  // namespace switchyard::core
