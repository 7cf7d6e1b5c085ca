#pragma once
// Interactions waiting for their answer. discord.interactions parks the HTTP reply of a
// command here for a moment; discord.reply (in the same library, so the same registry)
// answers it with the pipeline's message if that comes in time. Otherwise the source
// answers "deferred" when the moment is over, and discord.reply sends a follow-up.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/switchyard.hpp"

namespace switchyard::discord {

class PendingReplies {
 public:
  static PendingReplies& instance() {
    static PendingReplies registry;
    return registry;
  }

  /// Parks `reply` for interaction `id` for `ticks` calls of expire() by `owner` (the
  /// source's timer: time as its timers count it); `deferred` is what to answer then.
  void park(const std::string& id, HttpReply reply, int ticks, std::string deferred, const void* owner) {
    std::lock_guard lock(mutex_);
    parked_[id] = Entry{std::move(reply), ticks, std::move(deferred), owner};
  }

  /// Answers interaction `id` with `response` (a JSON interaction response) if it is still
  /// parked; false when it is not (deferred already, or never parked).
  bool answer(const std::string& id, std::string response) {
    return answer_with(id, HttpResponse::json(200, std::move(response)));
  }

  /// Same, with any HTTP response (an error when the event was not accepted).
  bool answer_with(const std::string& id, HttpResponse response) {
    HttpReply reply;
    {
      std::lock_guard lock(mutex_);
      auto it = parked_.find(id);
      if (it == parked_.end()) return false;
      reply = std::move(it->second.reply);
      parked_.erase(it);
    }
    reply(std::move(response));
    return true;
  }

  /// One tick of `owner`'s timer: answers "deferred" to its interactions whose moment is
  /// over (all of them with `all`, when the source stops).
  void expire(const void* owner, bool all = false) {
    std::vector<Entry> due;
    {
      std::lock_guard lock(mutex_);
      for (auto it = parked_.begin(); it != parked_.end();) {
        if (it->second.owner == owner && (all || --it->second.ticks <= 0)) {
          due.push_back(std::move(it->second));
          it = parked_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& e : due) e.reply(HttpResponse::json(200, e.deferred));
  }

 private:
  struct Entry {
    HttpReply reply;
    int ticks = 0;
    std::string deferred;
    const void* owner = nullptr;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> parked_;
};

}  // namespace switchyard::discord
