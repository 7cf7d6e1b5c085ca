#pragma once
// Internal: the component's side of one WebSocket connection (websocket.cpp runs the socket's
// side): the queue of messages any thread may fill, bounded in bytes, and the close it asks
// for. The session takes the queue a batch at a time on its strand.
//
// Plain (not TLS) connections take a shortcut: when nothing is queued and nobody is writing
// to the socket, send() writes the frame itself, at once, on the calling thread (a
// non-blocking sendmsg of the frame header and the shared message), instead of posting to
// the session's strand. A broadcast to 10,000 clients is 10,000 such writes; see
// docs/performance.md. Whoever writes to the socket holds it (writer_, under the mutex): a
// sender for the length of one sendmsg; the session while it writes queued frames; Beast
// while it writes a control frame (ping, pong, close), through FrameSocket in websocket.cpp.
// A frame that went out in part stays at the head of the queue for the session to finish,
// with the socket held for it: frames never interleave.

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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

/// The header of an unmasked, unfragmented text frame of `length` bytes (server to client):
/// its size, 2 to 10 bytes of `out`.
inline std::size_t text_frame_header(std::size_t length, unsigned char (&out)[10]) {
  out[0] = 0x81;  // FIN, text
  if (length < 126) {
    out[1] = static_cast<unsigned char>(length);
    return 2;
  }
  if (length <= 0xffff) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(length >> 8);
    out[3] = static_cast<unsigned char>(length);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(length) >> (56 - 8 * i));
  return 10;
}

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
        pending_.resize(head_offset_ > 0 ? 1 : 0);  // a frame begun on the socket is finished
        drained_ = nullptr;
        result = WebSocketSend::overflow;
      } else {
        if (direct_fd_ >= 0 && queued_ == 0 && writer_ == Writer::none) {
          // Nothing queued, nobody writing: the frame goes out now, from this thread.
          const std::size_t done = write_now(*text);
          if (done == std::string::npos) return WebSocketSend::queued;  // all of it
          if (done > 0) {
            head_offset_ = done;  // the session writes the rest before anything else
            writer_ = Writer::session;
          }
        }
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
  /// nothing left over, `fresh` receives what was queued since, and `offset` the bytes of the
  /// first one's frame already written (by send()).
  Step next(bool busy, std::vector<Frame>& fresh, std::size_t& offset) {
    std::lock_guard lock(mutex_);
    kicked_ = false;
    if (state_ == State::overflowed) {
      if (!busy && head_offset_ > 0 && !pending_.empty()) {  // a frame begun: it is finished first
        fresh.swap(pending_);
        offset = std::exchange(head_offset_, 0);
      }
      return {Step::close, true, code_, reason_};
    }
    if (busy) return {Step::write};
    if (!pending_.empty()) {
      offset = std::exchange(head_offset_, 0);
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
    head_offset_ = 0;
    direct_fd_ = -1;
    drained_ = nullptr;
    session_.reset();
  }

  // --- who writes to the socket (plain connections) ---

  enum class Writer { none, session, beast };

  /// From now on send() may write frames to `fd` itself (the session's plain socket).
  void write_directly(int fd) {
    std::lock_guard lock(mutex_);
    if (state_ == State::open) direct_fd_ = fd;
  }
  /// Before the socket closes or a close frame goes: send() writes no more. `frames_end`: no
  /// data frame may follow any more (a close frame is going out).
  void stop_writing_directly(bool frames_end) {
    std::lock_guard lock(mutex_);
    direct_fd_ = -1;
    if (frames_end) frames_ended_ = true;
  }
  /// Takes the socket for `who`; false while another holds it (or, for the session, once a
  /// close frame went out). The session keeps a socket that send() left it with a frame begun.
  bool take_socket(Writer who) {
    std::lock_guard lock(mutex_);
    if (who == Writer::session && frames_ended_) return false;
    if (writer_ != Writer::none && writer_ != who) return false;
    writer_ = who;
    return true;
  }
  /// Lets the socket go; `to_beast`: straight to Beast's waiting write. True when frames are
  /// still to be written (queued, or in the session's batch): the session has work.
  bool release_socket(bool to_beast) {
    std::lock_guard lock(mutex_);
    writer_ = to_beast ? Writer::beast : Writer::none;
    return queued_ > 0;
  }

  WebSocketRoute& route() { return *route_; }

 private:
  enum class State { open, closing, overflowed, ended };

  // Call with the mutex held: writes `text` as one frame to direct_fd_ without blocking.
  // Returns npos when all of it went out, else the bytes written (0 when none).
  std::size_t write_now(const std::string& text) {
    unsigned char header[10];
    const std::size_t header_size = text_frame_header(text.size(), header);
    iovec parts[2] = {{header, header_size}, {const_cast<char*>(text.data()), text.size()}};
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = 2;
    const ssize_t n = ::sendmsg(direct_fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(header_size + text.size())) return std::string::npos;
    if (n >= 0) return static_cast<std::size_t>(n);
    // Full socket buffer: queued for the session. A broken connection: queued too; the
    // session's write fails and ends it.
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) direct_fd_ = -1;
    return 0;
  }

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
  int direct_fd_ = -1;               // >= 0: send() may write to this socket itself
  Writer writer_ = Writer::none;     // who is writing to the socket
  std::size_t head_offset_ = 0;      // bytes of pending_.front()'s frame already written
  bool frames_ended_ = false;        // a close frame went out: no data frame follows
};

}  // namespace switchyard::http
