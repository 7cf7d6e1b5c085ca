#pragma once
// Component state: kept in memory for reads, expiring by TTL, and written through to the
// journal when the engine has one, so it survives restarts. Each component sees its own
// key space.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "journal/journal.hpp"
#include "runtime/key_set.hpp"
#include "switchyard/context.hpp"

namespace switchyard::runtime {

/// While alive, durable state writes made on this thread are collected into `into` instead
/// of going to the journal on their own: the pipeline commits a transform's writes in the
/// same transaction as the event it was handling, so a write never outlives a lost event
/// (a dedup key recorded for an event that was never journaled would drop its redelivery).
class StateWriteCapture {
 public:
  explicit StateWriteCapture(journal::StateWrites& into);
  ~StateWriteCapture();
  StateWriteCapture(const StateWriteCapture&) = delete;
  StateWriteCapture& operator=(const StateWriteCapture&) = delete;
  static journal::StateWrites* current();

 private:
  journal::StateWrites* previous_;
};

/// The components' key-value state, for the whole engine: kept in memory for reads,
/// expiring by TTL, and written through to the journal when the engine has one.
class StateTable {
 public:
  /// Writes go through to `journal` from now on; `entries` and `remembered` (from
  /// journal.load_state() and load_remembered()) are what it already holds.
  void attach(journal::Journal& journal, std::vector<journal::StateEntry> entries,
              std::vector<journal::RememberedEntry> remembered = {});

  std::optional<std::string> get(const std::string& key);
  // `durable`: also write the change to the journal (when attached).
  void put(const std::string& key, std::string_view value, std::chrono::milliseconds ttl, bool durable = true);
  bool put_if_absent(const std::string& key, std::string_view value, std::chrono::milliseconds ttl,
                     bool durable = true);
  void erase(const std::string& key, bool durable = true);
  /// Forgets `key` in memory only: undoes a captured write whose event was not journaled.
  void forget(const std::string& key);

  /// Remembered keys (StateStore::remember), a set apart from the entries: see key_set.hpp.
  bool remembers(std::string_view key);
  void remember(std::string_view key, std::chrono::milliseconds ttl, bool durable = true);
  /// Undoes remember() in memory only, given its write's key (a fingerprint's bytes).
  void forget_remembered(std::string_view fingerprint);
  std::size_t remembered() const;

 private:
  void persist(const std::string& key, std::string_view value, std::chrono::milliseconds ttl);
  void record(journal::StateWrite write);

  using Clock = std::chrono::steady_clock;
  // Points at the key inside entries_ (node-based: the key stays put across rehashes).
  using Expiries = std::multimap<Clock::time_point, const std::string*>;
  struct Entry {
    std::string value;
    Clock::time_point expires;  // max(): never
    Expiries::iterator in_expiries;
  };
  using Entries = std::unordered_map<std::string, Entry>;
  static Clock::time_point expiry(std::chrono::milliseconds ttl);
  void store(const std::string& key, std::string_view value, Clock::time_point expires);
  void store(Entries::iterator it, bool inserted, std::string_view value, Clock::time_point expires);
  void purge(Clock::time_point now);

  mutable std::mutex mutex_;
  Entries entries_;
  // Keys by expiry time, so expired entries are removed oldest first at a cost
  // proportional to what expires, not to what is stored.
  Expiries expiries_;
  KeySet remembered_;
  journal::Journal* journal_ = nullptr;
};

/// The StateStore a component sees: its keys prefixed with "pipeline/component/". Components
/// of `durability: memory` pipelines keep their state in memory only, like their events.
class ScopedStateStore final : public StateStore {
 public:
  ScopedStateStore(StateTable& store, std::string prefix, bool durable)
      : store_(store), prefix_(std::move(prefix)), durable_(durable) {}
  std::optional<std::string> get(std::string_view key) override;
  Status put(std::string_view key, std::string_view value, std::chrono::milliseconds ttl) override;
  Result<bool> put_if_absent(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) override;
  Status erase(std::string_view key) override;
  bool remembers(std::string_view key) override;
  Status remember(std::string_view key, std::chrono::milliseconds ttl) override;

 private:
  std::string scoped(std::string_view key) const { return prefix_ + std::string(key); }
  StateTable& store_;
  std::string prefix_;
  bool durable_;
};

}  // namespace switchyard::runtime
