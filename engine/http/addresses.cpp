#include "http/addresses.hpp"

#include <charconv>

namespace switchyard::http {
namespace {

// `whole`: what the error may show (an address, or a URL's scheme and authority only: the
// path and query of a webhook URL often hold its token, and errors are logged and kept with
// dead letters).
Result<std::uint16_t> parse_port(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    return invalid_config("invalid port in '" + std::string(whole) + "'");
  }
  return static_cast<std::uint16_t>(value);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iends_with(std::string_view s, std::string_view suffix) {
  if (suffix.size() > s.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    if (lower(s[s.size() - suffix.size() + i]) != lower(suffix[i])) return false;
  }
  return true;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid_config("expected [address]:port, got '" + std::string(text) + "'");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return invalid_config("expected address:port, got '" + std::string(text) + "'");
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return invalid_config("IPv6 addresses need brackets: '[" + out.host + "]:port'");
    }
  }
  if (out.host.empty()) out.host = "0.0.0.0";
  if (out.host == "localhost") out.host = "127.0.0.1";
  auto p = parse_port(port, text);
  if (!p) return p.error();
  out.port = *p;
  return out;
}

std::string format_endpoint(std::string_view host, std::uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

std::string Url::authority() const {
  const bool default_port = (https && port == 443) || (!https && port == 80);
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? h : h + ":" + std::to_string(port);
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest;
  auto starts = [&](std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (lower(text[i]) != prefix[i]) return false;
    }
    return true;
  };
  if (starts("https://")) {
    url.https = true;
    rest = text.substr(8);
  } else if (starts("http://")) {
    rest = text.substr(7);
  } else {
    return invalid_config("URL must start with http:// or https://");  // the rest unshown: it may be a token
  }
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  const std::string_view shown = text.substr(0, text.size() - rest.size() + authority.size());  // scheme://authority
  if (authority.find('@') != std::string_view::npos) {
    return invalid_config("credentials in URLs are not supported; use headers");
  }
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  url.port = url.https ? 443 : 80;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid_config("unclosed '[' in URL");
    url.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return invalid_config("invalid URL authority");
      auto p = parse_port(authority.substr(close + 2), shown);
      if (!p) return p.error();
      url.port = *p;
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      auto p = parse_port(authority.substr(colon + 1), shown);
      if (!p) return p.error();
      url.port = *p;
    }
  }
  if (url.host.empty()) return invalid_config("URL has no host");
  for (char c : url.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '\\') {
      return invalid_config("invalid character in URL host");
    }
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalid_config("URL contains a space or control character (percent-encode it)");
    }
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target.insert(0, "/");
  return url;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
  std::size_t start = 0;
  while (start <= no_proxy.size()) {
    auto end = no_proxy.find(',', start);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string_view entry = no_proxy.substr(start, end - start);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (const auto colon = entry.rfind(':');
        colon != std::string_view::npos && entry.find(':') == colon) {
      entry = entry.substr(0, colon);  // "host:port": the port is ignored
    }
    if (entry == "*") return true;
    if (!entry.empty()) {
      if (entry.front() == '.') entry.remove_prefix(1);
      if (host.size() == entry.size() ? iends_with(host, entry)
                                      : (iends_with(host, entry) && host.size() > entry.size() &&
                                         host[host.size() - entry.size() - 1] == '.')) {
        return true;
      }
    }
    start = end + 1;
  }
  return false;
}

}  // namespace switchyard::http
