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


/// The registry of engines without an admin API (tests, `switchyard test`, `plugins check`).
Registry& unscraped();

}  // namespace switchyard::metrics
