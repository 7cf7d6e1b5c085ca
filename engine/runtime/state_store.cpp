#include "runtime/state_store.hpp"

#include <algorithm>
#include <cstdint>

namespace switchyard::runtime {
namespace {
thread_local journal::StateWrites* t_capture = nullptr;

std::int64_t unix_ms_after(std::chrono::milliseconds ttl) {
  if (ttl.count() <= 0) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() + ttl).time_since_epoch())
      .count();
}
}  // namespace

StateWriteCapture::StateWriteCapture(journal::StateWrites& into) : previous_(t_capture) {
  t_capture = &into;
}
StateWriteCapture::~StateWriteCapture() { t_capture = previous_; }
journal::StateWrites* StateWriteCapture::current() { return t_capture; }

void StateTable::attach(journal::Journal& journal, std::vector<journal::StateEntry> entries,
                        std::vector<journal::RememberedEntry> remembered) {
  std::lock_guard lock(mutex_);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto now = Clock::now();
  for (auto& e : entries) {
    if (e.expires_ms != 0 && e.expires_ms <= now_ms) continue;
    store(e.key, e.value,
          e.expires_ms == 0 ? Clock::time_point::max() : now + std::chrono::milliseconds(e.expires_ms - now_ms));
  }
  // Soonest to expire first: they leave their queue in that order.
  std::sort(remembered.begin(), remembered.end(), [](const auto& a, const auto& b) {
    return (a.expires_ms == 0 ? INT64_MAX : a.expires_ms) < (b.expires_ms == 0 ? INT64_MAX : b.expires_ms);
  });
  for (const auto& r : remembered) {
    const auto fp = KeySet::from_bytes(r.fingerprint);
    if (!fp || (r.expires_ms != 0 && r.expires_ms <= now_ms)) continue;
    remembered_.insert(*fp,
                       r.expires_ms == 0 ? Clock::time_point::max()
                                         : now + std::chrono::milliseconds(r.expires_ms - now_ms),
                       std::chrono::milliseconds(-1));  // a queue of their own
  }
  journal_ = &journal;
}

bool StateTable::remembers(std::string_view key) {
  const auto fp = KeySet::fingerprint(key);  // outside the lock: the hash is most of the cost
  std::lock_guard lock(mutex_);
  return remembered_.contains(fp, Clock::now());
}

void StateTable::remember(std::string_view key, std::chrono::milliseconds ttl, bool durable) {
  const auto fp = KeySet::fingerprint(key);
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    remembered_.purge(now);
    remembered_.insert(fp, ttl.count() <= 0 ? Clock::time_point::max() : now + ttl, ttl);
  }
  if (!durable || !journal_) return;
  record({.key = KeySet::bytes(fp), .expires_ms = unix_ms_after(ttl), .remember = true});
}

void StateTable::forget_remembered(std::string_view fingerprint) {
  const auto fp = KeySet::from_bytes(fingerprint);
  if (!fp) return;
  std::lock_guard lock(mutex_);
  remembered_.erase(*fp);
}

std::size_t StateTable::remembered() const {
  std::lock_guard lock(mutex_);
  return remembered_.size();
}

void StateTable::persist(const std::string& key, std::string_view value,
                               std::chrono::milliseconds ttl) {
  if (!journal_) return;
  record({.key = key, .value = std::string(value), .expires_ms = unix_ms_after(ttl)});
}

// With the event being handled when a capture is open (StateWriteCapture), else on its own.
void StateTable::record(journal::StateWrite write) {
  if (auto* capture = StateWriteCapture::current()) {
    capture->push_back(std::move(write));
  } else {
    journal_->write_state(std::move(write));
  }
}

void StateTable::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.in_expiries != expiries_.end()) expiries_.erase(it->second.in_expiries);
  entries_.erase(it);
}

StateTable::Clock::time_point StateTable::expiry(std::chrono::milliseconds ttl) {
  return ttl.count() <= 0 ? Clock::time_point::max() : Clock::now() + ttl;
}

std::optional<std::string> StateTable::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= Clock::now()) return std::nullopt;
  return it->second.value;
}

void StateTable::store(const std::string& key, std::string_view value, Clock::time_point expires) {
  auto [it, inserted] = entries_.try_emplace(key);
  store(it, inserted, value, expires);
}

void StateTable::store(Entries::iterator it, bool inserted, std::string_view value, Clock::time_point expires) {
  if (!inserted && it->second.in_expiries != expiries_.end()) expiries_.erase(it->second.in_expiries);
  it->second.value.assign(value);
  it->second.expires = expires;
  it->second.in_expiries =
      // Entries mostly expire in the order they are written (one TTL per kind of key): the
      // hint makes that insertion constant time instead of a descent through the tree.
      expires == Clock::time_point::max() ? expiries_.end()
                                          : expiries_.emplace_hint(expiries_.end(), expires, &it->first);
}

void StateTable::put(const std::string& key, std::string_view value,
                           std::chrono::milliseconds ttl, bool durable) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  purge(now);
  store(key, value, expiry(ttl));
  if (durable) persist(key, value, ttl);
}

bool StateTable::put_if_absent(const std::string& key, std::string_view value,
                                     std::chrono::milliseconds ttl, bool durable) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  purge(now);
  // One lookup of the key (a random place in a large table: a few cache misses each): the
  // entry is made here when absent, or taken over when it expired.
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted && it->second.expires > now) return false;
  store(it, inserted, value, expiry(ttl));
  if (durable) persist(key, value, ttl);
  return true;
}

void StateTable::erase(const std::string& key, bool durable) {
  forget(key);
  if (!journal_ || !durable) return;
  record({.key = key, .erase = true});
}

void StateTable::purge(Clock::time_point now) {
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const auto due = expiries_.begin();
    entries_.erase(entries_.find(*due->second));  // find first: the key dies with its entry
    expiries_.erase(due);
  }
}

std::optional<std::string> ScopedStateStore::get(std::string_view key) {
  return store_.get(scoped(key));
}
Status ScopedStateStore::put(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl) {
  store_.put(scoped(key), value, ttl, durable_);
  return {};
}
Result<bool> ScopedStateStore::put_if_absent(std::string_view key, std::string_view value,
                                             std::chrono::milliseconds ttl) {
  return store_.put_if_absent(scoped(key), value, ttl, durable_);
}
Status ScopedStateStore::erase(std::string_view key) {
  store_.erase(scoped(key), durable_);
  return {};
}
bool ScopedStateStore::remembers(std::string_view key) {
  return store_.remembers(scoped(key));
}
Status ScopedStateStore::remember(std::string_view key, std::chrono::milliseconds ttl) {
  store_.remember(scoped(key), ttl, durable_);
  return {};
}

}  // namespace switchyard::runtime
