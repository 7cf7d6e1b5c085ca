#include "jwt.hpp"

#include <fnmatch.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/json_limits.hpp"
#include "common/signing.hpp"

namespace switchyard::websocket {
namespace {

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// A claim holding a NumericDate (seconds since the epoch, possibly fractional).
std::optional<double> numeric_date(const rapidjson::Value& claims, const char* name, bool& malformed) {
  auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return std::nullopt;
  if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble())) {
    malformed = true;
    return std::nullopt;
  }
  return it->value.GetDouble();
}

// Whether the `aud` claim (a string, or a list of strings) holds `audience`.
bool names_audience(const rapidjson::Value& claims, std::string_view audience) {
  auto aud = claims.FindMember("aud");
  if (aud == claims.MemberEnd()) return false;
  auto is = [&](const rapidjson::Value& v) {
    return v.IsString() && std::string_view(v.GetString(), v.GetStringLength()) == audience;
  };
  if (!aud->value.IsArray()) return is(aud->value);
  return std::any_of(aud->value.Begin(), aud->value.End(), is);
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);  // tolerate padding
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  return out;
}

Result<JwtClaims> verify_jwt(std::string_view token, std::string_view secret,
                             std::chrono::system_clock::time_point now, const JwtPolicy& policy) {
  if (token.size() > kMaxTokenBytes) return permanent("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return permanent("malformed token (expected header.payload.signature)");
  }
  const auto header_text = base64url_decode(token.substr(0, dot1));
  const auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !signature) return permanent("malformed token (not base64url)");

  rapidjson::Document header;
  if (!json_limits::parse(header, *header_text, 4) || !header.IsObject()) {
    return permanent("malformed token (header is not a JSON object)");
  }
  auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString() || std::string_view(alg->value.GetString()) != "HS256") {
    return permanent("unsupported token algorithm (HS256 only)");
  }
  const auto expected = signing::hmac_sha256(secret, token.substr(0, dot2));
  if (!expected) return permanent("cannot compute HMAC-SHA256");
  if (signature->size() != expected->size() || CRYPTO_memcmp(signature->data(), expected->data(), expected->size()) != 0) {
    return permanent("bad signature");
  }

  rapidjson::Document claims;
  if (!json_limits::parse(claims, *payload_text, 8) || !claims.IsObject()) {
    return permanent("malformed token (claims are not a JSON object)");
  }
  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway = static_cast<double>(kJwtLeeway.count());
  bool malformed = false;
  const auto exp = numeric_date(claims, "exp", malformed);
  const auto nbf = numeric_date(claims, "nbf", malformed);
  if (malformed) return permanent("malformed token (exp and nbf must be numbers)");
  if (!exp && policy.require_exp) return permanent("token without exp (jwt_require_exp)");
  if (exp && now_s >= *exp + leeway) return permanent("token expired");
  if (nbf && now_s + leeway < *nbf) return permanent("token not valid yet (nbf)");
  if (!policy.issuer.empty()) {
    auto iss = claims.FindMember("iss");
    if (iss == claims.MemberEnd() || !iss->value.IsString() ||
        std::string_view(iss->value.GetString(), iss->value.GetStringLength()) != policy.issuer) {
      return permanent("token from another issuer (iss)");
    }
  }
  if (!policy.audience.empty() && !names_audience(claims, policy.audience)) {
    return permanent("token for another audience (aud)");
  }

  JwtClaims out;
  if (exp) {
    // Capped a century ahead: system_clock's nanoseconds end in 2262, and exp may be 1e300.
    constexpr double kCentury = 36525.0 * 86400.0;
    const double until = std::min(*exp + leeway, now_s + kCentury);
    out.expires = std::chrono::system_clock::time_point{} +
                  std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(until));
  }
  if (auto sub = claims.FindMember("sub"); sub != claims.MemberEnd()) {
    if (!sub->value.IsString()) return permanent("malformed token (sub must be a string)");
    out.subject.assign(sub->value.GetString(), sub->value.GetStringLength());
  }
  if (auto rooms = claims.FindMember("rooms"); rooms != claims.MemberEnd()) {
    out.limits_rooms = true;
    if (rooms->value.IsString()) {
      out.rooms.emplace_back(rooms->value.GetString(), rooms->value.GetStringLength());
    } else if (rooms->value.IsArray()) {
      for (const auto& item : rooms->value.GetArray()) {
        if (!item.IsString()) return permanent("malformed token (rooms must be strings)");
        out.rooms.emplace_back(item.GetString(), item.GetStringLength());
      }
    } else {
      return permanent("malformed token (rooms must be a list of patterns)");
    }
  }
  return out;
}

bool room_allowed(const std::vector<std::string>& patterns, std::string_view room) {
  const std::string name(room);  // fnmatch wants terminated strings
  for (const auto& pattern : patterns) {
    if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace switchyard::websocket
