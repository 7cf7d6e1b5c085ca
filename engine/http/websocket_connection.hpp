#pragma once
// Internal: the component's side of one WebSocket connection (websocket.cpp runs the socket's
// side): the queue of messages any thread may fill, bounded in bytes, and the close it asks
// for. The session takes the queue a batch at a time on its strand.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/websocket.hpp"

namespace switchyard::http {

// What a connection wakes when it has something for the socket: its session.
class Flusher {
 public:
  virtual ~Flusher() = default;
  /// Schedules a look at the connection's queue on the session's strand.
  virtual void schedule_flush() = 0;
};

class WebSocketConnectionImpl final : public WebSocketConnection,
                                      public std::enable_shared_from_this<WebSocketConnectionImpl> {
 public:
  using Frame = std::shared_ptr<const std::string>;
  // What the session does next.
  struct Step {
    enum Kind { wait, write, close } kind = wait;
    bool drop = false;  // close at once: what is queued is not written
    std::uint16_t code = 0;
    std::string reason;
  };

  WebSocketConnectionImpl(std::shared_ptr<WebSocketRoute> route, std::string remote, WebSocketUpgrade&& accepted)
      : route_(std::move(route)),
        limit_(route_->options().send_queue),
        remote_(std::move(remote)),
        subprotocol_(std::move(accepted.subprotocol)),
        attachment_(std::move(accepted.attachment)) {}

  WebSocketSend send(Frame text) override {
    std::shared_ptr<Flusher> kick;
    WebSocketSend result = WebSocketSend::queued;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::open || !text) return WebSocketSend::closed;
      if (queued_ + text->size() > limit_) {
        // A client this far behind is closed rather than buffered for: it never holds up
        // the others, and its memory stays bounded.
        state_ = State::overflowed;
        code_ = websocket_close::kTryAgainLater;
        reason_ = "send queue full: the client reads too slowly";
        pending_.clear();
        drained_ = nullptr;
        result = WebSocketSend::overflow;
      } else {
        queued_ += text->size();
        pending_.push_back(std::move(text));
      }
      kick = take_kick();
    }
    if (kick) kick->schedule_flush();
    return result;
  }

  void close(std::uint16_t code, std::string_view reason) override {
    std::shared_ptr<Flusher> kick;
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::open) return;
      state_ = State::closing;
      code_ = code;
      reason_ = std::string(reason.substr(0, 123));  // a close frame's payload is at most 125 bytes
      kick = take_kick();
    }
    if (kick) kick->schedule_flush();
  }

  std::size_t queued() const override {
    std::lock_guard lock(mutex_);
    return queued_;
  }

  void when_drained(std::function<void()> ready) override {
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::overflowed || state_ == State::ended) return;
      if (queued_ > 0) {
        drained_ = std::move(ready);
        return;
      }
    }
    route_->post([ready = std::move(ready)](WebSocketHandler&) { ready(); });
  }

  std::uint64_t id() const override { return id_; }
  std::string_view remote() const override { return remote_; }
  std::string_view subprotocol() const override { return subprotocol_; }
  const std::shared_ptr<void>& attachment() const override { return attachment_; }

  // --- the session's side (its strand) ---

  /// From now on a send or close wakes `session` (once until it calls next()).
  void attach(std::weak_ptr<Flusher> session) {
    std::lock_guard lock(mutex_);
    session_ = std::move(session);
  }

  /// What to do now; `busy`: the session still has messages of an earlier batch. With
  /// nothing left over, `fresh` receives what was queued since.
  Step next(bool busy, std::vector<Frame>& fresh) {
    std::lock_guard lock(mutex_);
    kicked_ = false;
    if (state_ == State::overflowed) return {Step::close, true, code_, reason_};
    if (busy) return {Step::write};
    if (!pending_.empty()) {
      fresh.swap(pending_);
      if (pending_.capacity() > 256) std::vector<Frame>().swap(pending_);  // after a burst
      return {Step::write};
    }
    if (state_ == State::closing) return {Step::close, false, code_, reason_};
    return {};
  }

  /// `bytes` of a message are written; the drained callback, when nothing is left queued.
  std::function<void()> written(std::size_t bytes) {
    std::lock_guard lock(mutex_);
    queued_ -= std::min(queued_, bytes);
    if (queued_ > 0 || state_ == State::overflowed) return nullptr;
    return std::exchange(drained_, nullptr);
  }

  /// The connection is over: sends are refused, callbacks dropped.
  void ended() {
    std::lock_guard lock(mutex_);
    state_ = State::ended;
    pending_.clear();
    queued_ = 0;
    drained_ = nullptr;
    session_.reset();
  }

  WebSocketRoute& route() { return *route_; }

 private:
  enum class State { open, closing, overflowed, ended };

  // Call with the mutex held: the session to wake once unlocked, unless a wake-up is due.
  std::shared_ptr<Flusher> take_kick() {
    if (kicked_) return nullptr;
    auto session = session_.lock();
    if (session) kicked_ = true;
    return session;
  }

  static inline std::atomic<std::uint64_t> next_id_{1};

  const std::shared_ptr<WebSocketRoute> route_;
  const std::size_t limit_;
  const std::uint64_t id_ = next_id_.fetch_add(1, std::memory_order_relaxed);
  const std::string remote_;
  const std::string subprotocol_;
  const std::shared_ptr<void> attachment_;

  mutable std::mutex mutex_;
  State state_ = State::open;
  std::vector<Frame> pending_;  // queued, not yet taken by the session
  std::size_t queued_ = 0;      // bytes of pending_ and of the session's batch not yet written
  std::uint16_t code_ = 0;
  std::string reason_;
  std::function<void()> drained_;
  std::weak_ptr<Flusher> session_;
  bool kicked_ = false;
};

}  // namespace switchyard::http
