#include "runtime/state_store.hpp"

namespace switchyard::runtime {

MemoryStateStore::Clock::time_point MemoryStateStore::expiry(std::chrono::milliseconds ttl) {
  return ttl.count() <= 0 ? Clock::time_point::max() : Clock::now() + ttl;
}

std::optional<std::string> MemoryStateStore::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= Clock::now()) return std::nullopt;
  return it->second.value;
}

void MemoryStateStore::put(const std::string& key, std::string_view value,
                           std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  entries_[key] = Entry{std::string(value), expiry(ttl)};
  purge_some(Clock::now());
}

bool MemoryStateStore::put_if_absent(const std::string& key, std::string_view value,
                                     std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.expires > now) return false;
  entries_[key] = Entry{std::string(value), expiry(ttl)};
  purge_some(now);
  return true;
}

void MemoryStateStore::erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

// Amortised expiry: a full sweep every 1024 writes keeps memory bounded by live keys.
void MemoryStateStore::purge_some(Clock::time_point now) {
  if (++writes_since_purge_ < 1024) return;
  writes_since_purge_ = 0;
  std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires <= now; });
}

std::optional<std::string> ScopedStateStore::get(std::string_view key) {
  return store_.get(scoped(key));
}
Status ScopedStateStore::put(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) {
  store_.put(scoped(key), value, ttl);
  return {};
}
Result<bool> ScopedStateStore::put_if_absent(std::string_view key, std::string_view value,
                                             std::chrono::milliseconds ttl) {
  return store_.put_if_absent(scoped(key), value, ttl);
}
Status ScopedStateStore::erase(std::string_view key) {
  store_.erase(scoped(key));
  return {};
}

}  // namespace switchyard::runtime
