#pragma once
// `nats` sink: publishes each event to a JetStream stream and reports it delivered only
// once the stream has acknowledged it (stored on its replicas). Nats-Msg-Id is the event
// id, so the stream's duplicate window drops a second publish of the same event. Publishes
// are asynchronous: the sink has as many awaiting their acknowledgement as the engine hands
// it at once (the sink's `concurrency`).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connection/connection.hpp"
#include "message/mapping.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::nats {

extern const ComponentDecl kSinkDecl;

/// The stream the sink creates when it is missing (create_stream).
struct StreamSpec {
  std::vector<std::string> subjects;
  std::int64_t replicas = 1;
  std::chrono::milliseconds max_age{0};           ///< 0: kept until limits remove them
  std::chrono::milliseconds duplicate_window{0};  ///< 0: JetStream's default (2 minutes)
};

class NatsSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// The publish deliver() makes: method "PUBLISH", the subject as url, the message's
  /// headers (Nats-Msg-Id, Content-Type, binary mode's ce-*) and payload.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void drain(std::function<void()> done) override;
  void stop() override;

  /// The message `event` is published as (public for tests).
  Result<OutgoingMessage> message_for(const Event& event) const;

  struct Publishes;  ///< Publishes awaiting their acknowledgement (sink.cpp).
  /// What the stream check found (sink.cpp).
  struct StreamCheck;

 private:
  enum class Readiness { checking, ready, broken };
  struct Waiting {
    EventPtr event;
    DeliveryCallback done;
    std::chrono::steady_clock::time_point deadline;
  };

  void on_state(bool up);
  void check_stream();
  void on_checked(const StreamCheck& check);
  void publish(EventPtr event, DeliveryCallback done);
  void expire_waiting();
  void arm_waiting_timer();
  void maybe_drained();

  Context* context_ = nullptr;
  TextOption subject_;
  std::string stream_;
  Mode mode_ = Mode::structured;
  std::optional<StreamSpec> create_;
  ConnectionSettings connection_settings_;

  std::unique_ptr<Connection> connection_;
  std::shared_ptr<Publishes> publishes_;
  Readiness readiness_ = Readiness::checking;
  bool check_running_ = false;
  bool reconnected_ = false;  // the connection went down since the stream was checked
  bool up_ = false;           // the connection is up (on_state)
  std::string broken_because_;
  std::vector<Waiting> waiting_;  // deliveries before the stream is known to be there
  std::unique_ptr<Timer> waiting_timer_;
  std::unique_ptr<Timer> recheck_timer_;
  std::function<void()> drained_;
  bool running_ = false;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace switchyard::nats
