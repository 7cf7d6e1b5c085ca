#include "runtime/key_set.hpp"

#include <sodium.h>

#include <cstring>
#include <limits>

namespace switchyard::runtime {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::int64_t ticks(KeySet::Clock::time_point t) {
  return t == KeySet::Clock::time_point::max() ? kNever : t.time_since_epoch().count();
}

}  // namespace

KeySet::Fingerprint KeySet::fingerprint(std::string_view key) {
  static const bool ready = sodium_init() >= 0;  // picks the fastest BLAKE2b; safe to call again
  (void)ready;
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(key.data()), key.size(), nullptr,
                     0);
  Fingerprint fp;
  std::memcpy(&fp.hi, digest, 8);
  std::memcpy(&fp.lo, digest + 8, 8);
  if (fp.hi == 0 && fp.lo == 0) fp.lo = 1;  // all zero marks an empty slot
  return fp;
}

std::string KeySet::bytes(const Fingerprint& fp) {
  std::string out(16, '\0');
  std::memcpy(out.data(), &fp.hi, 8);
  std::memcpy(out.data() + 8, &fp.lo, 8);
  return out;
}

std::optional<KeySet::Fingerprint> KeySet::from_bytes(std::string_view bytes) {
  if (bytes.size() != 16) return std::nullopt;
  Fingerprint fp;
  std::memcpy(&fp.hi, bytes.data(), 8);
  std::memcpy(&fp.lo, bytes.data() + 8, 8);
  if (fp.hi == 0 && fp.lo == 0) return std::nullopt;
  return fp;
}

const KeySet::Slot* KeySet::find(const Fingerprint& fp) const {
  const Shard& shard = shards_[shard_of(fp)];
  if (shard.slots.empty()) return nullptr;
  const std::size_t mask = shard.slots.size() - 1;
  for (std::size_t i = home(fp, mask);; i = (i + 1) & mask) {
    const Slot& slot = shard.slots[i];
    if (slot.empty()) return nullptr;
    if (slot.hi == fp.hi && slot.lo == fp.lo) return &slot;
  }
}

KeySet::Slot* KeySet::find(const Fingerprint& fp) {
  return const_cast<Slot*>(static_cast<const KeySet&>(*this).find(fp));
}

bool KeySet::contains(const Fingerprint& fp, Clock::time_point now) const {
  const Slot* slot = find(fp);
  return slot != nullptr && slot->expires > ticks(now);
}

void KeySet::grow(Shard& shard) {
  std::vector<Slot> old(shard.slots.empty() ? 16 : shard.slots.size() * 2);
  old.swap(shard.slots);
  const std::size_t mask = shard.slots.size() - 1;
  for (const Slot& slot : old) {
    if (slot.empty()) continue;
    std::size_t i = home({slot.hi, slot.lo}, mask);
    while (!shard.slots[i].empty()) i = (i + 1) & mask;
    shard.slots[i] = slot;
  }
}

void KeySet::insert(const Fingerprint& fp, Clock::time_point expires, std::chrono::milliseconds ttl) {
  const std::int64_t until = ticks(expires);
  if (Slot* slot = find(fp)) {
    slot->expires = until;
  } else {
    Shard& shard = shards_[shard_of(fp)];
    if ((shard.used + 1) * 4 > shard.slots.size() * 3) grow(shard);
    const std::size_t mask = shard.slots.size() - 1;
    std::size_t i = home(fp, mask);
    while (!shard.slots[i].empty()) i = (i + 1) & mask;
    shard.slots[i] = Slot{fp.hi, fp.lo, until};
    ++shard.used;
    ++size_;
  }
  if (until != kNever) queues_[ttl.count()].push_back(Due{fp, until});
}

void KeySet::erase(const Fingerprint& fp) {
  Shard& shard = shards_[shard_of(fp)];
  Slot* slot = find(fp);
  if (slot == nullptr) return;
  // Backward-shift deletion: the entries after the hole that may move into it do, so every
  // key stays reachable from its home slot without tombstones.
  const std::size_t mask = shard.slots.size() - 1;
  std::size_t hole = static_cast<std::size_t>(slot - shard.slots.data());
  for (std::size_t j = (hole + 1) & mask; !shard.slots[j].empty(); j = (j + 1) & mask) {
    const std::size_t k = home({shard.slots[j].hi, shard.slots[j].lo}, mask);
    // Slot j stays when its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
    if (stays) continue;
    shard.slots[hole] = shard.slots[j];
    hole = j;
  }
  shard.slots[hole] = Slot{};
  --shard.used;
  --size_;
}

void KeySet::purge(Clock::time_point now) {
  const std::int64_t at = ticks(now);
  for (auto& [ttl, queue] : queues_) {
    while (!queue.empty() && queue.front().expires <= at) {
      const Due due = queue.front();
      queue.pop_front();
      // Remembered again since with a later expiry: that entry is further back.
      if (const Slot* slot = find(due.fp); slot != nullptr && slot->expires <= at) erase(due.fp);
    }
  }
}

std::size_t KeySet::memory() const {
  std::size_t bytes = 0;
  for (const Shard& shard : shards_) bytes += shard.slots.capacity() * sizeof(Slot);
  for (const auto& [ttl, queue] : queues_) bytes += queue.size() * sizeof(Due);
  return bytes;
}

}  // namespace switchyard::runtime
