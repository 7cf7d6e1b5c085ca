#pragma once
// Internal: the checks a request's head goes through before it is routed, apart from the
// session so the HTTP fuzz target (tests/fuzz/http_fuzz.cpp) runs exactly these on what
// Beast's parser accepts. No Asio here.

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard::http {

/// A request target split into the path that is routed and the query.
struct Target {
  std::string_view path;
  std::string_view query;
};

/// origin-form ("/a?b") or the absolute form a client talking to a proxy sends
/// ("http://host/a?b", RFC 9112 3.2.2), which names the same resource.
inline Target split_target(std::string_view target) {
  auto starts_with_nocase = [&](std::string_view prefix) {
    if (target.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(target[i])) != prefix[i]) return false;
    }
    return true;
  };
  if (starts_with_nocase("http://") || starts_with_nocase("https://")) {
    const auto authority = target.find("://") + 3;
    const auto path = target.find_first_of("/?", authority);
    if (path == std::string_view::npos) {
      target = "/";
    } else if (target[path] == '?') {
      return {"/", target.substr(path + 1)};
    } else {
      target = target.substr(path);
    }
  }
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

/// A refusal of the request's framing: the status and the reason for the answer.
struct Refusal {
  int status;
  std::string reason;
};

/// The Transfer-Encoding field `codings` of a request the parser read as chunked or not.
/// One that does not end in chunked leaves the body length undefined (RFC 9112 6.1): 400
/// rather than a guess where the next request starts. One naming another coding before
/// chunked ("gzip, chunked") would need decoding, which is not done: 501.
inline std::optional<Refusal> check_transfer_encoding(std::string_view codings, bool chunked) {
  if (!chunked) return Refusal{400, "Transfer-Encoding must end in chunked"};
  while (!codings.empty() && (codings.back() == ' ' || codings.back() == '\t')) codings.remove_suffix(1);
  while (!codings.empty() && (codings.front() == ' ' || codings.front() == '\t')) codings.remove_prefix(1);
  std::string lower(codings);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "chunked") {
    return Refusal{501, "only the chunked transfer coding is supported, not '" + std::string(codings) + "'"};
  }
  return std::nullopt;
}

}  // namespace switchyard::http
