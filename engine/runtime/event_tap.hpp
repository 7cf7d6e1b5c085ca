#pragma once
// The live console's view of events: the most recent ones (across pipelines) with what
// each sink did with them. Envelope fields are kept (id, type, source, subject, time); the
// payload only while someone asked for payloads (`switchyard tap --payload`, an admin-token
// request), and only up to kMaxPayload bytes an event.

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

  /// Payloads (as the sinks get them) are kept with events recorded while at least one
  /// watcher is there: +1 when a payload stream opens, -1 when it ends.
  void watch_payloads(int delta) { payload_watchers_.fetch_add(delta, std::memory_order_relaxed); }
  /// The largest payload kept; a larger one is noted by its size only.
  static constexpr std::size_t kMaxPayload = 64 * 1024;

  /// Bumped by every change.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  /// {"version":N,"skipped":N,"events":[...]}: the recorded events changed after version
  /// `since` (0: all of them), oldest first; with `payloads`, each kept payload as "data"
  /// (or "data_size" when it was over kMaxPayload).
  std::string changes(std::uint64_t since, bool payloads = false) const;

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
    std::string payload;            // JSON text, while payloads are watched
    std::size_t payload_size = 0;   // > kMaxPayload: not kept, only its size
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
  std::atomic<int> payload_watchers_{0};
  std::atomic<std::int64_t> window_{0};  // the current second (steady clock)
  std::atomic<std::uint32_t> in_window_{0};
};

}  // namespace switchyard::runtime
