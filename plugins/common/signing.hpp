#pragma once
// HMAC-SHA256 signatures as webhook senders use them ("sha256=<hex>"), compared in constant
// time. Header-only; a plugin using it links OpenSSL::Crypto.

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::signing {

using Digest = std::array<unsigned char, 32>;

/// HMAC-SHA256 of `data` under `key`; nullopt should OpenSSL fail.
inline std::optional<Digest> hmac_sha256(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &length) == nullptr ||
      length != out.size()) {
    return std::nullopt;
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

/// "sha256=<hex>" for `body` under `secret`; empty should OpenSSL fail.
inline std::string sign(std::string_view secret, std::string_view body) {
  const auto digest = hmac_sha256(secret, body);
  return digest ? "sha256=" + to_hex(*digest) : std::string();
}

/// Parses "sha256=<hex>"; nullopt when the header has another form.
inline std::optional<Digest> parse_header(std::string_view header) {
  constexpr std::string_view kPrefix = "sha256=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  return from_hex(header.substr(kPrefix.size()));
}

/// The secrets a receiver accepts, each kept as an HMAC context with its key already
/// absorbed. Checking a request then copies a context instead of fetching the algorithm
/// and hashing the key again (OpenSSL 3's one-shot HMAC() does both on every call, under
/// a lock shared by all threads). Thread-safe: verify() only reads the prepared contexts.
class Keys {
 public:
  Keys() = default;  // accepts nothing
  explicit Keys(const std::vector<std::string>& secrets) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    for (const auto& secret : secrets) {
      Context context(mac ? EVP_MAC_CTX_new(mac) : nullptr);
      if (context && EVP_MAC_init(context.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                                  secret.size(), params) != 1) {
        context.reset();  // fails closed in verify()
      }
      keys_.push_back(std::move(context));
    }
    EVP_MAC_free(mac);
  }

  /// Whether `header` ("sha256=<hex>") is the signature of `body` under any of the secrets.
  /// Every secret is tried (no early exit), each comparison in constant time.
  bool verify(std::string_view body, std::string_view header) const {
    const auto given = parse_header(header);
    return given && verify(body, *given);
  }

  /// Whether `given` is the HMAC of `data` under any of the secrets (same guarantees).
  bool verify(std::string_view data, const Digest& given) const {
    bool match = false;
    for (const auto& key : keys_) {
      Digest expected{};
      const bool computed = mac(key.get(), data, expected);
      match |= computed & (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0);
    }
    return match;
  }

  std::size_t size() const { return keys_.size(); }
  /// Whether every secret could be prepared (OpenSSL has HMAC-SHA256 and took each key).
  /// A receiver refuses to start otherwise: a key that failed matches nothing.
  bool ok() const {
    return std::all_of(keys_.begin(), keys_.end(), [](const Context& key) { return key != nullptr; });
  }

 private:
  struct Free {
    void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
  };
  using Context = std::unique_ptr<EVP_MAC_CTX, Free>;

  // The MAC of `data` under a prepared key into `out`; false (and `out` untouched) should
  // OpenSSL fail, which verify() counts as no match.
  static bool mac(const EVP_MAC_CTX* key, std::string_view data, Digest& out) {
    std::size_t length = 0;
    const Context work(key ? EVP_MAC_CTX_dup(key) : nullptr);
    return work &&
           EVP_MAC_update(work.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
           EVP_MAC_final(work.get(), out.data(), &length, out.size()) == 1 && length == out.size();
  }

  std::vector<Context> keys_;
};

}  // namespace switchyard::signing
