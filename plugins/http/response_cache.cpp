#include "response_cache.hpp"

namespace switchyard::http_plugin {

ResponseCache::Answer ResponseCache::find(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  recent_.splice(recent_.begin(), recent_, it->second.recent);
  return it->second.answer;
}

void ResponseCache::put(const std::string& key, Answer answer, std::size_t bytes) {
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  if (bytes > max_bytes_) return;
  while (bytes_ + bytes > max_bytes_ && !recent_.empty()) erase(entries_.find(recent_.back()));
  recent_.push_front(key);
  Entry& entry = entries_[key];
  entry.answer = std::move(answer);
  entry.bytes = bytes;
  entry.recent = recent_.begin();
  entry.expiry = executor_.make_timer();
  // The timer belongs to the entry it erases: cancelled with it, never firing after.
  entry.expiry->expires_after(ttl_, [this, key] {
    if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  });
  bytes_ += bytes;
}

void ResponseCache::clear() {
  entries_.clear();
  recent_.clear();
  bytes_ = 0;
}

void ResponseCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  recent_.erase(it->second.recent);
  entries_.erase(it);
}

}  // namespace switchyard::http_plugin
