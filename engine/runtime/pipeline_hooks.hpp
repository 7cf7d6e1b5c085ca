#pragma once
// Internal: what the parts of a running pipeline (transform chain, sink runners) need from
// the pipeline that owns them.

#include <cstddef>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace switchyard::runtime {

class EventTap;

class PipelineHooks {
 public:
  virtual ~PipelineHooks() = default;
  /// A sink freed a slot or its window, or finished an event (on the pipeline's strand).
  virtual void on_sink_progress() = 0;
  /// Remembers the latest failure for the admin API (any thread).
  virtual void note_error(std::string what) = 0;
  virtual spdlog::logger& logger() = 0;
  virtual EventTap* tap() const = 0;
  virtual const std::string& pipeline_name() const = 0;
  /// A transform split an event counted for `parent_bytes` into `events` events of
  /// `bytes` in all: the ingress counts those instead (on the pipeline's strand).
  virtual void replaced(std::size_t parent_bytes, std::size_t events, std::size_t bytes) = 0;
  /// Keeps the pipeline (and its parts) alive for work posted to its strand.
  virtual std::shared_ptr<const void> keep_alive() = 0;
};

}  // namespace switchyard::runtime
