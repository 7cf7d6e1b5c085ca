#pragma once
// `nats` source: a durable pull consumer on a JetStream stream. Each message becomes an
// event handed to the pipeline with Emitter::emit_until_done, and is acknowledged only once
// every sink it is routed to has delivered or dead-lettered it. JetStream is the durable
// queue here: the event skips the engine's journal, and a message never acknowledged (the
// engine crashed, the pipeline refused it) is delivered again, to this engine or another,
// with the same event id.
//
//   lane 1 (own thread): consumer set-up, fetch (blocks until messages come), decoding
//   strand:              emit while the pipeline has room, track what is in flight,
//                        in-progress notes for slow ones, ack / nak when done
//   lane 0 (own thread): acks, naks and in-progress notes, sent in batches

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "connection/connection.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::nats {

extern const ComponentDecl kSourceDecl;

class NatsSource final : public Source {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// A fetched message: its event (or why it is none) and how to answer it.
  struct Fetched {
    std::unique_ptr<Event> event;
    std::string refused;  ///< why the message is not an event (when event is null)
    std::string reply;    ///< the JetStream ack subject
    std::string subject;
    std::uint64_t sequence = 0;
    std::uint64_t delivered = 1;
  };
  struct Shared;  ///< What the lanes use (source.cpp).

 private:
  struct Settings {
    std::string stream;
    std::string consumer;
    std::string filter_subject;
    int batch = 64;
    std::int64_t max_in_flight = 256;
    std::int64_t max_ack_pending = 1000;
    std::chrono::milliseconds ack_wait{30000};
    bool deliver_new = false;
    ConnectionSettings connection;
  };
  // A message handed to the pipeline, waiting for the pipeline's answer.
  struct Outstanding {
    std::string reply;
    std::chrono::steady_clock::time_point progress;  // fetched, or last in-progress note
  };
  // A message fetched but not handed to the pipeline yet (it was full).
  struct Held {
    Fetched message;
    std::chrono::steady_clock::time_point progress;
  };
  struct SetUp;

  void on_state(bool up);
  void set_up();
  void on_set_up(const SetUp& result);
  void fetch();
  void on_fetched(std::vector<Fetched> batch, std::string error, bool consumer_gone);
  void pump();
  void on_done(std::uint64_t key, const Status& status);
  void answer(const std::string& reply, std::string body);
  void arm_progress();
  void note_progress(std::chrono::milliseconds every);
  void retry_later(void (NatsSource::*step)(), std::chrono::milliseconds delay);
  void maybe_drained();
  std::int64_t credit() const;
  std::chrono::milliseconds backoff() const;

  Settings settings_;
  Context* context_ = nullptr;
  std::unique_ptr<Connection> connection_;
  std::shared_ptr<Shared> shared_;
  std::deque<Held> held_;
  std::unordered_map<std::uint64_t, Outstanding> outstanding_;
  std::uint64_t next_key_ = 0;
  bool consumer_ready_ = false;
  bool setting_up_ = false;
  bool fetching_ = false;
  bool waiting_for_room_ = false;
  bool running_ = false;
  int fetch_failures_ = 0;
  std::unique_ptr<Timer> retry_timer_;
  std::unique_ptr<Timer> progress_timer_;
  std::function<void()> drained_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();

  Counter* acked_ = nullptr;
  Counter* nacked_ = nullptr;
  Counter* terminated_ = nullptr;
  Counter* redelivered_ = nullptr;
  Gauge* in_flight_ = nullptr;
};

}  // namespace switchyard::nats
