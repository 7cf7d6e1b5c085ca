#pragma once
// Events that did not reach a sink, by component and reason, for the admin API and the
// console: the same counts as switchyard_events_dropped_total{pipeline,component,reason},
// because both are fed by one increment (a component's drop counters are teed here).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchyard/metrics.hpp"

namespace switchyard::runtime {

/// Not in the SDK's metrics::names (the SDK is not changed for it); plugins name it as written.
inline constexpr const char* kDroppedMetric = "switchyard_events_dropped_total";
inline constexpr const char* kDroppedHelp =
    "Events that did not reach a sink (or, for a sink's component, that sink), by reason: signature, "
    "deduplicated, filtered, rate_limited, dropped, transform_error, dead_lettered.";

/// One pipeline version's drop counts. Thread-safe; counting is one atomic add.
class DropBook {
 public:
  struct Count {
    std::string component;
    std::string reason;
    std::uint64_t count = 0;
  };

  /// The counter of (component, reason); its address is stable for the book's life.
  std::atomic<std::uint64_t>& slot(const std::string& component, const std::string& reason);
  /// Every (component, reason) counted so far, in the order they were first registered.
  std::vector<Count> counts() const;
  /// The sum over every component of `reason`.
  std::uint64_t total(const std::string& reason) const;

  /// A request the source refused (401): why, as the sender was told, with the time.
  void refused(std::string why);
  /// "2026-12-06T19:40:00Z X-Hub-Signature-256 does not match the body"; empty: none.
  std::string last_refusal() const;

 private:
  struct Slot {
    std::string component, reason;
    std::atomic<std::uint64_t> count{0};
  };
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::string last_refusal_;
};

/// A component's metrics whose drops are also counted in `book`: the counter kDroppedMetric
/// (by its `reason` label) and switchyard_signature_failures_total (reason "signature", also
/// counted in kDroppedMetric). `book` nullptr: `inner` unchanged.
std::unique_ptr<Metrics> count_drops(std::unique_ptr<Metrics> inner, std::shared_ptr<DropBook> book,
                                     std::string component);

/// The reason of an error answer ({"error":"..."}), else the body, at most 200 bytes.
std::string answer_reason(const std::string& body);

}  // namespace switchyard::runtime
