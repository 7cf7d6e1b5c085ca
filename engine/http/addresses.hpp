#pragma once
// Listen addresses ("0.0.0.0:8080", "[::1]:9090") and URLs, parsed strictly.

#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/result.hpp"

namespace switchyard::http {

struct Endpoint {
  std::string host;  ///< Without brackets for IPv6.
  std::uint16_t port = 0;
};

/// "host:port", "[v6]:port" or ":port" (all interfaces). Port 0 asks for any free port.
Result<Endpoint> parse_endpoint(std::string_view text);
/// The inverse of parse_endpoint: brackets IPv6 literals.
std::string format_endpoint(std::string_view host, std::uint16_t port);

struct Url {
  bool https = false;
  std::string host;  ///< Without brackets for IPv6.
  std::uint16_t port = 0;
  std::string target;  ///< Path and query, at least "/".
  /// "host" or "host:port" when the port is not the scheme's default (the Host header).
  std::string authority() const;
};

/// Parses an http:// or https:// URL. User info and fragments are refused.
Result<Url> parse_url(std::string_view text);

/// Whether `host` matches a NO_PROXY list ("example.com,.internal,10.0.0.1,*").
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);

}  // namespace switchyard::http
