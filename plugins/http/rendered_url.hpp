#pragma once
// What an event may put into a URL a template renders (the http sink, http.request).

#include <cstddef>
#include <string>
#include <string_view>

#include "switchyard/result.hpp"

namespace switchyard::http_plugin {

/// Checks a rendered URL past its first `pinned` bytes (what fixes scheme and host): no
/// control characters or spaces, no backslash (some servers read it as '/'), and no "." or
/// ".." path segment, also percent-encoded: a server that resolves them would let an event
/// climb out of the path the URL was written for. A permanent error says why.
Status check_rendered_url(const std::string& url, std::size_t pinned);

/// Where `url`'s authority ends (its first '/', '?' or '#' after "://", else its end); 0
/// without a scheme.
std::size_t authority_end(std::string_view url);

}  // namespace switchyard::http_plugin
