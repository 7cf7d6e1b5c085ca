#pragma once
// Part of the test harness (switchyard/testing.hpp): WebSocket connections without sockets.
// A test connects to a component's WebSocket route with Harness::connect_websocket(), sends
// it messages, reads what it sent back, and can make the client stop reading (stall) to see
// the send queue fill up and the component's reaction to a slow client. As in the engine,
// the component's callbacks run on its executor (the harness's ManualExecutor).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/context.hpp"
#include "switchyard/websocket.hpp"

namespace switchyard::testing {

/// The component's side of a faked connection. What it sends is "written" at once (the
/// client reads it) unless the client stalls; then it queues up to the route's send_queue,
/// and one more send closes the connection with 1013, as the engine does.
class FakeWebSocketConnection final : public WebSocketConnection,
                                      public std::enable_shared_from_this<FakeWebSocketConnection> {
 public:
  FakeWebSocketConnection(Executor& executor, std::shared_ptr<WebSocketHandler> handler, WebSocketOptions options,
                          std::uint64_t id, std::string remote, WebSocketUpgrade accepted)
      : executor_(executor), handler_(std::move(handler)), options_(options), id_(id), remote_(std::move(remote)),
        subprotocol_(std::move(accepted.subprotocol)), attachment_(std::move(accepted.attachment)) {}

  WebSocketSend send(std::shared_ptr<const std::string> text) override {
    if (closed_ || closing_ || !text) return WebSocketSend::closed;
    if (!stalled_) {
      received_.push_back(*text);
      return WebSocketSend::queued;
    }
    if (queued_ + text->size() > options_.send_queue) {
      queue_.clear();
      queued_ = 0;
      drained_ = nullptr;
      end({websocket_close::kTryAgainLater, "send queue full: the client reads too slowly"});
      return WebSocketSend::overflow;
    }
    queued_ += text->size();
    queue_.push_back(std::move(text));
    return WebSocketSend::queued;
  }
  void close(std::uint16_t code, std::string_view reason) override {
    if (closed_ || closing_) return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::string(reason);
    if (!stalled_) end({code, close_reason_});
  }
  std::size_t queued() const override { return queued_; }
  void when_drained(std::function<void()> ready) override {
    if (closed_) return;
    if (queued_ == 0) {
      executor_.post(std::move(ready));
    } else {
      drained_ = std::move(ready);
    }
  }
  std::uint64_t id() const override { return id_; }
  std::string_view remote() const override { return remote_; }
  std::string_view subprotocol() const override { return subprotocol_; }
  const std::shared_ptr<void>& attachment() const override { return attachment_; }

  // --- the test's (client's) side ---

  /// Stops reading: sends queue up (queued() grows) until resume().
  void stall() { stalled_ = true; }
  /// Reads everything queued; the component's drained callback runs.
  void resume() {
    stalled_ = false;
    for (auto& text : queue_) received_.push_back(*text);
    queue_.clear();
    queued_ = 0;
    if (drained_) executor_.post(std::exchange(drained_, nullptr));
    if (closing_ && !closed_) end({close_code_, close_reason_});
  }
  /// The client sends a text message.
  void client_send(std::string text) {
    if (closed_) return;
    executor_.post([self = shared_from_this(), text = std::move(text)]() mutable {
      if (!self->closed_) self->handler_->message(self, std::move(text));
    });
  }
  /// The client closes (or the connection drops: 1006).
  void client_close(std::uint16_t code, std::string reason) { end({code, std::move(reason)}); }

  /// Messages the client has read, in order.
  std::vector<std::string>& received() { return received_; }
  bool closed() const { return closed_; }
  /// How it ended, once closed.
  const std::optional<WebSocketClosed>& how() const { return how_; }

 private:
  void end(WebSocketClosed how) {
    if (closed_) return;
    closed_ = true;
    how_ = how;
    executor_.post([self = shared_from_this(), how = std::move(how)] { self->handler_->closed(self, how); });
  }

  Executor& executor_;
  std::shared_ptr<WebSocketHandler> handler_;
  WebSocketOptions options_;
  std::uint64_t id_;
  std::string remote_;
  std::string subprotocol_;
  std::shared_ptr<void> attachment_;
  std::vector<std::string> received_;
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_ = 0;
  std::function<void()> drained_;
  bool stalled_ = false, closing_ = false, closed_ = false;
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  std::optional<WebSocketClosed> how_;
};

/// The outcome of Harness::connect_websocket(): the refusal, or the connection.
struct FakeWebSocket {
  /// The HTTP answer when the upgrade was refused (no route: 404).
  std::optional<HttpResponse> refusal;
  /// The connection when it was accepted.
  std::shared_ptr<FakeWebSocketConnection> connection;

  explicit operator bool() const { return connection != nullptr; }
  FakeWebSocketConnection* operator->() const { return connection.get(); }
};

}  // namespace switchyard::testing
