#pragma once
// JSON string escaping shared by the SDK's CloudEvents writer (event.hpp) and the engine's
// expression rendering: controls, '"' and '\\' escaped, every other byte as it is, scanned
// eight bytes at a time (text to escape is mostly long runs that need nothing).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace switchyard::detail {

// Bytes a JSON string must escape: controls, '"' and '\\'.
inline constexpr std::array<bool, 256> kJsonNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
  t['"'] = t['\\'] = true;
  return t;
}();

// Whether any of the 8 bytes of `w` must be escaped, with whole-word arithmetic ("Bit
// Twiddling Hacks": hasless/haszero, exact as a yes/no answer).
constexpr bool json_word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  auto has_zero_byte = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHighBits) != 0; };
  return ((w - kOnes * 0x20) & ~w & kHighBits) != 0 || has_zero_byte(w ^ (kOnes * '"')) ||
         has_zero_byte(w ^ (kOnes * '\\'));
}

/// Escapes `s` (without the quotes) through `append(const char*, std::size_t)`: runs that
/// need nothing in one call each. `hex`: the digits of \u00XX escapes ("0123456789abcdef",
/// or upper case as RapidJSON's writer writes them).
template <class Append>
void escape_json(std::string_view s, const char* hex, Append&& append) {
  std::size_t run = 0;  // start of the pending unescaped run
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!json_word_needs_escape(w)) {
        i += 8;
        continue;
      }
    }
    for (const std::size_t end = i + 8 < s.size() ? i + 8 : s.size(); i < end; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (!kJsonNeedsEscape[c]) continue;
      if (i > run) append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': append("\\\"", 2); break;
        case '\\': append("\\\\", 2); break;
        case '\n': append("\\n", 2); break;
        case '\r': append("\\r", 2); break;
        case '\t': append("\\t", 2); break;
        case '\b': append("\\b", 2); break;
        case '\f': append("\\f", 2); break;
        default: {
          const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
          append(u, 6);
        }
      }
    }
  }
  if (s.size() > run) append(s.data() + run, s.size() - run);
}

}  // namespace switchyard::detail
