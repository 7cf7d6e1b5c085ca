#pragma once
// Internal: the way into a pipeline — the Emitter its source sees (an IngressPort for each
// further source of a pipeline with several). Events are taken from
// any thread into a list under a mutex, counted until they are in the journal (durable) or
// handed to the sinks (memory), and refused with a reason once queue_size of them or
// queue_bytes of their memory are counted, or the journal is full: the bound that makes
// HTTP sources answer 503 instead of buffering.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/transform_chain.hpp"

namespace switchyard::journal {
class Journal;
}

namespace switchyard::runtime {

class Ingress final : public Emitter {
 public:
  struct Settings {
    std::string pipeline;
    std::size_t queue_size = 0;
    std::size_t queue_bytes = 0;           // one event larger than this still passes alone
    bool durable = false;                  // the source hears back once the event is journaled
    journal::Journal* journal = nullptr;   // durable: refuse while it is full
  };
  /// `schedule` is called (under no lock) when events arrive while none were waiting: the
  /// pipeline then takes them on its strand.
  Ingress(Settings settings, std::function<void()> schedule);

  // --- Emitter (the source's view; any thread) ---
  void emit(std::unique_ptr<Event> event, EmitCallback done) override;
  void emit_until_done(std::unique_ptr<Event> event, EmitCallback done) override;
  bool saturated() const override { return refusal().has_value(); }
  std::optional<Error> refusal() const override;
  bool payload_read() const override { return payload_read_; }
  /// What payload_read() says from now on (the pipeline, before it configures its sources).
  void set_payload_read(bool read) { payload_read_ = read; }
  void when_ready(std::function<void()> ready) override;

  // --- the pipeline's view ---
  /// Where acknowledgements and wake-ups run: the source's strand; `state`: the source's
  /// state store, where the keys its events ask to be remembered go.
  void bind_source(Executor& source, Counter& received, StateStore& state);
  /// Events are taken from now on (open) or refused as "pipeline is stopping" (close).
  void open();
  void close();
  /// Moves what arrived into `into` (on the strand).
  void take(std::deque<Incoming>& into);
  /// An event left the pipeline's books (journaled, handed to sinks, dropped); `bytes` is
  /// what it was counted for (Incoming::bytes).
  void finished(std::size_t bytes);
  /// A transform split an event counted for `parent_bytes` into `events` events of `bytes`
  /// in all: each is counted until it finishes, as an event the source emitted would be.
  void replaced(std::size_t parent_bytes, std::size_t events, std::size_t bytes);
  /// An event waiting for the transforms now holds `now` bytes instead of `was`.
  void resized(std::size_t was, std::size_t now);
  /// Counts `events` more events of `bytes` in all (a dead letter replayed into the transforms).
  void add(std::size_t events, std::size_t bytes);
  /// A further source's emit (IngressPort): counted in `received` as well as here, and
  /// `ready` of when_ready() run on `executor`.
  /// `state`: that source's state store (nullptr: this ingress's own source's).
  void take_in(std::unique_ptr<Event> event, EmitCallback done, bool until_done, Counter* received,
               StateStore* state = nullptr);
  void when_ready(std::function<void()> ready, Executor& executor);
  /// Answers the source on its own strand.
  void acknowledge(EmitCallback done, Status status);
  /// Counted events: waiting, in the transforms, or on their way into the journal.
  std::size_t queued() const { return queued_.load(std::memory_order_relaxed); }
  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void wake_waiters();
  bool full() const;

  const Settings settings_;
  std::function<void()> schedule_;
  Executor* source_ = nullptr;
  Counter* received_metric_ = nullptr;
  StateStore* source_state_ = nullptr;

  mutable std::mutex mutex_;
  std::vector<Incoming> arrived_;
  std::vector<std::pair<Executor*, std::function<void()>>> waiters_;
  bool scheduled_ = false;
  bool accepting_ = false;
  bool payload_read_ = true;
  std::atomic<std::size_t> queued_{0};
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<std::uint64_t> received_{0}, refused_{0};
};

/// The way in of a pipeline's second (third...) source: the same Ingress, with the source's
/// own strand for its acknowledgements and wake-ups and its own count of received events.
class IngressPort final : public Emitter {
 public:
  explicit IngressPort(Ingress& ingress) : ingress_(ingress) {}
  /// Where this source's callbacks run, its received counter and its state store (after
  /// its configure).
  void bind(Executor& executor, Counter& received, StateStore& state) {
    executor_ = &executor;
    received_ = &received;
    state_ = &state;
  }
  void emit(std::unique_ptr<Event> event, EmitCallback done) override {
    ingress_.take_in(std::move(event), own(std::move(done)), false, received_, state_);
  }
  void emit_until_done(std::unique_ptr<Event> event, EmitCallback done) override {
    ingress_.take_in(std::move(event), own(std::move(done)), true, received_, state_);
  }
  bool saturated() const override { return ingress_.saturated(); }
  std::optional<Error> refusal() const override { return ingress_.refusal(); }
  bool payload_read() const override { return ingress_.payload_read(); }
  void when_ready(std::function<void()> ready) override { ingress_.when_ready(std::move(ready), *executor_); }

 private:
  // The ingress answers on the first source's strand; this source hears on its own.
  EmitCallback own(EmitCallback done) const {
    if (!done) return done;
    return [executor = executor_, done = std::move(done)](Status status) mutable {
      executor->post([done = std::move(done), status = std::move(status)]() mutable { done(std::move(status)); });
    };
  }

  Ingress& ingress_;
  Executor* executor_ = nullptr;
  Counter* received_ = nullptr;
  StateStore* state_ = nullptr;
};

}  // namespace switchyard::runtime
