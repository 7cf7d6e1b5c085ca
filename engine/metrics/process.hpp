#pragma once
// The process's own figures in the names Prometheus client libraries use
// (process_cpu_seconds_total, process_resident_memory_bytes, ...), read from /proc at
// scrape time: prometheus-cpp has no process collector.

#include "metrics/registry.hpp"

namespace switchyard::metrics {

/// Sets the process_* series from /proc/self (call from the registry's collector).
void collect_process(Registry& registry);

}  // namespace switchyard::metrics
