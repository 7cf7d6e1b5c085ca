#pragma once
// A running pipeline: source → transforms → fan-out to sinks, with bounded queues and
// backpressure back to the source (runtime/pipeline.cpp wires ingress.cpp,
// transform_chain.cpp and sink_runner.cpp; components live in component_host.cpp).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "runtime/drops.hpp"
#include "switchyard/result.hpp"

namespace switchyard::runtime {

struct Services;

/// Counters of one sink, for the admin API, logs and tests.
struct SinkStats {
  std::string name;
  std::uint64_t delivered = 0;
  std::uint64_t retried = 0;
  std::uint64_t failed = 0;        ///< Attempts that failed.
  std::uint64_t dead_lettered = 0; ///< Events given up on.
  std::uint64_t skipped = 0;       ///< Events its if: did not select.
  std::size_t queued = 0;          ///< Waiting in memory or in flight.
  std::size_t backlog = 0;         ///< Not yet delivered: in the journal (durable) or queued.
};

struct PipelineStats {
  std::uint64_t received = 0;  ///< Accepted from the source.
  std::uint64_t refused = 0;   ///< Refused while saturated or stopping.
  std::uint64_t refused_signature = 0;  ///< Requests the source refused for a missing or wrong signature.
  std::uint64_t dropped = 0;   ///< Dropped by a transform.
  std::uint64_t transform_errors = 0;
  std::string last_error;  ///< The latest failure of any component, with its time; empty: none.
  std::string last_refusal;  ///< The latest request the source refused (401), with its time and reason.
  /// Events that did not reach a sink (or one sink), by component and reason: the
  /// switchyard_events_dropped_total series of this pipeline version.
  std::vector<DropBook::Count> drops;
  std::vector<SinkStats> sinks;
};

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  /// Creates and configures every component; exceptions from plugins become errors.
  virtual Status build() = 0;
  /// Starts sinks, then transforms, then the source. On failure, stops what started.
  virtual Status start() = 0;
  /// Stops the source and calls `done` once every accepted event has been handled
  /// (delivered, dead-lettered or dropped). `done` runs on an executor thread.
  virtual void drain(std::function<void()> done) = 0;
  /// Stops every component. Call after drain (or after its timeout).
  virtual void stop() = 0;

  // Hot reload: the new version of a running pipeline starts with its deliveries held, so
  // the two versions never deliver the same journaled event; the old one is drained with
  // drain_for_replacement() and stopped, then the new one is released and delivers what
  // the old one left in the journal, then its own events, in order.
  /// Call before start(): sinks wait for release() before delivering (durable pipelines).
  virtual void hold_deliveries() = 0;
  virtual void release() = 0;
  /// A newer version starts now: read nothing from the journal committed after `last_seq`
  /// (the journal's last sequence number before it started), from now on, even while this
  /// version is still held waiting for its own predecessor to drain. Else, released later,
  /// it would read (and deliver with its own, superseded, configuration) the newer
  /// version's events.
  virtual void limit_reads(std::uint64_t last_seq) = 0;
  /// limit_reads()' argument that lifts the limit (the newer version failed to start).
  static constexpr std::uint64_t kNoReadLimit = ~std::uint64_t{0} >> 1;
  /// drain(), reading nothing from the journal committed after `last_seq` (the journal's
  /// last sequence number before the new version started).
  virtual void drain_for_replacement(std::function<void()> done, std::uint64_t last_seq) = 0;
  virtual const std::string& name() const = 0;
  /// Counters; with `backlog`, also each sink's undelivered events (a journal query).
  virtual PipelineStats stats(bool backlog = false) const = 0;
  virtual const config::PipelineConfig& config() const = 0;
  /// Events accepted but not yet finished.
  virtual std::size_t in_flight() const = 0;
};

/// A pipeline for `config`; its components get the engine's shared `services`.
std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<const config::PipelineConfig> config,
                                        Services& services);

}  // namespace switchyard::runtime
