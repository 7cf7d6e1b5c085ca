#pragma once
// The answers http.request remembers: parsed JSON by request key, each for `ttl` (an SDK
// timer per entry, so expiry follows the engine's clock and the harness's virtual one),
// least recently used evicted first once their bodies pass `max_bytes`. Strand-only.

#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "switchyard/context.hpp"

namespace switchyard::http_plugin {

class ResponseCache {
 public:
  using Answer = std::shared_ptr<const rapidjson::Document>;

  ResponseCache(Executor& executor, std::chrono::milliseconds ttl, std::size_t max_bytes)
      : executor_(executor), ttl_(ttl), max_bytes_(max_bytes) {}

  /// The answer remembered for `key`, or nullptr (absent or expired).
  Answer find(const std::string& key);
  /// Remembers `answer` (whose body had `bytes` bytes) for `key`; an answer larger than the
  /// whole cache is not kept.
  void put(const std::string& key, Answer answer, std::size_t bytes);
  /// Forgets everything (and cancels the expiry timers).
  void clear();

  std::size_t entries() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    Answer answer;
    std::size_t bytes = 0;
    std::unique_ptr<Timer> expiry;
    std::list<std::string>::iterator recent;  // position in recent_
  };
  void erase(std::unordered_map<std::string, Entry>::iterator it);

  Executor& executor_;
  const std::chrono::milliseconds ttl_;
  const std::size_t max_bytes_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // most recently used first
  std::size_t bytes_ = 0;
};

}  // namespace switchyard::http_plugin
