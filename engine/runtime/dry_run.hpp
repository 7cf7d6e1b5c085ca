#pragma once
// Components for running a real pipeline without its real ends: an input source that
// emits given events, and a capture sink that records what a sink would receive.
// `switchyard test` runs a pipeline with its source and sinks swapped for these, and
// `plugins check` puts them around the component it checks, so both run exactly what
// `switchyard run` runs in between. Engine-internal: no plugin declares them.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/pipeline_config.hpp"
#include "switchyard/component.hpp"

namespace switchyard::runtime {

/// Shared by the input source and the capture sinks of one dry run: the events to emit,
/// and what each sink received.
class DryRunBoard {
 public:
  explicit DryRunBoard(std::vector<std::unique_ptr<Event>> inputs = {}) : inputs_(std::move(inputs)) {}

  /// The input source takes the inputs once.
  std::vector<std::unique_ptr<Event>> take_inputs();
  void capture(const std::string& sink, EventPtr event);
  /// What `sink` received, in order.
  std::vector<EventPtr> captured(const std::string& sink) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Event>> inputs_;
  std::map<std::string, std::vector<EventPtr>> captured_;
};

/// The input source's declaration (type "switchyard.input"): it emits its board's inputs
/// in order, respecting backpressure, and drains once it has emitted them all.
const ComponentDecl& dry_run_input_decl();
/// The capture sink's declaration (type "switchyard.capture"): it records every event.
const ComponentDecl& dry_run_capture_decl();

/// The configuration of an input source, or a capture sink named `name`, on `board`
/// (kept alive by the returned configuration's options).
config::ComponentConfig dry_run_input(const std::shared_ptr<DryRunBoard>& board);
config::SinkConfig dry_run_capture(const std::shared_ptr<DryRunBoard>& board, std::string name);

/// A stand-in for a transform that needs something a test does not have (postgres.query
/// needs a database; http.request a server): the stub transform (type "switchyard.stub"),
/// named `name`, does to every event what `spec` says — {"meta": {...}} sets those members
/// of the event's meta (the rows a query would have found), {"payload": {...}} those of its
/// payload ("a.b" names a member inside nested objects), {"drop": true} drops it — and keeps
/// it otherwise. Errors name what is wrong with the spec.
Result<config::ComponentConfig> dry_run_stub(std::string name, const rapidjson::Value& spec);

struct Services;
struct PipelineStats;

/// Runs `config` once: build, start, let it run for `settle`, drain (bounded by
/// `timeout`) and stop. The error names the component that failed, or says the drain
/// did not finish.
Result<PipelineStats> dry_run(std::shared_ptr<const config::PipelineConfig> config, Services& services,
                              std::chrono::milliseconds settle, std::chrono::milliseconds timeout);

}  // namespace switchyard::runtime
