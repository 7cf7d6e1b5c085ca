#include "connection/nkey.hpp"

#include <sodium.h>

#include <vector>

namespace switchyard::nats {
namespace {

constexpr std::uint8_t kSeedPrefix = 18 << 3;  // 'S'
constexpr std::uint8_t kUserPrefix = 20 << 3;  // 'U'
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string base32(std::span<const std::uint8_t> bytes) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const auto b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::vector<std::uint8_t>> unbase32(std::string_view text) {
  std::vector<std::uint8_t> out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= '2' && c <= '7') v = c - '2' + 26;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<std::uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

// Appends the checksum of what `bytes` holds and returns the text form.
std::string with_checksum(std::vector<std::uint8_t> bytes) {
  const std::uint16_t crc = crc16(bytes);
  bytes.push_back(static_cast<std::uint8_t>(crc & 0xff));
  bytes.push_back(static_cast<std::uint8_t>(crc >> 8));
  std::string text = base32(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return text;
}

}  // namespace

std::uint16_t crc16(std::span<const std::uint8_t> bytes) {
  std::uint16_t crc = 0;
  for (const auto b : bytes) {
    crc ^= static_cast<std::uint16_t>(b << 8);
    for (int i = 0; i < 8; ++i) crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
  }
  return crc;
}

NKey::NKey(NKey&& other) noexcept : secret_(other.secret_), public_key_(std::move(other.public_key_)) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

NKey::~NKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::optional<NKey> NKey::from_seed(std::string_view seed) {
  if (seed.size() != 58 || sodium_init() < 0) return std::nullopt;
  auto raw = unbase32(seed);
  // 2 prefix bytes, 32 key bytes, 2 checksum bytes (58 characters carry 36 bytes and 2 bits).
  if (!raw || raw->size() != 36) return std::nullopt;
  std::optional<NKey> key;
  const std::uint16_t sum = static_cast<std::uint16_t>((*raw)[34] | ((*raw)[35] << 8));
  const std::uint8_t type = static_cast<std::uint8_t>((((*raw)[0] & 7) << 5) | (((*raw)[1] & 0xf8) >> 3));
  if (crc16(std::span(raw->data(), 34)) == sum && ((*raw)[0] & 0xf8) == kSeedPrefix && type == kUserPrefix) {
    key.emplace(NKey());
    std::array<std::uint8_t, 32> pub{};
    crypto_sign_seed_keypair(pub.data(), key->secret_.data(), raw->data() + 2);
    std::vector<std::uint8_t> text{kUserPrefix};
    text.insert(text.end(), pub.begin(), pub.end());
    key->public_key_ = with_checksum(std::move(text));
  }
  sodium_memzero(raw->data(), raw->size());
  return key;
}

std::string NKey::seed_text(std::span<const std::uint8_t, 32> raw) {
  std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(kSeedPrefix | (kUserPrefix >> 5)),
                                  static_cast<std::uint8_t>((kUserPrefix & 31) << 3)};
  bytes.insert(bytes.end(), raw.begin(), raw.end());
  return with_checksum(std::move(bytes));
}

std::array<std::uint8_t, 64> NKey::sign(std::string_view data) const {
  std::array<std::uint8_t, 64> signature{};
  crypto_sign_detached(signature.data(), nullptr, reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                       secret_.data());
  return signature;
}

}  // namespace switchyard::nats
