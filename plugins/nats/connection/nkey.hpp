#pragma once
// NKeys: how a NATS user proves its identity without sending a secret. The seed ("SU...")
// is an Ed25519 seed in NATS' text form; the server knows the user by the public key
// ("U...") and sends a nonce at every connect, which the client signs.
// https://docs.nats.io/running-a-nats-service/configuration/securing_nats/auth_intro/nkey_auth
//
// Text form (github.com/nats-io/nkeys, strkey.go): base32 (RFC 4648, no padding) of
// prefix bytes, the 32 key bytes and a CRC-16/XMODEM of both, little-endian. A seed has two
// prefix bytes, 'S' (18 << 3) with the key type spread over them; a public key has one, the
// type ('U' is 20 << 3 for users).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace switchyard::nats {

class NKey {
 public:
  NKey(const NKey&) = delete;
  NKey& operator=(const NKey&) = delete;
  NKey(NKey&& other) noexcept;
  NKey& operator=(NKey&&) = delete;
  ~NKey();  // wipes the secret key

  /// The user key of a seed ("SU..."); nullopt for anything else (another key type, a
  /// wrong checksum, not base32).
  static std::optional<NKey> from_seed(std::string_view seed);
  /// The seed text of 32 random bytes (for tests: a throwaway user).
  static std::string seed_text(std::span<const std::uint8_t, 32> raw);

  /// The public key the server lists the user by ("U...", 56 characters).
  const std::string& public_key() const { return public_key_; }
  /// The Ed25519 signature of `data` (the server's nonce).
  std::array<std::uint8_t, 64> sign(std::string_view data) const;

 private:
  NKey() = default;
  std::array<std::uint8_t, 64> secret_{};  // libsodium's secret key: seed and public key
  std::string public_key_;
};

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), as NKeys checksum their text.
std::uint16_t crc16(std::span<const std::uint8_t> bytes);

}  // namespace switchyard::nats
