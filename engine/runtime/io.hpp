#pragma once
// Internal: the Asio executor and the SDK Executor/Timer over strands. Only runtime .cpp
// files include this header, so Asio stays out of the rest of the engine and of plugins.

#include <boost/asio/defer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "switchyard/context.hpp"

namespace switchyard::runtime {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

/// The engine's executor: one io_context run by a fixed pool of threads.
class Io {
 public:
  explicit Io(unsigned threads);
  ~Io();
  Io(const Io&) = delete;
  Io& operator=(const Io&) = delete;

  /// Starts the threads (idempotent).
  void start();
  /// Stops the io_context and joins the threads.
  void stop();
  asio::io_context& context() { return context_; }
  Strand make_strand() { return asio::make_strand(context_); }
  unsigned threads() const { return threads_; }

 private:
  unsigned threads_;
  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> pool_;
};

/// Runs `fn` on `strand` and waits for it; exceptions are rethrown here.
template <class F>
auto run_on(const Strand& strand, F&& fn) -> decltype(fn()) {
  using R = decltype(fn());
  if (strand.running_in_this_thread()) return fn();
  std::packaged_task<R()> task(std::forward<F>(fn));
  auto result = task.get_future();
  asio::post(strand, [&task] { task(); });
  return result.get();
}

/// An SDK Timer on a strand. A cancelled or re-armed wait never runs its callback, even if
/// the old wait had already completed and its handler was queued.
class StrandTimer final : public Timer {
 public:
  explicit StrandTimer(const Strand& strand);
  ~StrandTimer() override;
  void expires_after(std::chrono::milliseconds delay, std::function<void()> fired) override;
  void cancel() override;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<std::uint64_t> generation_;
};

/// The SDK Executor of one component: everything runs on its strand. Once closed (after the
/// component's stop()), tasks still queued are dropped, so none runs on a stopped component.
class StrandExecutor final : public Executor {
 public:
  explicit StrandExecutor(Strand strand)
      : strand_(std::move(strand)), open_(std::make_shared<std::atomic<bool>>(true)) {}
  void post(std::function<void()> task) override {
    asio::post(strand_, [open = open_, task = std::move(task)] {
      if (open->load(std::memory_order_acquire)) task();
    });
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<StrandTimer>(strand_); }
  const Strand& strand() const { return strand_; }
  void close() { open_->store(false, std::memory_order_release); }

 private:
  Strand strand_;
  std::shared_ptr<std::atomic<bool>> open_;
};

}  // namespace switchyard::runtime
