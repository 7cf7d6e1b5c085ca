#pragma once
// Metrics a component reports. The engine exposes them in the Prometheus text format on
// the admin listener (GET /metrics) with the `pipeline` and `component` labels already
// set, so a plugin only names the metric and any labels of its own.
//
//   auto& failures = context.metrics().counter("switchyard_signature_failures_total",
//                                              "Requests refused for a bad signature.");
//   failures.inc();
//
// Names follow Prometheus conventions: snake_case, a unit suffix (_seconds, _bytes), and
// _total for counters. Handles stay valid for the component's lifetime; the same name and
// labels always give the same series (so counters continue across a pipeline reload).

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchyard {

/// Extra labels of a series, besides `pipeline` and `component`.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

/// A value that only goes up (resets when the process restarts).
class Counter {
 public:
  virtual ~Counter() = default;
  virtual void inc(double by = 1) = 0;
};

/// A value that goes up and down.
class Gauge {
 public:
  virtual ~Gauge() = default;
  virtual void set(double value) = 0;
  virtual void inc(double by = 1) = 0;
  virtual void dec(double by = 1) = 0;
};

/// Observations counted into buckets (for latencies and sizes).
class Histogram {
 public:
  virtual ~Histogram() = default;
  virtual void observe(double value) = 0;
};

/// Bucket upper bounds for latencies of webhook work, from 1 ms to 60 s.
inline constexpr double kLatencyBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,    30,    60};

/// The component's view of the engine's metrics registry. Thread-safe.
class Metrics {
 public:
  virtual ~Metrics() = default;
  /// The counter `name` with this component's labels plus `labels`. The first help text
  /// given for a name is the one exported. A name already used with another type yields a
  /// series that is counted but not exported (and an error in the log).
  virtual Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {}) = 0;
  virtual Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {}) = 0;
  /// `buckets`: increasing upper bounds; the first use of `name` fixes them.
  virtual Histogram& histogram(std::string_view name, std::string_view help,
                               std::span<const double> buckets = kLatencyBuckets,
                               const MetricLabels& labels = {}) = 0;
};

/// The metric names of the contract (docs/operations.md), shared by the engine and plugins.
namespace metrics::names {
inline constexpr const char* kReceived = "switchyard_events_received_total";
inline constexpr const char* kDelivered = "switchyard_events_delivered_total";
inline constexpr const char* kFailures = "switchyard_delivery_failures_total";
inline constexpr const char* kLatency = "switchyard_delivery_latency_seconds";
inline constexpr const char* kSignatureFailures = "switchyard_signature_failures_total";
inline constexpr const char* kQueueDepth = "switchyard_queue_depth";
inline constexpr const char* kDlqEvents = "switchyard_dlq_events";
inline constexpr const char* kWebsocketConnections = "switchyard_websocket_connections";
inline constexpr const char* kReloads = "switchyard_reloads_total";
inline constexpr const char* kBuildInfo = "switchyard_build_info";
}  // namespace metrics::names

/// Help texts of the contract's metrics that plugins report.
namespace metrics::help {
inline constexpr const char* kSignatureFailures = "Requests refused because their signature was missing or wrong.";
inline constexpr const char* kWebsocketConnections = "Open WebSocket connections.";
}  // namespace metrics::help

}  // namespace switchyard
