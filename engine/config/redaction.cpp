#include "config/redaction.hpp"

#include <algorithm>
#include <charconv>

namespace switchyard::config {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

bool is_url_option(const OptionSpec& spec) {
  return spec.name == std::string_view("url") &&
         (spec.type == OptionType::string || spec.type == OptionType::text_template);
}

// The value at `relative` ("url", "headers.Authorization", "to[1]") inside `root`, or null.
rapidjson::Value* find(rapidjson::Value& root, std::string_view relative) {
  rapidjson::Value* at = &root;
  while (!relative.empty() && at) {
    if (relative.front() == '[') {
      const auto close = relative.find(']');
      if (close == std::string_view::npos || !at->IsArray()) return nullptr;
      std::size_t index = 0;
      const auto digits = relative.substr(1, close - 1);
      if (std::from_chars(digits.data(), digits.data() + digits.size(), index).ec != std::errc() ||
          index >= at->Size()) {
        return nullptr;
      }
      at = &(*at)[static_cast<rapidjson::SizeType>(index)];
      relative.remove_prefix(close + 1);
      if (relative.starts_with(".")) relative.remove_prefix(1);
      continue;
    }
    const auto end = relative.find_first_of(".[");
    const std::string_view key = relative.substr(0, end);
    if (!at->IsObject()) return nullptr;
    auto it = at->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
    at = it == at->MemberEnd() ? nullptr : &it->value;
    relative.remove_prefix(end == std::string_view::npos ? relative.size() : end);
    if (relative.starts_with(".")) relative.remove_prefix(1);
  }
  return at;
}

}  // namespace

bool url_has_credentials(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  const auto authority = url.substr(scheme + 3, url.find_first_of("/?#", scheme + 3) - (scheme + 3));
  return authority.find('@') != std::string_view::npos;
}

std::string redact_url(std::string_view url) {
  std::string out;
  const auto scheme = url.find("://");
  std::size_t start = 0;
  if (scheme != std::string_view::npos) {
    const auto authority_start = scheme + 3;
    const auto authority_end = std::min(url.find_first_of("/?#", authority_start), url.size());
    const auto at = url.substr(authority_start, authority_end - authority_start).rfind('@');
    out.append(url.substr(0, authority_start));
    if (at != std::string_view::npos) {
      out.append(kRedacted).append("@");
      start = authority_start + at + 1;
    } else {
      start = authority_start;
    }
  }
  const auto query = url.find('?', start);
  if (query == std::string_view::npos) return out.append(url.substr(start));
  const auto fragment = std::min(url.find('#', query), url.size());
  out.append(url.substr(start, query + 1 - start));
  std::string_view params = url.substr(query + 1, fragment - query - 1);
  bool first = true;
  while (true) {
    const auto amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    const auto eq = pair.find('=');
    out.append(pair.substr(0, eq));
    if (eq != std::string_view::npos) out.append("=").append(kRedacted);
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  return out.append(url.substr(fragment));
}

void redact_component(const JsonFile& file, const std::string& path, std::span<const OptionSpec> schema,
                      rapidjson::Value& redacted, rapidjson::Document::AllocatorType& alloc) {
  // Interpolated values as written (declared secrets are "<redacted>" already, and stay so).
  const std::string prefix = path + ".";
  for (auto it = file.interpolated.lower_bound(prefix); it != file.interpolated.end() && it->first.starts_with(prefix);
       ++it) {
    rapidjson::Value* value = find(redacted, std::string_view(it->first).substr(prefix.size()));
    if (!value || (value->IsString() && std::string_view(value->GetString(), value->GetStringLength()) == kRedacted)) {
      continue;
    }
    value->SetString(it->second.written.data(), static_cast<rapidjson::SizeType>(it->second.written.size()), alloc);
  }
  if (!redacted.IsObject()) return;
  for (const auto& spec : schema) {
    if (spec.secret || !is_url_option(spec)) continue;
    auto m = redacted.FindMember(spec.name);
    if (m == redacted.MemberEnd() || !m->value.IsString()) continue;
    const std::string shown = redact_url(std::string_view(m->value.GetString(), m->value.GetStringLength()));
    m->value.SetString(shown.data(), static_cast<rapidjson::SizeType>(shown.size()), alloc);
  }
}

}  // namespace switchyard::config
