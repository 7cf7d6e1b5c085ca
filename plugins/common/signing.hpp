#pragma once
// HMAC-SHA256 signatures as webhook senders use them ("sha256=<hex>"), compared in constant
// time. Header-only; a plugin using it links OpenSSL::Crypto.

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::signing {

using Digest = std::array<unsigned char, 32>;

/// HMAC-SHA256 of `data` under `key`. Should OpenSSL fail, the digest is random, so a
/// comparison against it fails closed instead of matching an all-zero signature.
inline Digest hmac_sha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &length) == nullptr ||
      length != out.size()) {
    RAND_bytes(out.data(), static_cast<int>(out.size()));
  }
  return out;
}

inline std::string to_hex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

/// Decodes exactly 64 hex digits (either case); nullopt otherwise.
inline std::optional<Digest> from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

/// "sha256=<hex>" for `body` under `secret`.
inline std::string sign(std::string_view secret, std::string_view body) {
  return "sha256=" + to_hex(hmac_sha256(secret, body));
}

/// Whether `header` ("sha256=<hex>") is the signature of `body` under any of `secrets`.
/// Every secret is tried (no early exit), each comparison in constant time.
inline bool verify(const std::vector<std::string>& secrets, std::string_view body,
                   std::string_view header) {
  constexpr std::string_view kPrefix = "sha256=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return false;
  const auto given = from_hex(header.substr(kPrefix.size()));
  if (!given) return false;
  bool match = false;
  for (const auto& secret : secrets) {
    const Digest expected = hmac_sha256(secret, body);
    match |= CRYPTO_memcmp(expected.data(), given->data(), expected.size()) == 0;
  }
  return match;
}

}  // namespace switchyard::signing
