#pragma once
// Internal: a running pipeline (runtime/pipeline.hpp's Pipeline): its components (each a
// ComponentHost), the way in (Ingress), the transforms (TransformChain), the journal in
// between (durable pipelines) and one SinkRunner per sink. pipeline.cpp wires them and owns
// the lifecycle; pipeline_flow.cpp carries events from the ingress to the sinks.

#include "runtime/pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "journal/journal.hpp"
#include "log/logging.hpp"
#include "metrics/registry.hpp"
#include "runtime/component_context.hpp"
#include "runtime/event_tap.hpp"
#include "runtime/ingress.hpp"
#include "runtime/io.hpp"
#include "runtime/replies.hpp"
#include "runtime/sink_runner.hpp"
#include "runtime/transform_chain.hpp"

namespace switchyard::runtime {

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
  void limit_reads(std::uint64_t last_seq) override;
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
  // A state write made with an event: undone in memory should the event not be journaled.
  struct StateKey {
    std::string key;
    bool remembered = false;  // a remembered key's fingerprint (StateTable::forget_remembered)
  };
  void committed(const Result<std::uint64_t>& seq, EventPtr event, const std::vector<SinkRunner*>& selected,
                 EmitCallback done, const std::vector<StateKey>& keys, std::size_t bytes,
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
  bool parse_payloads_ = true;    // something reads payloads: a deferred one is parsed before the transforms
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

}  // namespace switchyard::runtime
