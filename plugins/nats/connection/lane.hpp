#pragma once
// A connection's lanes (connection.cpp): threads of its own that run libnats's blocking
// calls in order, so neither the component's strand nor libnats's threads wait on them.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace switchyard::nats {

// One thread running jobs in order, and at most one job waiting for its time.
struct Lane {
  using Clock = std::chrono::steady_clock;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  std::optional<std::pair<Clock::time_point, std::function<void()>>> later;
  bool finishing = false;
  std::thread thread;

  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      if (finishing) return;
      jobs.push_back(std::move(job));
    }
    wake.notify_one();
  }
  // Runs `job` once `delay` has passed and the jobs queued by then have run; replaces a job
  // given here before that has not run yet.
  void post_after(std::chrono::milliseconds delay, std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      if (finishing) return;
      later.emplace(Clock::now() + delay, std::move(job));
    }
    wake.notify_one();
  }
  // The jobs already queued still run (not one waiting for its time, which is dropped: it
  // may hold what owns this lane); then the thread ends.
  void finish() {
    std::optional<std::pair<Clock::time_point, std::function<void()>>> dropped;
    {
      std::lock_guard lock(mutex);
      finishing = true;
      dropped.swap(later);
    }
    wake.notify_one();
  }
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        for (;;) {
          if (later && !finishing && later->first <= Clock::now()) {  // due: not put off by a busy lane
            job = std::move(later->second);
            later.reset();
            break;
          }
          if (!jobs.empty()) {
            job = std::move(jobs.front());
            jobs.pop_front();
            break;
          }
          if (finishing) return;
          if (later) {
            wake.wait_until(lock, later->first);
          } else {
            wake.wait(lock);
          }
        }
      }
      try {
        job();
      } catch (...) {
        // Jobs report their failures themselves; an exception must not end the lane.
      }
    }
  }
};

}  // namespace switchyard::nats
