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

// The value at `relative` ("url", "headers.Authorization", "to[1]") inside `at`, or null.
// A key may itself hold '.' or '[' ("body.service.token" may be the key "service.token" of
// body): every member whose name the path continues with is tried.
rapidjson::Value* find(rapidjson::Value& at, std::string_view relative) {
  if (relative.empty()) return &at;
  if (relative.front() == '[' && at.IsArray()) {
    const auto close = relative.find(']');
    std::size_t index = 0;
    const auto digits = relative.substr(1, close == std::string_view::npos ? 0 : close - 1);
    if (close != std::string_view::npos &&
        std::from_chars(digits.data(), digits.data() + digits.size(), index).ec == std::errc() && index < at.Size()) {
      std::string_view rest = relative.substr(close + 1);
      if (rest.starts_with(".")) rest.remove_prefix(1);
      return find(at[static_cast<rapidjson::SizeType>(index)], rest);
    }
    return nullptr;
  }
  if (!at.IsObject()) return nullptr;
  for (auto& m : at.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (!relative.starts_with(name)) continue;
    std::string_view rest = relative.substr(name.size());
    if (!rest.empty() && rest.front() != '.' && rest.front() != '[') continue;
    if (rest.starts_with(".")) rest.remove_prefix(1);
    if (auto* found = find(m.value, rest)) return found;
  }
  return nullptr;
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
    const std::string_view relative = std::string_view(it->first).substr(prefix.size());
    rapidjson::Value* value = find(redacted, relative);
    if (!value && redacted.IsObject()) {
      // Not where the path says: fail closed, the whole option it is in shown as redacted.
      for (auto& m : redacted.GetObject()) {
        const std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (relative.starts_with(name) && (relative.size() == name.size() || relative[name.size()] == '.' ||
                                           relative[name.size()] == '[')) {
          m.value.SetString(rapidjson::StringRef(kRedacted.data(), kRedacted.size()));
        }
      }
      continue;
    }
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
