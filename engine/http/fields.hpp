#pragma once
// What may go into an HTTP header field (RFC 9110 5.1, 5.5), checked the same way for the
// answers the listener writes and the requests the client sends: a name that is not a
// token, or a value with CR, LF or another control character, would let data from an event
// inject headers or a whole second message.

#include <algorithm>
#include <string_view>

namespace switchyard::http {

/// A field name: a token (RFC 9110 5.6.2).
inline bool is_token(std::string_view name) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

/// A field value: visible characters, spaces and tabs, and bytes from 0x80 (RFC 9110 5.5).
inline bool is_field_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
}

}  // namespace switchyard::http
