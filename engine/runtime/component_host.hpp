#pragma once
// One component's life in the engine: created from its declaration, configured with its
// validated options and a context of engine services, started, drained and stopped. This
// is the one place the engine calls into a plugin: every call is guarded (an exception
// becomes an error naming the component, never a crash), and the pipeline, `plugins check`
// and `switchyard test` all run components through it.

#include <functional>
#include <memory>
#include <string>

#include "config/pipeline_config.hpp"
#include "runtime/component_context.hpp"

namespace switchyard::runtime {

class ComponentHost {
 public:
  /// `label` names the component in messages: "sinks[1] 'alert'".
  ComponentHost(const config::ComponentConfig& config, std::string label);
  ~ComponentHost();
  ComponentHost(ComponentHost&&) noexcept;
  ComponentHost& operator=(ComponentHost&&) noexcept;

  /// Creates the component and configures it with a context on `strand`; `drops`: where its
  /// drops are counted for the admin API (nullptr: only in the metrics).
  Status configure(const std::string& pipeline, Strand strand, Services& services, Emitter& emitter,
                   Replies& replies, bool durable_state, std::shared_ptr<DropBook> drops = nullptr);
  /// Starts it, on its strand.
  Status start();
  /// Asks it to drain; `done` runs once (any thread), also when drain() throws.
  void drain(std::function<void()> done);
  /// Stops it on its strand, then drops the tasks it posted that have not run.
  void stop();

  /// A transform's decision, `threw` turned into a permanent error. Call on its strand.
  Result<Verdict> apply(Event& event);
  /// An asynchronous transform's decision (done exactly once, possibly inline).
  void process(Event& event, TransformCallback done);
  /// A splitting transform's events, `threw` turned into a permanent error. Call on its strand.
  Result<Events> split(Event& event);
  /// A sink's delivery; an exception is reported through `done`.
  void deliver(EventPtr event, DeliveryCallback done);

  /// The transform as an AsyncTransform, or nullptr.
  AsyncTransform* asynchronous() const { return async_; }
  /// The transform as a SplitTransform, or nullptr.
  SplitTransform* splitting() const { return split_; }
  bool configured() const { return component_ != nullptr; }
  /// A sink's Sink::reads_payload(), asked once it is configured.
  bool reads_payload() const { return reads_payload_; }
  const std::string& label() const { return label_; }
  const config::ComponentConfig& config() const { return *config_; }
  ComponentContext& context() { return *context_; }
  Component& component() { return *component_; }

 private:
  template <class F>
  Status guarded(const char* what, F&& call);

  const config::ComponentConfig* config_;
  std::string label_;
  std::unique_ptr<ComponentContext> context_;
  std::unique_ptr<Options> options_;
  std::unique_ptr<Component> component_;
  AsyncTransform* async_ = nullptr;
  SplitTransform* split_ = nullptr;
  bool changes_payload_ = true;  // a transform's: the event's raw payload bytes are forgotten before it runs
  bool reads_payload_ = true;    // a sink's
};

}  // namespace switchyard::runtime
