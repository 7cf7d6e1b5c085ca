#pragma once
// TODO(pg): remove once the engine releases an event whose asynchronous decision arrives
// on the pipeline's strand. Today runtime/transform_chain.cpp lets an event leave the
// chain when an AsyncTransform decides inline (in process()) or from another thread; a
// decision made later on the pipeline's strand itself (where every SDK callback of the
// component runs: its timers, socket readiness and posted tasks) is recorded but the event
// waits until the next event enters the chain. Handing the decision to this one thread
// takes it off the strand, so the engine posts it back and releases the event.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace switchyard::postgres {

class CompletionRelay {
 public:
  ~CompletionRelay() { stop(); }

  void start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }
  /// Runs what is queued, then ends the thread.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (!thread_.joinable()) return;
      stopping_ = true;
    }
    ready_.notify_one();
    thread_.join();
  }
  /// Runs `task` on the relay's thread (at once, here, when it is not running).
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      if (thread_.joinable() && !stopping_) {
        tasks_.push_back(std::move(task));
        ready_.notify_one();
        return;
      }
    }
    task();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      while (!tasks_.empty()) {
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        lock.lock();
      }
      if (stopping_) return;
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace switchyard::postgres
