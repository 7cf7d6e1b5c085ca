// The event path of a running pipeline: from the ingress through the transforms and (durable
// pipelines) the journal to the sink runners, with the answers owed to sources and the
// events that wait as their bytes behind a full sink (runtime/held_payload.hpp).
#include "journal/codec.hpp"
#include "runtime/held_payload.hpp"
#include "runtime/pipeline_runtime.hpp"

namespace switchyard::runtime {
namespace {

constexpr std::size_t kBatch = 512;  // events per strand turn, for fairness

}  // namespace

// One strand turn: up to kBatch arrived events into the transforms.
void PipelineRuntime::process() {
  if (stopped_) return;  // nothing runs through stopped components
  processing_ = true;
  ingress_.take(pending_);
  std::size_t budget = kBatch;
  while (!pending_.empty() && budget-- > 0) {
    // In memory, a full sink pushes back on the whole pipeline; with a journal it reads
    // its overflow back later instead.
    if (!durable_ && std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->full(); })) {
      blocked_ = true;
      break;
    }
    // Events that skip the journal (emit_until_done) are pushed back like a memory
    // pipeline's, in any pipeline.
    if (pending_.front().until_done &&
        std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->full(); })) {
      blocked_ = true;
      break;
    }
    Incoming incoming = std::move(pending_.front());
    pending_.pop_front();
    if ((incoming.shelved || (parse_payloads_ && incoming.event->payload_deferred())) && !unshelve(incoming)) {
      continue;
    }
    chain_->run(std::move(incoming));
  }
  processing_ = false;
  if (blocked_) shelve_pending();
  if (!pending_.empty() && !blocked_) {
    asio::post(strand_, [self = shared_from_this()] { self->process(); });
  }
  check_drained();
}

// Blocked, the events waiting for the transforms may wait long: each new one keeps only
// its received bytes meanwhile (runtime/held_payload.hpp), and the ingress counts that.
void PipelineRuntime::shelve_pending() {
  for (auto it = pending_.rbegin(); it != pending_.rend() && !it->examined; ++it) {
    it->examined = true;
    if (!shelve_payload(*it->event)) continue;
    it->shelved = true;
    const std::size_t bytes = it->event->memory_size();
    ingress_.resized(it->bytes, bytes);
    it->bytes = bytes;
  }
}

// Its payload parsed (again, or the first time when its source deferred it) before the
// transforms have it. Those bytes passed the source's check; should they not parse now,
// the event cannot go on: said loudly, and the source is told where it still waits for an
// answer.
bool PipelineRuntime::unshelve(Incoming& incoming) {
  if (auto parsed = unshelve_payload(*incoming.event); !parsed) {
    log_->error("event {}: its payload does not parse before the transforms ({}); dropped, its source told so",
                incoming.event->id, parsed.error().message);
    note_error(parsed.error().message);
    ingress_.acknowledge(std::move(incoming.done), parsed.error());
    ingress_.finished(incoming.bytes);
    return false;
  }
  incoming.shelved = false;
  const std::size_t bytes = incoming.event->memory_size();
  ingress_.resized(incoming.bytes, bytes);
  incoming.bytes = bytes;
  return true;
}

// An event out of the transforms: to the sinks whose if: holds, through the journal when
// the pipeline is durable.
void PipelineRuntime::fan_out(TransformChain::Finished finished) {
  Event& event = *finished.incoming.event;
  if (services_.tap) services_.tap->accepted(config_->name, event, finished.kept);
  if (!finished.failed_at.empty()) return failed(std::move(finished));
  if (!finished.kept && finished.incoming.replaces != 0 && !finished.dropped_by.empty()) {
    // A transform's dead letter, replayed, and dropped this time: a dedup or rate_limit
    // that saw it on its first pass, or a filter changed since. Taking the entry out would
    // lose the event without a word; it goes back in, saying what dropped it.
    finished.failed_at = finished.dropped_by;
    finished.error = "dropped (" + finished.drop_reason + ") when replayed from the dead-letter queue; left there: "
                     "replay it once the transform lets it through (a dedup window or rate limit passes), or "
                     "`switchyard dlq drop` it";
    return failed(std::move(finished));
  }
  if (!finished.kept) no_reply(event.id, "a transform dropped it");
  std::uint64_t mask = 0;
  std::vector<SinkRunner*> selected;
  if (finished.kept) {
    for (auto& sink : sinks_) {
      const auto& condition = sink->config().condition;
      if (condition && !condition->evaluate(event)) {
        sink->skip();
        continue;
      }
      selected.push_back(sink.get());
      mask |= sink->bit();
    }
  }
  if (finished.kept && selected.empty()) no_reply(event.id, "no sink's if: took it");
  const bool reply_owed = !selected.empty() && replies_.waiting(event.id);
  if (finished.incoming.until_done) return until_done(std::move(finished), selected, reply_owed);
  auto wait = reply_owed ? reply_wait(event.id, selected.size()) : nullptr;
  if (!durable_) {
    hand_to(selected, 0, EventPtr(std::move(finished.incoming.event)), wait);
    ingress_.acknowledge(std::move(finished.incoming.done), {});  // a replayed dead letter's
    ingress_.finished(finished.incoming.bytes);
    check_drained();  // that may have been the last event a drain waits for
    return;
  }
  if (selected.empty()) {
    // Nothing to deliver: only the transforms' state changes need the journal.
    if (!finished.writes.empty()) journal_->append(key_->id, 0, {}, std::move(finished.writes), nullptr);
    ingress_.acknowledge(std::move(finished.incoming.done), {});
    ingress_.finished(finished.incoming.bytes);
    check_drained();  // that may have been the last event a drain waits for
    return;
  }
  // The received payload goes to the log from the event itself, which the callback keeps
  // (unchanged) until the journal is done with it.
  journal::EncodedEvent body = journal::encode_event_pieces(event);
  std::vector<StateKey> keys;
  for (const auto& w : finished.writes) keys.push_back(StateKey{w.key, w.remember});
  auto self = shared_from_this();
  journal_->append(
      key_->id, mask, std::move(body.head), std::move(finished.writes),
      [self, event = EventPtr(std::move(finished.incoming.event)), selected = std::move(selected),
       done = std::move(finished.incoming.done), keys = std::move(keys), bytes = finished.incoming.bytes,
       wait = std::move(wait)](Result<std::uint64_t> seq) mutable {
        // Committed: the source answers from here (the writer thread posts to its
        // executor) instead of after a hop through this strand, which delivers.
        if (seq) self->ingress_.acknowledge(std::exchange(done, nullptr), {});
        asio::post(self->strand_, [self, event = std::move(event), selected = std::move(selected),
                                   done = std::move(done), keys = std::move(keys), seq = std::move(seq), bytes,
                                   wait = std::move(wait)]() mutable {
          self->committed(seq, std::move(event), selected, std::move(done), keys, bytes, wait);
        });
      },
      body.payload);
}

// A transform failed the event: into the dead-letter queue, named after the transform, as
// the event came in (a replay runs the whole chain again); the source is answered once the
// entry is committed. Without a journal (no state.dir) the event is lost: said loudly.
void PipelineRuntime::failed(TransformChain::Finished finished) {
  const Event& event = finished.original ? *finished.original : *finished.incoming.event;
  if (!journal_) {
    log_->error("{}: event {} failed: {}; no state.dir, so it is lost", finished.failed_at, event.id, finished.error);
    no_reply(event.id, "a transform failed on it");
    ingress_.acknowledge(std::move(finished.incoming.done), {});
    ingress_.finished(finished.incoming.bytes);
    check_drained();  // that may have been the last event a drain waits for
    return;
  }
  log_->error("{}: event {} failed: {}; moved to the dead-letter queue", finished.failed_at, event.id, finished.error);
  no_reply(event.id, "a transform failed on it");
  journal_->dead_letter(journal::Failure{.pipeline = config_->name,
                                         .sink = finished.failed_at,
                                         .event_id = event.id,
                                         .type = event.type,
                                         .error = finished.error,
                                         .attempts = 1,
                                         .replaces = finished.incoming.replaces},
                        0, 0, journal::encode_event(event));
  if (key_) {
    // Committed after the dead letter (the writer keeps the order): then the source hears.
    auto self = shared_from_this();
    journal_->append(key_->id, 0, {}, durable_ ? std::move(finished.writes) : journal::StateWrites{},
                     [self, done = std::move(finished.incoming.done), bytes = finished.incoming.bytes](
                         Result<std::uint64_t> seq) mutable {
                       asio::post(self->strand_, [self, done = std::move(done), bytes, seq = std::move(seq)]() mutable {
                         self->ingress_.acknowledge(std::move(done), seq ? Status{} : Status(seq.error()));
                         self->ingress_.finished(bytes);
                         self->check_drained();
                       });
                     });
    return;
  }
  ingress_.acknowledge(std::move(finished.incoming.done), {});
  ingress_.finished(finished.incoming.bytes);
  check_drained();  // that may have been the last event a drain waits for
}

// An emit_until_done event: not journaled; the source hears back once every selected sink
// has delivered or dead-lettered it. State its transforms wrote is journaled on its own.
void PipelineRuntime::until_done(TransformChain::Finished finished, const std::vector<SinkRunner*>& selected,
                                 bool reply_owed) {
  if (durable_ && !finished.writes.empty()) journal_->append(key_->id, 0, {}, std::move(finished.writes), nullptr);
  ingress_.finished(finished.incoming.bytes);
  check_drained();  // that may have been the last event a drain waits for
  if (selected.empty()) return ingress_.acknowledge(std::move(finished.incoming.done), {});
  std::string id = reply_owed ? finished.incoming.event->id : std::string();
  auto wait = std::make_shared<DeliveryWait>(
      selected.size(), [this, done = std::move(finished.incoming.done), id = std::move(id)](Status status) mutable {
        if (!id.empty()) no_reply(id, "every sink it went to finished without replying");
        ingress_.acknowledge(std::move(done), std::move(status));  // a failure: the source keeps it
      });
  hand_to(selected, 0, EventPtr(std::move(finished.incoming.event)), wait);
}

// The journal has the event (or failed to take it): deliver and acknowledge the source.
void PipelineRuntime::committed(const Result<std::uint64_t>& seq, EventPtr event,
                                const std::vector<SinkRunner*>& selected, EmitCallback done,
                                const std::vector<StateKey>& keys, std::size_t bytes,
                                const std::shared_ptr<DeliveryWait>& reply_wait) {
  if (!seq) {
    // The source is told to retry; state the transforms recorded for this event would
    // otherwise make its redelivery look like a duplicate.
    for (const auto& key : keys) {
      if (key.remembered) {
        services_.state.forget_remembered(key.key);
      } else {
        services_.state.forget(key.key);
      }
    }
    log_->warn("event {} refused: {}", event->id, seq.error().message);
    note_error(seq.error().message);
    ingress_.acknowledge(std::move(done), seq.error());
  } else {
    if (!stopped_) {
      hand_to(selected, *seq, std::move(event), reply_wait);
    }
    ingress_.acknowledge(std::move(done), {});
  }
  ingress_.finished(bytes);
  check_drained();
}

// The pipeline is through with a request's event and nothing answered it: the source gives
// its fallback answer at once (a Discord command would otherwise show "thinking…" for good).
void PipelineRuntime::no_reply(std::string_view event_id, const char* why) {
  if (replies_.unanswered(event_id)) {
    log_->info("event {}: {} and nothing answered it; its source gave its fallback answer", event_id, why);
  }
}

// Tells the parked request of `event_id` once every one of `sinks` is done with the event
// and none of them answered it. (An event a full sink reads back from the journal later
// carries no wait: its request then times out as before.)
std::shared_ptr<DeliveryWait> PipelineRuntime::reply_wait(const std::string& event_id, std::size_t sinks) {
  return std::make_shared<DeliveryWait>(sinks, [weak = weak_from_this(), event_id](Status) {
    if (auto self = weak.lock()) self->no_reply(event_id, "every sink it went to finished without replying");
  });
}

void PipelineRuntime::check_drained() {
  if (!drained_ || ingress_.queued() != 0) return;
  for (const auto& sink : sinks_) {
    if (!(durable_ ? sink->settled_in_journal() : sink->idle())) return;
  }
  // A failing sink left with its events in the journal starts nothing more: no retry
  // between the drain and stop(), nor while the next version of the pipeline (a hot
  // reload) delivers the same events.
  for (auto& sink : sinks_) {
    if (!sink->idle()) sink->cancel_timers();
  }
  auto done = std::move(drained_);
  drained_ = nullptr;
  done();
}

}  // namespace switchyard::runtime
