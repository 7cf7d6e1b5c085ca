// A running pipeline's wiring and lifecycle: build, start, drain, stop, the hold/release of
// a hot reload, its journal attachment and dead-letter replays (the class:
// runtime/pipeline_runtime.hpp; the event path: pipeline_flow.cpp).
#include "runtime/pipeline.hpp"

#include "journal/codec.hpp"
#include "runtime/pipeline_runtime.hpp"

namespace switchyard::runtime {

namespace {

constexpr const char* kReceivedHelp = "Events the pipeline accepted from this source.";

}  // namespace

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
  // A payload a source left unparsed (Event::payload_deferred) is parsed before the
  // transforms when a transform, an if:, an order_key or a sink may read it; otherwise it
  // travels as its bytes alone, into the journal and out through the sinks.
  parse_payloads_ = !transforms_.empty() ||
                    std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->reads_payload(); });
  // Sources ask (Emitter::payload_read) and then parse with their own, faster, parser.
  ingress_.set_payload_read(parse_payloads_);
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
      ingress_.bind_source(slot.host.context().executor(), received, slot.host.context().state());
    } else {
      slot.port.bind(slot.host.context().executor(), received, slot.host.context().state());
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

void PipelineRuntime::limit_reads(std::uint64_t last_seq) {
  if (!key_) return;
  run_on(strand_, [&] {
    for (auto& sink : sinks_) sink->limit_reads(last_seq);
  });
}

void PipelineRuntime::drain_for_replacement(std::function<void()> done, std::uint64_t last_seq) {
  limit_reads(last_seq);
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

std::shared_ptr<Pipeline> make_pipeline(std::shared_ptr<const config::PipelineConfig> config,
                                        Services& services) {
  return std::make_shared<PipelineRuntime>(std::move(config), services);
}

}  // namespace switchyard::runtime
