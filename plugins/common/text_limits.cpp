#include "common/text_limits.hpp"

namespace switchyard::text {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The byte offset just past the first `count` code points of `s` (or s.size()).
std::size_t offset_of(std::string_view s, std::size_t count) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size(); ++i) {
    if (!continuation(s[i]) && seen++ == count) break;
  }
  return i;
}

}  // namespace

std::size_t length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += !continuation(c);
  return n;
}

std::string truncate(std::string_view s, std::size_t max) {
  if (length(s) <= max) return std::string(s);
  if (max == 0) return {};
  std::string out(s.substr(0, offset_of(s, max - 1)));
  out += "\u2026";
  return out;
}

std::vector<std::string> split(std::string_view s, std::size_t max) {
  std::vector<std::string> pieces;
  if (max == 0) return pieces;
  while (!s.empty()) {
    std::size_t cut = offset_of(s, max);
    if (cut < s.size()) {
      const std::string_view head = s.substr(0, cut);
      if (const auto nl = head.rfind('\n'); nl != std::string_view::npos && nl > 0) {
        cut = nl + 1;
      } else if (const auto sp = head.rfind(' '); sp != std::string_view::npos && sp > 0) {
        cut = sp + 1;
      }
    }
    pieces.emplace_back(s.substr(0, cut));
    s.remove_prefix(cut);
  }
  return pieces;
}

}  // namespace switchyard::text
