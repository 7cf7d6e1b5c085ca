#pragma once
// The engine's metrics: one prometheus-cpp registry behind the SDK's Metrics interface,
// serialised in the Prometheus text format by the admin API. prometheus-cpp stays inside
// registry.cpp.

#include <functional>
#include <memory>
#include <string>

#include "switchyard/metrics.hpp"

namespace switchyard::metrics {

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Series with exactly `labels`.
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels);
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels);
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> buckets,
                       const MetricLabels& labels);

  /// A component's view: every series gets `pipeline` and `component` first.
  std::unique_ptr<Metrics> scoped(std::string pipeline, std::string component);

  /// Called at the start of every serialize(), to set gauges read at scrape time.
  void set_collector(std::function<void()> collect);

  /// Every series in the Prometheus text exposition format (version 0.0.4).
  std::string serialize();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The engine's own metric names (contract section 11).
namespace names {
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
}  // namespace names

}  // namespace switchyard::metrics
