#pragma once
// Component state in memory, expiring by TTL. Each component sees its own key space.
// TODO(journal): the durable store in state.dir replaces this with the journal (issue 6).

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "switchyard/context.hpp"

namespace switchyard::runtime {

class MemoryStateStore {
 public:
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, std::string_view value, std::chrono::milliseconds ttl);
  bool put_if_absent(const std::string& key, std::string_view value, std::chrono::milliseconds ttl);
  void erase(const std::string& key);

 private:
  using Clock = std::chrono::steady_clock;
  using Expiries = std::multimap<Clock::time_point, std::string>;
  struct Entry {
    std::string value;
    Clock::time_point expires;  // max(): never
    Expiries::iterator in_expiries;
  };
  static Clock::time_point expiry(std::chrono::milliseconds ttl);
  void store(const std::string& key, std::string_view value, Clock::time_point expires);
  void purge(Clock::time_point now);

  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  // Keys by expiry time, so expired entries are removed oldest first at a cost
  // proportional to what expires, not to what is stored.
  Expiries expiries_;
};

/// The StateStore a component sees: its keys prefixed with "pipeline/component/".
class ScopedStateStore final : public StateStore {
 public:
  ScopedStateStore(MemoryStateStore& store, std::string prefix)
      : store_(store), prefix_(std::move(prefix)) {}
  std::optional<std::string> get(std::string_view key) override;
  Status put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override;
  Result<bool> put_if_absent(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) override;
  Status erase(std::string_view key) override;

 private:
  std::string scoped(std::string_view key) const { return prefix_ + std::string(key); }
  MemoryStateStore& store_;
  std::string prefix_;
};

}  // namespace switchyard::runtime
