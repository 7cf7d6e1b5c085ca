#pragma once
// Remembered keys (StateStore::remember): a set of keys that each expire, such as the
// delivery ids a webhook source has seen. A key is kept as a 128-bit fingerprint of its text
// (BLAKE2b) beside its expiry, in an open-addressing table (linear probing) split into
// shards that grow one at a time, and in one queue per time-to-live, in the order the keys
// expire, from which the expired ones are removed oldest first. No allocation per key and
// about 60 bytes each, where a string-keyed map node with an index entry held ~240.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::runtime {

class KeySet {
 public:
  using Clock = std::chrono::steady_clock;

  /// A key's fingerprint: the first 16 bytes of its BLAKE2b digest. Two keys sharing one
  /// is a chance of about n^2 / 2^129 among n keys (nil for any number a machine holds).
  struct Fingerprint {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;
    friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
  };
  static Fingerprint fingerprint(std::string_view key);
  /// The 16 bytes the journal keeps, and back (nullopt for any other length).
  static std::string bytes(const Fingerprint& fp);
  static std::optional<Fingerprint> from_bytes(std::string_view bytes);

  /// Whether `fp` is held and has not expired at `now`.
  bool contains(const Fingerprint& fp, Clock::time_point now) const;
  /// Holds `fp` until `expires` (time_point::max(): for good), replacing an earlier expiry.
  /// Keys given one `ttl` arrive in the order they expire and share a queue: any other
  /// order (keys loaded at start) is correct too, only slower to leave.
  void insert(const Fingerprint& fp, Clock::time_point expires, std::chrono::milliseconds ttl);
  /// Forgets `fp` (its queue entry leaves when due).
  void erase(const Fingerprint& fp);
  /// Forgets the keys expired at `now`; costs what expires, not what is held.
  void purge(Clock::time_point now);

  std::size_t size() const { return size_; }
  /// Bytes held for the keys: the tables' slots and the queues' entries.
  std::size_t memory() const;

 private:
  struct Slot {
    std::uint64_t hi = 0;
    std::uint64_t lo = 0;  // hi and lo both 0: empty (fingerprint() never returns that)
    std::int64_t expires = 0;  // Clock ticks; INT64_MAX: never
    bool empty() const { return hi == 0 && lo == 0; }
  };
  struct Shard {
    std::vector<Slot> slots;  // a power of two in size, at most 3/4 used
    std::size_t used = 0;
  };
  struct Due {
    Fingerprint fp;
    std::int64_t expires = 0;
  };
  static constexpr std::size_t kShards = 64;

  static std::size_t shard_of(const Fingerprint& fp) { return fp.hi >> 58; }
  static std::size_t home(const Fingerprint& fp, std::size_t mask) { return fp.lo & mask; }
  // The slot holding `fp`, or nullptr.
  Slot* find(const Fingerprint& fp);
  const Slot* find(const Fingerprint& fp) const;
  static void grow(Shard& shard);

  std::array<Shard, kShards> shards_;
  std::size_t size_ = 0;
  std::map<std::int64_t, std::deque<Due>> queues_;  // by time-to-live in ms
};

}  // namespace switchyard::runtime
