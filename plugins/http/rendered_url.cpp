#include "rendered_url.hpp"

#include <algorithm>

namespace switchyard::http_plugin {
namespace {

// Whether a path segment is "." or "..", also when percent-encoded ("%2e%2E"): a server
// that resolves dot segments would let an event climb out of the path the URL pins.
bool dot_segment(std::string_view segment) {
  int dots = 0;
  for (std::size_t i = 0; i < segment.size();) {
    if (segment[i] == '.') {
      ++i;
    } else if (segment.substr(i, 3) == "%2e" || segment.substr(i, 3) == "%2E") {
      i += 3;
    } else {
      return false;
    }
    ++dots;
  }
  return dots == 1 || dots == 2;
}

}  // namespace

Status check_rendered_url(const std::string& url, std::size_t pinned) {
  if (std::any_of(url.begin(), url.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '\\';
      })) {
    return permanent("url: the rendered URL holds a space, control character or backslash; "
                     "pass event values through urlencode()");
  }
  const std::string_view rest = std::string_view(url).substr(std::min(pinned, url.size()));
  const std::string_view path = rest.substr(0, rest.find_first_of("?#"));
  for (std::size_t start = 0; start <= path.size();) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (dot_segment(path.substr(start, end - start))) {
      return permanent("url: the rendered path holds a '.' or '..' segment; pass event values "
                       "through urlencode()");
    }
    start = end + 1;
  }
  return {};
}

std::size_t authority_end(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return 0;
  return std::min(url.find_first_of("/?#", scheme + 3), url.size());
}

}  // namespace switchyard::http_plugin
