#pragma once
// Internal: runs a pipeline's transforms over each event, in order, on the pipeline's strand.
// Synchronous transforms run inline. An asynchronous one (AsyncTransform: a database
// query, an HTTP call) lets the strand go on with the next events while it waits; events
// still leave the chain in the order they entered it, so the journal and the sinks see
// the same order as without it. State a transform writes while handling an event is
// captured with the event (committed in the same journal transaction).
// A splitting transform (SplitTransform) replaces an event with the events it makes: each
// goes through the rest of the chain on its own, in order, where its parent was, and
// leaves as an event of its own; the parent's state writes leave with the first, and the
// source hears back once every one of them has been answered.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "journal/journal.hpp"
#include "runtime/component_host.hpp"
#include "runtime/pipeline_hooks.hpp"

namespace switchyard::runtime {

/// An event on its way through a pipeline, with the source's callback (durable pipelines
/// acknowledge the source once the event is journaled; `until_done` events once every sink
/// is done with them).
struct Incoming {
  std::unique_ptr<Event> event;
  EmitCallback done;
  bool until_done = false;  // Emitter::emit_until_done: not journaled, answered at the end
  std::size_t bytes = 0;    // the event's memory when it arrived, as the ingress counted it
  std::int64_t replaces = 0;  // a dead letter of a transform being replayed: its DLQ entry
  bool examined = false;      // a blocked pipeline looked at it: its payload may be shelved
  bool shelved = false;       // only its raw bytes are held until the transforms take it
  // The emitting source's state store: the keys its event asks to be remembered
  // (Event::remember_when_accepted) go there as it enters the chain, with the event's writes.
  StateStore* source_state = nullptr;
};

class TransformChain {
 public:
  /// An event through the chain: `kept` false when a transform dropped it or failed.
  struct Finished {
    Incoming incoming;
    bool kept = true;
    journal::StateWrites writes;  // captured state writes (durable pipelines)
    std::string failed_at;        // the transform that failed it ("transforms[1] 'enrich'"); empty: none
    std::string error;            // and why
    std::string dropped_by;       // the transform that dropped it ("transforms[0] 'dedup'"); empty: none
    std::string drop_reason;      // and its reason label ("deduplicated")
    // The event as it entered the chain (kept_originals): what the dead-letter queue
    // stores when a transform fails it, so a replay runs the whole chain again.
    std::shared_ptr<const Event> original;
  };
  using Output = std::function<void(Finished)>;

  /// `stages` outlive the chain; `capture_state`: durable pipelines tie state writes to events.
  /// `keep_originals`: each event's copy as it entered rides along (Finished::original).
  TransformChain(PipelineHooks& hooks, std::vector<ComponentHost>& stages, Strand strand, bool capture_state,
                 bool keep_originals, Output output);

  /// Takes an event in; `output` gets it (now, or once the asynchronous transforms before
  /// it are done), on the strand. Call on the strand.
  void run(Incoming incoming);
  /// Events inside asynchronous transforms, or waiting for earlier ones to leave.
  std::size_t waiting() const { return items_.size(); }
  /// No event leaves any more; late callbacks are ignored.
  void stop() { stopped_ = true; }

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  /// Events made by splitting transforms.
  std::uint64_t derived() const { return derived_.load(std::memory_order_relaxed); }
  /// The reason label of a transform's drops, by its type: filter → filtered, dedup →
  /// deduplicated, rate_limit → rate_limited, any other → dropped.
  static std::string drop_reason(std::string_view type);

 private:
  struct Item {
    Finished finished;
    std::size_t next = 0;  // the stage to run next
    bool done = false;
  };
  // Where an event entered; the events split from the one at {7} are at {7, 0}, {7, 1}...:
  // in the map's order, behind their parent's place and before the next event's.
  using Ticket = std::vector<std::uint64_t>;

  // Everything inline: runs stages from `from` and hands the event (or what it split into) on.
  void run_inline(Finished f, std::size_t from);
  // Runs stages from item.next until the event is decided or waits for an async stage.
  void advance(const Ticket& ticket);
  // Counts a verdict; true when the event goes on to the next stage.
  bool judge(const ComponentHost& stage, Finished& f, const Result<Verdict>& verdict);
  // A splitting stage on `f`: the events that replace it, each with its share of f's
  // callback (the first with f's state writes); empty when f went no further (kept false).
  std::vector<Finished> split(ComponentHost& stage, Finished& f);
  void decided(const Ticket& ticket, Result<Verdict> verdict);
  void release();

  PipelineHooks& hooks_;
  std::vector<ComponentHost>& stages_;
  Strand strand_;
  const bool capture_state_;
  const bool has_async_;
  const bool keep_originals_;
  Output output_;
  std::map<Ticket, Item> items_;  // by ticket: the order events entered
  std::uint64_t next_ticket_ = 0;
  bool stopped_ = false;
  std::atomic<std::uint64_t> dropped_{0}, errors_{0}, derived_{0};
  // Per stage: switchyard_events_dropped_total{reason=filtered|deduplicated|...} and
  // {reason=transform_error}, through the stage's context (so the admin API counts them too).
  struct StageCounters {
    Counter* dropped = nullptr;
    Counter* failed = nullptr;
  };
  std::vector<StageCounters> counters_;
};

}  // namespace switchyard::runtime
