#pragma once
// JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515), as dashboards get them from their
// own login service: the signature (HMAC-SHA256 through OpenSSL, compared in constant time),
// `exp` (required unless the policy says otherwise) and `nbf`, `aud` and `iss` when the
// endpoint names its audience and issuer, and the claims the websocket sink reads: `sub` (who
// the client is, for per-client connection limits) and `rooms` (glob patterns of the rooms it
// may subscribe to).
// Only HS256 is accepted: a token naming "none" or another algorithm is refused, so a token
// cannot pick how it is checked.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::websocket {

/// What a token must show besides a good signature.
struct JwtPolicy {
  /// Set: the token's `aud` (a string, or a list of them) must hold this one (RFC 7519 4.1.3).
  std::string audience;
  /// Set: the token's `iss` must be this one.
  std::string issuer;
  /// Whether a token without `exp` is refused (it would never expire).
  bool require_exp = true;
};

/// What a valid token says.
struct JwtClaims {
  std::string subject;             ///< `sub`; empty when absent.
  /// When the token stops being valid (`exp` plus the leeway); unset: it has no `exp`.
  std::optional<std::chrono::system_clock::time_point> expires;
  bool limits_rooms = false;       ///< Whether the token has a `rooms` claim.
  std::vector<std::string> rooms;  ///< Its glob patterns (`*`, `?`, `[...]`), e.g. "octo-org/*".
};

/// Tokens longer than this are refused unread.
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;
/// Clock difference allowed between the token's issuer and this machine, for exp and nbf.
inline constexpr std::chrono::seconds kJwtLeeway{30};

/// Checks `token` (header.payload.signature, base64url) against `secret` and `policy` at
/// `now`: its claims, or a permanent error saying why not ("expired", "bad signature", ...;
/// never the token itself).
Result<JwtClaims> verify_jwt(std::string_view token, std::string_view secret,
                             std::chrono::system_clock::time_point now, const JwtPolicy& policy = {});

/// Decodes unpadded base64url (RFC 4648 section 5); nullopt on a character outside it.
std::optional<std::string> base64url_decode(std::string_view text);
/// Encodes base64url without padding (for tests and tools that mint tokens).
std::string base64url_encode(std::string_view bytes);

/// Whether `room` matches one of the glob `patterns`.
bool room_allowed(const std::vector<std::string>& patterns, std::string_view room);

}  // namespace switchyard::websocket
