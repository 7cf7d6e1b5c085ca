#include "runtime/replies.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace switchyard::runtime {

using Clock = std::chrono::steady_clock;

// Shared with the timer's handler, which may run after the owner is gone.
struct PipelineReplies::State : std::enable_shared_from_this<State> {
  explicit State(Strand s) : timer(s) {}

  struct Entry {
    ReplyHandler handler;
    Clock::time_point deadline;
    std::multimap<Clock::time_point, std::string>::iterator in_deadlines;
  };

  // Removes `id` under the lock; the caller runs its handler outside it.
  std::optional<ReplyHandler> take(std::string_view id) {
    auto it = parked.find(std::string(id));
    if (it == parked.end()) return std::nullopt;
    ReplyHandler handler = std::move(it->second.handler);
    deadlines.erase(it->second.in_deadlines);
    parked.erase(it);
    count.store(parked.size(), std::memory_order_relaxed);
    return handler;
  }

  // Arms the timer for the earliest deadline unless it is armed for it already. Under the lock.
  void arm() {
    if (deadlines.empty()) return;
    const auto next = deadlines.begin()->first;
    if (armed && *armed <= next) return;
    armed = next;
    timer.expires_at(next);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->expire();
    });
  }

  void expire() {
    std::vector<ReplyHandler> due;
    {
      std::lock_guard lock(mutex);
      armed.reset();
      const auto now = Clock::now();
      while (!deadlines.empty() && deadlines.begin()->first <= now) {
        if (auto handler = take(deadlines.begin()->second)) due.push_back(std::move(*handler));
      }
      arm();
    }
    for (auto& handler : due) handler(std::nullopt);
  }

  mutable std::mutex mutex;
  std::unordered_map<std::string, Entry> parked;
  std::atomic<std::size_t> count{0};  // parked.size(), read without the lock
  std::multimap<Clock::time_point, std::string> deadlines;
  asio::steady_timer timer;
  std::optional<Clock::time_point> armed;
  bool closed = false;
};

PipelineReplies::PipelineReplies(Strand strand) : state_(std::make_shared<State>(std::move(strand))) {}

PipelineReplies::~PipelineReplies() { close(); }

void PipelineReplies::park(std::string event_id, std::chrono::milliseconds within, ReplyHandler handler) {
  std::optional<ReplyHandler> earlier;
  bool closed = false;
  {
    std::lock_guard lock(state_->mutex);
    closed = state_->closed;
    if (!closed) {
      earlier = state_->take(event_id);
      const auto deadline = Clock::now() + within;
      auto in_deadlines = state_->deadlines.emplace(deadline, event_id);
      state_->parked.emplace(std::move(event_id), State::Entry{std::move(handler), deadline, in_deadlines});
      state_->count.store(state_->parked.size(), std::memory_order_relaxed);
      state_->arm();
    }
  }
  if (earlier) (*earlier)(std::nullopt);
  if (closed) handler(std::nullopt);  // the pipeline has stopped: nobody will answer
}

bool PipelineReplies::answer(std::string_view event_id, Reply reply) {
  std::optional<ReplyHandler> handler;
  {
    std::lock_guard lock(state_->mutex);
    handler = state_->take(event_id);
  }
  if (!handler) return false;
  (*handler)(std::move(reply));
  return true;
}

bool PipelineReplies::waiting(std::string_view event_id) const {
  if (state_->count.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(state_->mutex);
  return state_->parked.contains(std::string(event_id));
}

bool PipelineReplies::unanswered(std::string_view event_id) {
  if (state_->count.load(std::memory_order_relaxed) == 0) return false;
  return answer(event_id, Reply{.status = 0, .headers = {}, .body = {}, .content_type = {}, .unanswered = true});
}

bool PipelineReplies::withdraw(std::string_view event_id) {
  std::lock_guard lock(state_->mutex);
  return state_->take(event_id).has_value();
}

void PipelineReplies::close() {
  std::vector<ReplyHandler> left;
  {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
    for (auto& [id, entry] : state_->parked) left.push_back(std::move(entry.handler));
    state_->parked.clear();
    state_->count.store(0, std::memory_order_relaxed);
    state_->deadlines.clear();
    state_->armed.reset();
    state_->timer.cancel();
  }
  for (auto& handler : left) handler(std::nullopt);
}

std::size_t PipelineReplies::parked() const {
  std::lock_guard lock(state_->mutex);
  return state_->parked.size();
}

}  // namespace switchyard::runtime
