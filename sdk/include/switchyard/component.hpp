#pragma once
// The three kinds of component and their lifecycle:
//   configure (options already validated) → start → (events) → drain → stop.
// The engine catches exceptions where it calls into a component, but components should
// report failures as Status values and must not throw on the per-event path.

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/context.hpp"
#include "switchyard/event.hpp"
#include "switchyard/options.hpp"
#include "switchyard/result.hpp"

namespace switchyard {

/// Base of every component.
class Component {
 public:
  virtual ~Component() = default;
  /// Builds the component from validated options. `context` outlives the component.
  virtual Status configure(const Options& options, Context& context) = 0;
  /// Starts work (listen, connect, arm timers). A failure fails this pipeline only.
  virtual Status start() { return {}; }
  /// Stops taking new work and calls `done` once in-flight work has finished. Sources stop
  /// emitting; sinks finish their deliveries. The engine bounds the wait by shutdown_timeout.
  virtual void drain(std::function<void()> done) { done(); }
  /// Releases resources; every timer and operation the component started is cancelled.
  virtual void stop() {}
};

/// Produces events and hands them to context.emitter().
class Source : public Component {};

/// What a transform decided for an event.
enum class Verdict {
  keep,  ///< Pass the (possibly modified) event on.
  drop,  ///< Stop here: no sink receives it.
};

class AsyncTransform;
class SplitTransform;

/// Inspects and may modify or drop each event, synchronously, on the pipeline's strand.
class Transform : public Component {
 public:
  /// Decides an event's fate. An error counts as a failure of this event (not retried).
  virtual Result<Verdict> apply(Event& event) = 0;
  /// This transform as an AsyncTransform, or nullptr (the engine asks once, at start).
  virtual AsyncTransform* asynchronous() { return nullptr; }
  /// This transform as a SplitTransform, or nullptr (the engine asks once, at start).
  virtual SplitTransform* splitting() { return nullptr; }
  /// Whether it may change an event's payload (`data`): then the engine forgets the
  /// payload's received bytes (Event::raw_data) before it runs, and they are serialised
  /// from `data` afterwards. A transform that only reads the payload (a filter, a
  /// deduplicator) or changes only the envelope says false (the engine asks once, after
  /// configure).
  virtual bool changes_payload() const { return true; }
};

/// Events a SplitTransform made from one event, in order.
using Events = std::vector<std::unique_ptr<Event>>;

/// A transform that replaces each event with several (none, one or many), synchronously,
/// on the pipeline's strand: one event per item of an array, say. Each new event goes
/// through the rest of the chain on its own, in order, behind the events before its parent;
/// each is journaled as an event of its own (the state the transforms wrote for the parent
/// with the first), and the source hears back once all of them are. Give the new events
/// ids derived from the parent's, so that a redelivery of the parent makes the same ones.
class SplitTransform : public Transform {
 public:
  /// The events that replace `event`, in order; none: it is dropped. An error counts as a
  /// failure of this event, as apply's does.
  virtual Result<Events> split(Event& event) = 0;

  Result<Verdict> apply(Event&) final { return permanent("a splitting transform has no apply: the engine calls split"); }
  SplitTransform* splitting() final { return this; }
};

/// Gets an asynchronous transform's decision; call exactly once, from any thread.
using TransformCallback = std::function<void(Result<Verdict>)>;

/// A transform that waits for something outside (a database, an HTTP API) without blocking
/// the pipeline. The engine keeps events in their order around it: an event that finishes
/// early waits for the ones that entered before it. How many events it holds at once is
/// bounded by the pipeline's queue_size (and by the transform itself, if it wants less).
class AsyncTransform : public Transform {
 public:
  /// Decides the fate of `event`, which it may modify until it calls `done`. The event is
  /// not touched by anyone else and stays alive until then.
  virtual void process(Event& event, TransformCallback done) = 0;

  Result<Verdict> apply(Event&) final { return permanent("an asynchronous transform has no synchronous apply"); }
  AsyncTransform* asynchronous() final { return this; }
};

/// Called once a sink has finished with an event: success, or an error whose kind decides
/// between a retry (retryable, honouring retry_after) and the dead-letter queue (permanent).
using DeliveryCallback = std::function<void(Status)>;

/// What a sink would send for one event, built the way deliver() builds it and sent
/// nowhere: what `switchyard test` checks under `rendered:` and `switchyard render` prints.
/// A sink that speaks HTTP fills it as its request; others with what comes nearest (an
/// e-mail: method "SMTP", the server as url, the message's header fields and text; a
/// database: the statement as body, its parameters as headers "$1", "$2"...).
struct Rendering {
  std::string method;   ///< "POST", "SMTP", "SQL"...
  std::string url;      ///< Where it would go.
  HttpHeaders headers;  ///< What the sink sets itself (not the client's defaults).
  std::string body;     ///< The body as sent (a JSON text, an e-mail's text, a statement).
};

/// Delivers events somewhere outside.
class Sink : public Component {
 public:
  /// Delivers one event; calls `done` exactly once, from any thread, possibly before returning.
  virtual void deliver(EventPtr event, DeliveryCallback done) = 0;
  /// What deliver() would send for `event`, without sending it or touching anything outside
  /// (no connection, no state written), on the sink's strand after configure. nullopt: this
  /// sink cannot say (the default). An error: what deliver() would fail the event with (a
  /// template that does not render, say).
  virtual Result<std::optional<Rendering>> render(const Event& event) {
    (void)event;
    return std::optional<Rendering>();
  }
  /// False when deliver() and render() read of an event only its envelope, meta and
  /// raw_data(), never `data` (a sink that forwards the CloudEvent as received): the engine
  /// may then hand it events whose payload is deferred (Event::payload_deferred) and need
  /// not parse them. Asked once, after configure().
  virtual bool reads_payload() const { return true; }
};

/// The kind of a component.
enum class ComponentKind { source, transform, sink };

inline const char* to_string(ComponentKind kind) {
  switch (kind) {
    case ComponentKind::source: return "source";
    case ComponentKind::transform: return "transform";
    case ComponentKind::sink: return "sink";
  }
  return "unknown";
}

/// How the service behind an HTTP source signs what it sends, so `switchyard send` can
/// post a sample request the source accepts (for trying a pipeline by hand). The engine
/// knows nothing of any service's signature scheme: the source's plugin does.
struct RequestSigner {
  const char* service = "";         ///< The `switchyard send <service>` verb: "github", "slack".
  const char* default_path = "";    ///< The source's default route, e.g. "/github/webhook".
  const char* secret_variable = "";  ///< Where the secret usually is: "GITHUB_WEBHOOK_SECRET".
  const char* argument = nullptr;   ///< The verb's extra argument, if any: "event" (X-GitHub-Event).
  /// Sets the body's content type and the service's headers on `request` (whose body is
  /// set): a signature over it with `secret`, timestamps, ids. `argument`: the extra
  /// argument's value ("" without one).
  Status (*sign)(std::string_view secret, std::string_view argument, HttpClientRequest& request) = nullptr;
};

/// One component type a plugin provides, declared once: kind, type name, summary, options
/// and a factory. The engine derives validation, defaults, docs and redaction from it.
struct ComponentDecl {
  ComponentKind kind = ComponentKind::source;
  const char* type = "";     ///< Type name used in pipeline YAML, e.g. "github.webhook".
  const char* summary = "";  ///< One line for `plugins list` and the docs.
  std::span<const OptionSpec> options;
  std::unique_ptr<Component> (*create)() = nullptr;
  /// HTTP sources: how their sender signs requests (`switchyard send`); nullptr: none.
  const RequestSigner* signer = nullptr;
};

/// A factory for ComponentDecl::create.
template <class T>
std::unique_ptr<Component> make_component() {
  return std::make_unique<T>();
}

}  // namespace switchyard
