// A running pipeline: its components (each a ComponentHost), the way in (Ingress), the
// transforms (TransformChain), the journal in between (durable pipelines) and one
// SinkRunner per sink. This file wires them and owns the lifecycle: build, start, drain,
// stop, and the hold/release of a hot reload.
#include "runtime/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "journal/codec.hpp"
#include "journal/journal.hpp"
#include "log/logging.hpp"
#include "metrics/registry.hpp"
#include "runtime/component_context.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/held_payload.hpp"
#include "runtime/ingress.hpp"
#include "runtime/io.hpp"
#include "runtime/replies.hpp"
#include "runtime/sink_runner.hpp"
#include "runtime/transform_chain.hpp"

namespace switchyard::runtime {

namespace {

constexpr const char* kReceivedHelp = "Events the pipeline accepted from this source.";
constexpr std::size_t kBatch = 512;  // events per strand turn, for fairness

class PipelineRuntime final : public Pipeline,
                              public PipelineHooks,
                              public std::enable_shared_from_this<PipelineRuntime> {
 public:
  PipelineRuntime(std::shared_ptr<const config::PipelineConfig> config, Services& services)
      : config_(std::move(config)),
        services_(services),
        journal_(services.journal),
        durable_(journal_ && config_->durability == config::Durability::disk),
        strand_(services.io.make_strand()),
        replies_(services.io.make_strand()),
        log_(log::make_pipeline(config_->name)),
        ingress_(Ingress::Settings{.pipeline = config_->name,
                                   .queue_size = config_->queue_size,
                                   .queue_bytes = config_->queue_bytes,
                                   .durable = durable_,
                                   .journal = journal_},
                 // Deferred, not posted: when the source runs on a pool thread (an HTTP
                 // handler), the batch is processed by this same thread once the handler
                 // returns, instead of waking another thread for it.
                 [this] { asio::defer(strand_, [self = shared_from_this()] { self->process(); }); }) {}

  // --- Pipeline ---
  Status build() override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;
  const std::string& name() const override { return config_->name; }
  // With a journal, even a memory pipeline may have journaled leftovers of a durable
  // predecessor: it holds too.
  void hold_deliveries() override { hold_ = journal_ != nullptr; }
  void release() override;
  void drain_for_replacement(std::function<void()> done, std::uint64_t last_seq) override;
  PipelineStats stats(bool backlog) const override;
  const config::PipelineConfig& config() const override { return *config_; }
  std::size_t in_flight() const override {
    std::size_t n = ingress_.queued();
    for (const auto& sink : sinks_) n += sink->outstanding();
    return n;
  }

  // --- PipelineHooks (the transform chain and the sink runners) ---
  void on_sink_progress() override {
    if (blocked_ && !processing_) {
      blocked_ = false;
      asio::post(strand_, [self = shared_from_this()] { self->process(); });
    }
    check_drained();
  }
  void note_error(std::string what) override {
    std::lock_guard lock(error_mutex_);
    last_error_ = format_rfc3339(std::chrono::system_clock::now()) + " " + std::move(what);
  }
  spdlog::logger& logger() override { return *log_; }
  EventTap* tap() const override { return services_.tap.get(); }
  const std::string& pipeline_name() const override { return config_->name; }
  std::shared_ptr<const void> keep_alive() override { return shared_from_this(); }
  void replaced(std::size_t parent_bytes, std::size_t events, std::size_t bytes) override {
    ingress_.replaced(parent_bytes, events, bytes);
  }

 private:
  Status attach_journal();
  void replayed(journal::Replay replay);
  void process();
  void shelve_pending();
  bool unshelve(Incoming& incoming);
  void fan_out(TransformChain::Finished finished);
  void failed(TransformChain::Finished finished);
  void until_done(TransformChain::Finished finished, const std::vector<SinkRunner*>& selected, bool reply_owed);
  /// Hands `event` to `sinks`, the last one taking this reference: a sink alone with it
  /// may then keep only its bytes while it waits (runtime/held_payload.hpp).
  static void hand_to(const std::vector<SinkRunner*>& sinks, std::uint64_t seq, EventPtr event,
                      const std::shared_ptr<DeliveryWait>& wait) {
    for (std::size_t i = 0; i + 1 < sinks.size(); ++i) sinks[i]->arrive(seq, event, 0, wait);
    if (!sinks.empty()) sinks.back()->arrive(seq, std::move(event), 0, wait);
  }
  void committed(const Result<std::uint64_t>& seq, EventPtr event, const std::vector<SinkRunner*>& selected,
                 EmitCallback done, const std::vector<std::string>& keys, std::size_t bytes,
                 const std::shared_ptr<DeliveryWait>& reply_wait);
  void no_reply(std::string_view event_id, const char* why);
  std::shared_ptr<DeliveryWait> reply_wait(const std::string& event_id, std::size_t sinks);
  void check_drained();
  void stop_started(std::size_t sinks, std::size_t transforms);

  std::shared_ptr<const config::PipelineConfig> config_;
  Services& services_;
  journal::Journal* journal_;  // nullptr: no state.dir (tests); events stay in memory
  const bool durable_;         // events are journaled before the source is acknowledged
  Strand strand_;              // transforms, sinks and the queues between them
  PipelineReplies replies_;    // requests the sources parked for a reply sink
  std::shared_ptr<spdlog::logger> log_;
  RefusingEmitter refusing_;

  // A source, with its own strand for its callbacks; the first emits into the ingress, the
  // others through a port of it.
  struct SourceSlot {
    SourceSlot(const config::ComponentConfig& config, std::string label, Strand s, Ingress& ingress)
        : strand(std::move(s)), host(config, std::move(label)), port(ingress) {}
    Strand strand;
    ComponentHost host;
    IngressPort port;
  };
  std::vector<std::unique_ptr<SourceSlot>> sources_;
  std::vector<ComponentHost> transforms_;
  std::vector<std::unique_ptr<SinkRunner>> sinks_;
  Ingress ingress_;
  std::unique_ptr<TransformChain> chain_;

  // Journal attachment.
  std::optional<journal::PipelineKey> key_;  // attached
  bool hold_ = false;                        // hot reload: sinks wait for release()
  bool started_ = false;

  // Strand-only state.
  std::deque<Incoming> pending_;  // taken from the ingress, not yet in the transforms
  bool blocked_ = false;          // memory pipeline: a full sink stopped the intake
  bool processing_ = false;
  bool stopped_ = false;
  bool bound_ = false;  // sinks know their journal bits (attach_journal)
  std::vector<journal::Replay> early_replays_;  // memory replays handed over before that
  std::function<void()> drained_;

  mutable std::mutex error_mutex_;
  std::string last_error_;
  // Drops and refusals of this version's components (admin API; same counts as the metric).
  std::shared_ptr<DropBook> drops_ = std::make_shared<DropBook>();
};

Status PipelineRuntime::build() {
  const auto& c = *config_;
  const bool durable_state = c.durability == config::Durability::disk;
  for (std::size_t i = 0; i < c.sinks.size(); ++i) {
    auto runner = std::make_unique<SinkRunner>(
        *this, c.sinks[i], "sinks[" + std::to_string(i) + "] '" + c.sinks[i].name + "'", strand_);
    if (Status s = runner->host.configure(c.name, strand_, services_, refusing_, replies_, durable_state, drops_); !s) {
      return s;
    }
    runner->register_metrics();
    sinks_.push_back(std::move(runner));
  }
  for (std::size_t i = 0; i < c.transforms.size(); ++i) {
    transforms_.emplace_back(c.transforms[i], "transforms[" + std::to_string(i) + "] '" + c.transforms[i].name + "'");
    if (Status s =
            transforms_.back().configure(c.name, strand_, services_, refusing_, replies_, durable_state, drops_);
        !s) {
      return s;
    }
  }
  // With a journal, a transform's failure is a dead letter holding the event as it came in.
  chain_ = std::make_unique<TransformChain>(*this, transforms_, strand_, durable_, journal_ != nullptr,
                                            [this](TransformChain::Finished f) { fan_out(std::move(f)); });
  for (std::size_t i = 0; i < c.sources.size(); ++i) {
    const std::string label = c.sources.size() == 1 ? "source '" + c.sources[i].name + "'"
                                                    : "sources[" + std::to_string(i) + "] '" + c.sources[i].name + "'";
    auto& slot = *sources_.emplace_back(std::make_unique<SourceSlot>(c.sources[i], label, services_.io.make_strand(), ingress_));
    Emitter& way_in = i == 0 ? static_cast<Emitter&>(ingress_) : slot.port;
    if (Status s = slot.host.configure(c.name, slot.strand, services_, way_in, replies_, durable_state, drops_); !s) return s;
    Counter& received = slot.host.context().metrics().counter(metrics::names::kReceived, kReceivedHelp);
    if (i == 0) {
      ingress_.bind_source(slot.host.context().executor(), received);
    } else {
      slot.port.bind(slot.host.context().executor(), received);
    }
  }
  return {};
}

// Sinks first, then transforms, then the source: nothing is emitted before the components
// that take it are up. On failure, what started is stopped again, in reverse.
Status PipelineRuntime::start() {
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (Status s = sinks_[i]->host.start(); !s) {
      stop_started(i, 0);
      return s;
    }
  }
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    if (Status s = transforms_[i].start(); !s) {
      stop_started(sinks_.size(), i);
      return s;
    }
  }
  // Sinks are up: resume what the journal holds for them, then let the source emit (it may
  // do so from inside its start()).
  if (Status s = attach_journal(); !s) {
    stop_started(sinks_.size(), transforms_.size());
    return s;
  }
  ingress_.open();
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if (Status s = sources_[i]->host.start(); !s) {
      ingress_.close();
      for (std::size_t j = i; j-- > 0;) sources_[j]->host.stop();
      if (key_) journal_->detach(config_->name, key_->token);
      stop_started(sinks_.size(), transforms_.size());
      if (key_) journal_->requeue_replays(key_->token);
      return s;
    }
  }
  started_ = true;
  return {};
}

void PipelineRuntime::stop_started(std::size_t sinks, std::size_t transforms) {
  for (std::size_t j = transforms; j-- > 0;) transforms_[j].stop();
  for (std::size_t j = sinks; j-- > 0;) sinks_[j]->host.stop();
}

// Every source drains on its own strand; once the last is done, the ingress closes and the
// rest of the pipeline drains.
void PipelineRuntime::drain(std::function<void()> done) {
  auto self = shared_from_this();
  auto after_sources = [self, done = std::move(done)]() mutable {
    self->ingress_.close();
    asio::post(self->strand_, [self, done = std::move(done)]() mutable {
      self->drained_ = std::move(done);
      self->check_drained();
    });
  };
  if (!started_ || sources_.empty()) return after_sources();
  struct Left {
    std::mutex mutex;
    std::size_t sources;
    std::function<void()> then;
  };
  auto left = std::make_shared<Left>();
  left->sources = sources_.size();
  left->then = std::move(after_sources);
  for (auto& slot : sources_) {
    asio::post(slot->strand, [self, source = slot.get(), left] {
      source->host.drain([left] {
        std::function<void()> then;
        {
          std::lock_guard lock(left->mutex);
          if (--left->sources == 0) then = std::move(left->then);
        }
        if (then) then();
      });
    });
  }
}

void PipelineRuntime::stop() {
  ingress_.close();
  for (auto& slot : sources_) slot->host.stop();
  if (key_) journal_->detach(config_->name, key_->token);
  run_on(strand_, [&] {
    stopped_ = true;
    if (chain_) chain_->stop();
    for (auto& t : transforms_) t.stop();
    for (auto& sink : sinks_) {
      sink->cancel_timers();
      sink->host.stop();
    }
  });
  replies_.close();  // no sink answers any more: the sources' own answers go out
  // Dead-letter replays this memory pipeline held and did not deliver go back to the DLQ's
  // queue (its sinks deliver nothing from here on).
  // So do replays of a transform's dead letter not yet through, in any pipeline.
  if (key_) journal_->requeue_replays(key_->token);
  if (durable_ && key_) {
    if (auto left = journal_->pending_count(key_->id, ~std::uint64_t{0} >> 1); left && *left > 0) {
      log_->info("stopped with {} event(s) not yet delivered to every sink; they stay in the journal "
                 "for the next start", *left);
    }
  } else if (const std::size_t left = in_flight(); left > 0) {
    log_->warn("stopped with {} event(s) not delivered", left);
  }
}

void PipelineRuntime::release() {
  if (!hold_) return;
  hold_ = false;
  journal_->flush();  // the previous version's completions are committed: none is read twice
  run_on(strand_, [&] {
    for (auto& sink : sinks_) sink->recover();
  });
}

void PipelineRuntime::drain_for_replacement(std::function<void()> done, std::uint64_t last_seq) {
  if (key_) {
    run_on(strand_, [&] {
      for (auto& sink : sinks_) sink->limit_reads(last_seq);
    });
  }
  drain(std::move(done));
}

PipelineStats PipelineRuntime::stats(bool backlog) const {
  PipelineStats s;
  s.received = ingress_.received();
  s.refused = ingress_.refused();
  s.dropped = chain_ ? chain_->dropped() : 0;
  s.transform_errors = chain_ ? chain_->errors() : 0;
  s.refused_signature = drops_->total("signature");
  s.drops = drops_->counts();
  s.last_refusal = drops_->last_refusal();
  {
    std::lock_guard lock(error_mutex_);
    s.last_error = last_error_;
  }
  for (const auto& sink : sinks_) {
    SinkStats ss = sink->stats();
    ss.backlog = sink->outstanding();
    if (backlog && durable_ && key_) {
      if (auto n = journal_->pending_count(key_->id, sink->bit()); n) ss.backlog = static_cast<std::size_t>(*n);
    }
    s.sinks.push_back(std::move(ss));
  }
  return s;
}

// Registers with the journal and makes every sink catch up on what it holds.
Status PipelineRuntime::attach_journal() {
  if (!journal_) return {};
  std::vector<std::string> names;
  for (const auto& sink : config_->sinks) names.push_back(sink.name);
  std::weak_ptr<PipelineRuntime> weak = weak_from_this();
  auto key = journal_->attach(
      config_->name, names, durable_,
      [weak](journal::Replay replay) {
        if (auto self = weak.lock()) {
          asio::post(self->strand_, [self, replay = std::move(replay)]() mutable { self->replayed(std::move(replay)); });
        }
      },
      /*replacing=*/hold_);
  if (!key) return Error{key.error().kind, "journal: " + key.error().message, std::nullopt};
  for (const auto& warning : key->warnings) log_->warn("{}", warning);
  key_ = std::move(*key);
  run_on(strand_, [&] {
    for (std::size_t i = 0; i < sinks_.size(); ++i) {
      sinks_[i]->bind(journal_, key_->id, key_->sink_bits[i]);
      if (hold_) {
        sinks_[i]->hold();
      } else {
        sinks_[i]->recover();
      }
    }
    bound_ = true;
    for (auto& replay : std::exchange(early_replays_, {})) replayed(std::move(replay));
  });
  return {};
}

// A dead-lettered event an operator replayed, for one sink.
void PipelineRuntime::replayed(journal::Replay replay) {
  if (stopped_) return;  // still journaled (or back in the DLQ's hands at the next start)
  // Replays can be handed over while attach_journal() is still binding the sinks; a
  // journaled one is then read back by the sinks' recovery, so taking it here would
  // deliver it twice.
  if (replay.seq != 0 && !bound_) return;
  // A memory pipeline's replay exists only here: it waits until the sinks know the
  // journal (to take it out of the DLQ once delivered).
  if (!bound_) return early_replays_.push_back(std::move(replay));
  auto event = journal::decode_event(replay.body);
  if (replay.sink.starts_with("transforms[")) {
    if (!event) return;
    log_->info("event {} replayed from the dead-letter queue through the transforms", (*event)->id);
    // Counted like an event from the source; the DLQ entry goes once the event is through
    // (journaled, or handed to the sinks), or is replaced should a transform fail it again.
    const std::size_t bytes = (*event)->memory_size();
    ingress_.add(1, bytes);
    const std::int64_t id = replay.dlq_id;
    journal::Journal* journal = journal_;
    chain_->run(Incoming{std::move(*event),
                         [journal, id](Status s) {
                           if (s) journal->replay_done(id);
                         },
                         false, bytes, id});
    return;
  }
  auto sink = std::find_if(sinks_.begin(), sinks_.end(),
                           [&](const auto& s) { return s->config().name == replay.sink; });
  if (!event || sink == sinks_.end()) return;
  log_->info("event {} replayed from the dead-letter queue to sink '{}'", (*event)->id, replay.sink);
  (*sink)->arrive(replay.seq, EventPtr(std::move(*event)), replay.dlq_id);
}

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
    if (incoming.shelved && !unshelve(incoming)) continue;
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

// Its payload parsed again before the transforms have it. Those bytes parsed a moment
// ago; should they not now, the event cannot go on: said loudly, and the source is told
// where it still waits for an answer.
bool PipelineRuntime::unshelve(Incoming& incoming) {
  if (auto parsed = unshelve_payload(*incoming.event); !parsed) {
    log_->error("event {} cannot be read back before the transforms ({}); it is lost", incoming.event->id,
                parsed.error().message);
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
  std::string body = journal::encode_event(event);
  std::vector<std::string> keys;
  for (const auto& w : finished.writes) keys.push_back(w.key);
  auto self = shared_from_this();
  journal_->append(
      key_->id, mask, std::move(body), std::move(finished.writes),
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
      });
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
      selected.size(), [this, done = std::move(finished.incoming.done), id = std::move(id)]() mutable {
        if (!id.empty()) no_reply(id, "every sink it went to finished without replying");
        ingress_.acknowledge(std::move(done), {});
      });
  hand_to(selected, 0, EventPtr(std::move(finished.incoming.event)), wait);
}

// The journal has the event (or failed to take it): deliver and acknowledge the source.
void PipelineRuntime::committed(const Result<std::uint64_t>& seq, EventPtr event,
                                const std::vector<SinkRunner*>& selected, EmitCallback done,
                                const std::vector<std::string>& keys, std::size_t bytes,
                                const std::shared_ptr<DeliveryWait>& reply_wait) {
  if (!seq) {
    // The source is told to retry; state the transforms recorded for this event would
    // otherwise make its redelivery look like a duplicate.
    for (const auto& key : keys) services_.state.forget(key);
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
  return std::make_shared<DeliveryWait>(sinks, [weak = weak_from_this(), event_id] {
    if (auto self = weak.lock()) self->no_reply(event_id, "every sink it went to finished without replying");
  });
}

void PipelineRuntime::check_drained() {
  if (!drained_ || ingress_.queued() != 0) return;
  for (const auto& sink : sinks_) {
    if (!sink->idle()) return;
  }
  auto done = std::move(drained_);
  drained_ = nullptr;
  done();
}

}  // namespace

std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<const config::PipelineConfig> config,
                                        Services& services) {
  return std::make_shared<PipelineRuntime>(std::move(config), services);
}

}  // namespace switchyard::runtime
