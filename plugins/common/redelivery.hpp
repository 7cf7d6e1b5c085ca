#pragma once
// What webhook receivers share: recognising a sender's repeat of a delivery it already made
// (GitHub's redeliveries, Slack's retries), and warning about refused requests without
// letting a flood of them flood the log.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_set>

#include "switchyard/switchyard.hpp"

namespace switchyard::intake {

/// Delivery ids accepted within a window. An id is remembered in the component's state
/// store (so across restarts) with its event, and only if the event is accepted
/// (Event::remember_when_accepted): a crash in between never turns the sender's retry into a
/// "duplicate" that was never delivered. An id being emitted right now is a duplicate too.
class Redeliveries {
 public:
  /// Ids are kept under `prefix` + id for `window`; a zero window turns this off.
  void configure(std::string prefix, std::chrono::milliseconds window) {
    prefix_ = std::move(prefix);
    window_ = window;
  }
  bool enabled() const { return window_.count() > 0; }

  /// Whether `event` (its id) may be emitted. When true and enabled, the event will ask to
  /// be remembered, and settle() must follow its emit.
  bool claim(Context& context, Event& event) {
    if (!enabled()) return true;
    std::string key = prefix_ + event.id;
    auto& state = context.state();
    {
      // In flight first, remembered second: the id is remembered before it leaves
      // inflight_, so a repeat arriving as the first settles meets one or the other.
      std::lock_guard lock(mutex_);
      if (!inflight_.insert(event.id).second) return false;
    }
    // Ids recorded by an earlier version as entries (get()) count until their window ends.
    if (state.remembers(key) || state.get(key)) {
      settle(event.id);
      return false;
    }
    event.remember_when_accepted(std::move(key), window_);
    return true;
  }

  /// Ends the claim once the emit has been answered (the id is remembered by then if the
  /// event was accepted).
  void settle(const std::string& id) {
    if (!enabled()) return;
    std::lock_guard lock(mutex_);
    inflight_.erase(id);
  }

 private:
  std::string prefix_;
  std::chrono::milliseconds window_{0};
  std::mutex mutex_;
  std::unordered_set<std::string> inflight_;
};

/// A warning logged at most once per `every`; the calls in between are only counted.
class ThrottledWarning {
 public:
  explicit ThrottledWarning(std::chrono::milliseconds every = std::chrono::seconds(10)) : every_(every) {}
  /// Logs `line` (with how many were refused so far) unless one was logged within `every`.
  void warn(Logger& logger, const std::string& line) {
    const auto count = count_.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
    auto last = last_ms_.load(std::memory_order_relaxed);
    if (now - last >= every_.count() && last_ms_.compare_exchange_strong(last, now)) {
      logger.warn(line + " (" + std::to_string(count) + " refused so far)");
    }
  }

 private:
  std::chrono::milliseconds every_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> last_ms_{std::numeric_limits<std::int64_t>::min() / 2};
};

}  // namespace switchyard::intake
