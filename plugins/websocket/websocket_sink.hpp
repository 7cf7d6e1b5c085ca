#pragma once
// `websocket` sink: a WebSocket endpoint on the shared listener. Dashboards subscribe to
// rooms (a template over the event: one room per repository, say); each event is numbered
// per room, kept for replay, and pushed to the room's subscribers; a client that reconnects
// resumes after its last seq with no gap and no duplicate. Protocol: protocol.hpp and
// docs/plugins/websocket.md; rooms and replay: hub.hpp; who may connect: access.hpp.

#include <memory>
#include <string>
#include <vector>

#include "access.hpp"
#include "hub.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::websocket {

extern const ComponentDecl kWebSocketSinkDecl;

class WebSocketSink final : public Sink {
 public:
  Status configure(const Options& options, Context& context) override;
  Status start() override;
  void deliver(EventPtr event, DeliveryCallback done) override;
  /// What subscribers would get: method "PUBLISH", the path and rooms as url, the event's
  /// CloudEvent JSON (with `data` as configured) as body.
  Result<std::optional<Rendering>> render(const Event& event) override;
  void stop() override;

  /// The rooms `event` goes to (public for tests).
  Result<std::vector<std::string>> rooms_of(const Event& event) const;
  Hub& hub() { return *hub_; }

 private:
  class Endpoint;
  void schedule_prune();
  std::string message_of(const Event& event) const;  // the CloudEvent JSON subscribers get

  Context* context_ = nullptr;
  std::string path_;
  const Template* room_ = nullptr;
  const Template* data_ = nullptr;
  ReplaySettings replay_;
  WebSocketOptions socket_;
  AccessSettings access_;
  Telemetry telemetry_;
  AccessMetrics access_metrics_;
  Gauge* connections_ = nullptr;
  std::shared_ptr<Hub> hub_;
  std::shared_ptr<Doorkeeper> doorkeeper_;
  std::shared_ptr<Endpoint> endpoint_;
  std::unique_ptr<HttpRoute> route_;
  std::unique_ptr<Timer> prune_timer_;
};

}  // namespace switchyard::websocket
