#pragma once
// The live console's view of events: the most recent ones (across pipelines) with what
// each sink did with them. Only envelope fields are kept (id, type, source, subject, time),
// never the payload, which may carry secrets.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchyard {
class Event;
}

namespace switchyard::runtime {

class EventTap {
 public:
  enum class Outcome : std::uint8_t { delivered, failed, dead_lettered };

  /// Keeps the last `capacity` events and records at most `max_per_second` new ones a
  /// second (the rest are counted as skipped), so a busy engine pays little for it.
  explicit EventTap(std::size_t capacity = 100, std::uint32_t max_per_second = 500);

  /// A pipeline took `event` in and ran its transforms over it (so the envelope is the one
  /// its sinks get); `kept`: false when a transform dropped it or failed. Any thread.
  void accepted(std::string_view pipeline, const Event& event, bool kept = true);
  /// A sink of `pipeline` is done with an attempt: delivered, failed (a retry follows) or
  /// given up on (dead-lettered). Ignored for events no longer (or never) recorded.
  void outcome(std::string_view pipeline, std::string_view sink, const Event& event, Outcome outcome,
               std::uint32_t attempt, std::string_view error = {});

  /// Bumped by every change.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  /// {"version":N,"skipped":N,"events":[...]}: the recorded events changed after version
  /// `since` (0: all of them), oldest first.
  std::string changes(std::uint64_t since) const;

 private:
  struct SinkOutcome {
    std::string sink;
    Outcome outcome = Outcome::delivered;
    std::uint32_t attempt = 0;
    std::string error;
  };
  struct Entry {
    std::uint64_t seq = 0;      // 0: empty slot
    std::uint64_t changed = 0;  // version of its last change
    std::string key;            // pipeline '\n' id
    std::string pipeline, id, type, source, subject;
    std::chrono::system_clock::time_point time;
    bool kept = true;
    std::vector<SinkOutcome> sinks;
  };

  bool admit();

  const std::uint32_t max_per_second_;
  mutable std::mutex mutex_;
  std::vector<Entry> ring_;
  std::size_t next_ = 0;  // the slot the next event takes
  std::uint64_t seq_ = 0;
  std::unordered_map<std::string, std::size_t> index_;  // key → slot
  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::atomic<std::int64_t> window_{0};  // the current second (steady clock)
  std::atomic<std::uint32_t> in_window_{0};
};

}  // namespace switchyard::runtime
