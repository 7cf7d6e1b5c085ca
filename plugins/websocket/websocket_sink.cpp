#include "websocket_sink.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "protocol.hpp"

namespace switchyard::websocket {

// The sink's WebSocket handler. upgrade() runs on I/O threads (the doorkeeper is
// thread-safe); the rest on the sink's strand. The engine stops calling it once the route
// is gone (stop()).
class WebSocketSink::Endpoint final : public WebSocketHandler {
 public:
  Endpoint(std::shared_ptr<Hub> hub, std::shared_ptr<Doorkeeper> doorkeeper, StateStore& state, Executor& executor,
           Telemetry telemetry, const void* owner)
      : hub_(std::move(hub)), doorkeeper_(std::move(doorkeeper)), state_(state), executor_(executor),
        telemetry_(telemetry), owner_(owner) {}

  WebSocketUpgrade upgrade(const WebSocketRequest& request) override { return doorkeeper_->decide(request); }

  void opened(const std::shared_ptr<WebSocketConnection>& connection) override {
    auto admission = std::static_pointer_cast<const Admission>(connection->attachment());
    if (admission && admission->expires()) close_at(*admission->expires(), connection);
    hub_->join(connection, std::move(admission), owner_);
  }

  void message(const std::shared_ptr<WebSocketConnection>& connection, std::string text) override {
    auto message = parse_client_message(text);
    if (!message) return hub_->reply(connection->id(), error_message(message.error().message), telemetry_);
    switch (message->op) {
      case ClientMessage::Op::ping:
        return hub_->reply(connection->id(), std::string(kPongMessage), telemetry_);
      case ClientMessage::Op::subscribe:
        return hub_->subscribe(connection->id(), message->room, message->after, state_, telemetry_);
      case ClientMessage::Op::unsubscribe:
        return hub_->unsubscribe(connection->id(), message->room);
    }
  }

  void closed(const std::shared_ptr<WebSocketConnection>& connection, const WebSocketClosed&) override {
    expiries_.erase(connection->id());
    hub_->leave(connection->id());
  }

  void stop() { expiries_.clear(); }

 private:
  // A connection lasts no longer than its token: when the token expires (exp plus the
  // leeway), the connection is closed with 1008 "token expired". The client reconnects with
  // a fresh token and resumes after its last seq, so it misses nothing.
  void close_at(std::chrono::system_clock::time_point expires, const std::shared_ptr<WebSocketConnection>& connection) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(expires - std::chrono::system_clock::now());
    auto timer = executor_.make_timer();
    timer->expires_after(std::max(left, std::chrono::milliseconds(0)),
                         [weak = std::weak_ptr<WebSocketConnection>(connection)] {
                           if (auto open = weak.lock()) open->close(websocket_close::kPolicyViolation, "token expired");
                         });
    expiries_[connection->id()] = std::move(timer);
  }

  std::shared_ptr<Hub> hub_;
  std::shared_ptr<Doorkeeper> doorkeeper_;
  StateStore& state_;
  Executor& executor_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Timer>> expiries_;  // by connection id
  const Telemetry telemetry_;
  const void* owner_;
};

Status WebSocketSink::start() {
  hub_ = Hub::shared(context_->pipeline(), context_->component());
  hub_->configure(replay_);
  doorkeeper_ = std::make_shared<Doorkeeper>(access_, access_metrics_, *connections_, context_->logger());
  endpoint_ = std::make_shared<Endpoint>(hub_, doorkeeper_, context_->state(), context_->executor(), telemetry_, this);
  auto route = context_->routes().add_websocket(path_, endpoint_, socket_);
  if (!route) return route.error();
  route_ = std::move(*route);
  if (replay_.window.count() > 0) schedule_prune();
  context_->logger().info("WebSocket endpoint on " + path_ + " (auth: " +
                          (access_.auth == Auth::none ? "none" : access_.auth == Auth::token ? "token" : "jwt") + ")");
  return {};
}

// Expired events leave memory even in rooms that get no new events.
void WebSocketSink::schedule_prune() {
  if (!prune_timer_) prune_timer_ = context_->executor().make_timer();
  const auto every = std::clamp(replay_.window / 10, std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000));
  prune_timer_->expires_after(every, [this] {
    hub_->prune(context_->state(), telemetry_);
    schedule_prune();
  });
}

Result<std::vector<std::string>> WebSocketSink::rooms_of(const Event& event) const {
  rapidjson::Document value;
  room_->render(event, value, value.GetAllocator());
  std::vector<std::string> rooms;
  auto add = [&](const rapidjson::Value& v) -> Status {
    std::string name;
    if (v.IsString()) {
      name.assign(v.GetString(), v.GetStringLength());
    } else if (v.IsNumber()) {
      name = v.IsInt64() ? std::to_string(v.GetInt64()) : v.IsUint64() ? std::to_string(v.GetUint64())
                                                                       : std::to_string(v.GetDouble());
    } else if (v.IsNull()) {
      return {};
    } else {
      return permanent("room: expected a string or a list of strings");
    }
    if (name.empty()) return {};
    if (std::string problem = room_problem(name); !problem.empty()) return permanent(problem);
    if (std::find(rooms.begin(), rooms.end(), name) == rooms.end()) rooms.push_back(std::move(name));
    return {};
  };
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) {
      if (Status s = add(item); !s) return s.error();
    }
  } else if (Status s = add(value); !s) {
    return s.error();
  }
  return rooms;
}

std::string WebSocketSink::message_of(const Event& event) const {
  if (data_ == nullptr) return cloudevent_json(event);
  rapidjson::Document data;
  data_->render(event, data, data.GetAllocator());
  return cloudevent_json(event, &data);
}

Result<std::optional<Rendering>> WebSocketSink::render(const Event& event) {
  auto rooms = rooms_of(event);
  if (!rooms) return rooms.error();
  std::string where = path_ + " rooms: ";
  for (const auto& room : *rooms) where += (&room == &rooms->front() ? "" : ", ") + room;
  if (rooms->empty()) where += "none (published nowhere)";
  return std::optional<Rendering>(Rendering{.method = "PUBLISH", .url = std::move(where), .body = message_of(event)});
}

void WebSocketSink::deliver(EventPtr event, DeliveryCallback done) {
  auto rooms = rooms_of(*event);
  if (!rooms) return done(rooms.error());
  if (rooms->empty()) {
    context_->logger().debug("event " + event->id + ": its room is empty; published nowhere");
    return done({});
  }
  done(hub_->publish(*rooms, message_of(*event), event->id, context_->state(), telemetry_));
}

void WebSocketSink::stop() {
  route_.reset();  // open connections close (1001); no callback reaches the endpoint any more
  prune_timer_.reset();
  if (endpoint_) endpoint_->stop();
  if (hub_) hub_->leave_all(this);
  if (doorkeeper_) doorkeeper_->stop();
}

}  // namespace switchyard::websocket
