#pragma once
// Internal: one Server-Sent Events response — the frames the handler's side queues (any
// thread) and the session writes (its strand). At most one write is in flight; the bytes
// queued plus those of that write are bounded, past which the client is dropped.

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "http/server.hpp"

namespace switchyard::http {

class StreamState final : public EventStream {
 public:
  enum class Next { wait, write, finish, drop };

  explicit StreamState(std::size_t max_buffered) : max_(max_buffered) {}

  bool send(std::string_view name, std::string_view data) override {
    std::string frame;
    frame.reserve(name.size() + data.size() + 16);
    if (!name.empty()) {
      frame += "event: ";
      for (char c : name) frame += (c == '\r' || c == '\n') ? ' ' : c;
      frame += '\n';
    }
    // One data: line per line of `data`: CR, LF and CRLF all end a line in SSE, so none
    // can smuggle in a field of its own.
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = data.find_first_of("\r\n", start);
      frame += "data: ";
      frame.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      frame += '\n';
      if (end == std::string_view::npos) break;
      start = end + 1;
      if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
    }
    frame += '\n';
    return queue(std::move(frame));
  }

  bool comment(std::string_view text) override {
    std::string frame = ": ";
    for (char c : text) frame += (c == '\r' || c == '\n') ? ' ' : c;
    frame += "\n\n";
    return queue(std::move(frame));
  }

  bool open() const override {
    std::lock_guard lock(mutex_);
    return !ended_;
  }

  void close() override {
    std::function<void()> kick;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return;
      ended_ = true;
      kick = take_kick();
    }
    if (kick) kick();
  }

  // --- the session's side (its strand) ---

  /// Starts writing: `head` goes before anything queued; `kick` schedules a flush.
  void attach(std::string_view head, std::function<void()> kick) {
    std::lock_guard lock(mutex_);
    pending_.insert(0, head);
    kick_ = std::move(kick);
  }
  /// What to do next; with Next::write, `out` holds the bytes to write.
  Next take(std::string& out) {
    std::lock_guard lock(mutex_);
    kicked_ = false;
    if (dropped_) return Next::drop;
    if (writing_) return Next::wait;
    if (!pending_.empty()) {
      out.clear();
      out.swap(pending_);
      in_flight_ = out.size();
      writing_ = true;
      return Next::write;
    }
    return ended_ ? Next::finish : Next::wait;
  }
  void written() {
    std::lock_guard lock(mutex_);
    in_flight_ = 0;
    writing_ = false;
  }
  /// The connection is gone: refuse frames from now on.
  void detach() {
    std::lock_guard lock(mutex_);
    ended_ = true;
    kick_ = nullptr;
    pending_.clear();
  }
  std::size_t limit() const { return max_; }

 private:
  bool queue(std::string frame) {
    std::function<void()> kick;
    bool accepted = false;
    {
      std::lock_guard lock(mutex_);
      if (ended_) return false;
      if (pending_.size() + in_flight_ + frame.size() > max_) {
        ended_ = true;
        dropped_ = true;
        pending_.clear();
      } else {
        pending_ += frame;
        accepted = true;
      }
      kick = take_kick();
    }
    if (kick) kick();
    return accepted;
  }

  // Call with the mutex held: the kick to run once unlocked, unless one is already due.
  std::function<void()> take_kick() {
    if (kicked_ || !kick_) return nullptr;
    kicked_ = true;
    return kick_;
  }

  const std::size_t max_;
  mutable std::mutex mutex_;
  std::string pending_;
  std::size_t in_flight_ = 0;
  bool writing_ = false;
  bool ended_ = false;
  bool dropped_ = false;
  bool kicked_ = false;
  std::function<void()> kick_;
};

/// The head of an event-stream response.
constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\n"
    "Server: switchyard\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-store\r\n"
    "X-Accel-Buffering: no\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Connection: close\r\n"
    "\r\n";


}  // namespace switchyard::http
