#pragma once
// HMAC-SHA256 signatures as webhook senders use them ("sha256=<hex>"), compared in constant
// time. Header-only; a plugin using it links OpenSSL::Crypto.

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <initializer_list>
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

/// The secrets a receiver accepts, each kept as the two SHA-256 states HMAC starts from (the
/// key with the inner and with the outer pad already absorbed, RFC 2104). Checking a request
/// copies those states (plain structs) and hashes the body: no allocation, no lock, nothing
/// shared written. OpenSSL 3's one-shot HMAC() fetches the algorithm and hashes the key on
/// every call, under a lock shared by all threads; duplicating a prepared EVP_MAC_CTX costs
/// about a dozen allocations and reference counts every thread bumps. Thread-safe: verify()
/// only reads the prepared states.
class Keys {
 public:
  Keys() = default;  // accepts nothing
  explicit Keys(const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) keys_.push_back(prepare(secret));
  }
  Keys(const Keys&) = default;
  Keys(Keys&&) = default;
  Keys& operator=(const Keys&) = default;
  Keys& operator=(Keys&&) = default;
  ~Keys() {
    if (!keys_.empty()) OPENSSL_cleanse(keys_.data(), keys_.size() * sizeof(Key));
  }

  /// Whether `header` ("sha256=<hex>") is the signature of `body` under any of the secrets.
  /// Every secret is tried (no early exit), each comparison in constant time.
  bool verify(std::string_view body, std::string_view header) const {
    const auto given = parse_header(header);
    return given && verify(body, *given);
  }

  /// Whether `given` is the HMAC of `data` under any of the secrets (same guarantees).
  bool verify(std::string_view data, const Digest& given) const { return verify({data}, given); }

  /// The same over the concatenation of `parts`, which is never built: Slack signs
  /// "v0:" + timestamp + ":" + body, and a copy of an unauthenticated body costs as much as
  /// hashing it.
  bool verify(std::initializer_list<std::string_view> parts, const Digest& given) const {
    bool match = false;
    for (const auto& key : keys_) {
      Digest expected{};
      const bool computed = mac(key, parts, expected);
      match |= computed & (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0);
    }
    return match;
  }

  std::size_t size() const { return keys_.size(); }
  /// Whether every secret could be prepared (OpenSSL hashed each key).
  /// A receiver refuses to start otherwise: a key that failed matches nothing.
  bool ok() const {
    return std::all_of(keys_.begin(), keys_.end(), [](const Key& key) { return key.ok; });
  }

 private:
  // SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose contexts
  // cannot be copied without allocating; they remain the same code (and the same SHA-NI or
  // AVX2 block function) underneath.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  struct Key {
    SHA256_CTX inner;  // after SHA256_Update(key ^ ipad)
    SHA256_CTX outer;  // after SHA256_Update(key ^ opad)
    bool ok = false;
  };
  static constexpr std::size_t kBlock = 64;  // SHA-256's block size

  static Key prepare(std::string_view secret) {
    Key key{};
    std::array<unsigned char, kBlock> block{};
    // A key longer than the block is hashed first (RFC 2104 section 2).
    if (secret.size() > kBlock) {
      SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), block.data());
    } else {
      std::copy(secret.begin(), secret.end(), reinterpret_cast<char*>(block.data()));
    }
    std::array<unsigned char, kBlock> pad{};
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
    key.ok = SHA256_Init(&key.inner) == 1 && SHA256_Update(&key.inner, pad.data(), pad.size()) == 1;
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
    key.ok = key.ok && SHA256_Init(&key.outer) == 1 && SHA256_Update(&key.outer, pad.data(), pad.size()) == 1;
    OPENSSL_cleanse(block.data(), block.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    return key;
  }

  // The MAC of `data` under a prepared key into `out`; false should OpenSSL fail, which
  // verify() counts as no match.
  static bool mac(const Key& key, std::initializer_list<std::string_view> parts, Digest& out) {
    if (!key.ok) return false;
    SHA256_CTX work = key.inner;
    Digest inner{};
    bool ok = true;
    for (const auto part : parts) ok = ok && SHA256_Update(&work, part.data(), part.size()) == 1;
    ok = ok && SHA256_Final(inner.data(), &work) == 1;
    work = key.outer;
    ok = ok && SHA256_Update(&work, inner.data(), inner.size()) == 1 && SHA256_Final(out.data(), &work) == 1;
    OPENSSL_cleanse(&work, sizeof work);
    return ok;
  }
#pragma GCC diagnostic pop

  std::vector<Key> keys_;
};

}  // namespace switchyard::signing
