#pragma once
// Internal: the Asio executor, and the SDK's Executor, Timer and FdWatch over strands.
// Asio stays out of plugins: only engine .cpp files include this header.

#include <boost/asio/defer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <string>
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

/// Called with where and what when a component's task, timer or watch callback throws: the
/// exception stops there (the task is dropped) instead of ending the process.
using TaskFailure = std::shared_ptr<const std::function<void(const char* where, const std::string& what)>>;

/// Runs `task`, handing an exception to `failure` (rethrown when there is none: engine code).
void run_guarded(const TaskFailure& failure, const char* where, const std::function<void()>& task);

/// An SDK Timer on a strand. A cancelled or re-armed wait never runs its callback, even if
/// the old wait had already completed and its handler was queued.
class StrandTimer final : public Timer {
 public:
  explicit StrandTimer(const Strand& strand, TaskFailure failure = nullptr);
  ~StrandTimer() override;
  void expires_after(std::chrono::milliseconds delay, std::function<void()> fired) override;
  void cancel() override;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<std::uint64_t> generation_;
  TaskFailure failure_;
};

/// An SDK FdWatch on a strand: a descriptor the component owns, registered with the event
/// loop without taking ownership (released, never closed, when the watch goes). As with
/// StrandTimer, a cancelled or replaced wait never runs its callback.
class StrandFdWatch final : public FdWatch {
 public:
  StrandFdWatch(const Strand& strand, int fd, TaskFailure failure = nullptr);
  ~StrandFdWatch() override;
  void when_readable(std::function<void()> ready) override;
  void when_writable(std::function<void()> ready) override;
  void cancel() override;

 private:
  void wait(asio::posix::descriptor_base::wait_type type, const std::shared_ptr<std::uint64_t>& generation,
            std::function<void()> ready);

  asio::posix::stream_descriptor descriptor_;
  TaskFailure failure_;
  std::shared_ptr<std::uint64_t> read_generation_ = std::make_shared<std::uint64_t>(0);
  std::shared_ptr<std::uint64_t> write_generation_ = std::make_shared<std::uint64_t>(0);
};

/// The SDK Executor of one component: everything runs on its strand. Once closed (after the
/// component's stop()), tasks still queued are dropped, so none runs on a stopped component.
/// A task, timer or watch callback that throws is reported to `failure` and dropped.
class StrandExecutor final : public Executor {
 public:
  explicit StrandExecutor(Strand strand, TaskFailure failure = nullptr)
      : strand_(std::move(strand)), open_(std::make_shared<std::atomic<bool>>(true)), failure_(std::move(failure)) {}
  void post(std::function<void()> task) override {
    asio::post(strand_, [open = open_, failure = failure_, task = std::move(task)] {
      if (open->load(std::memory_order_acquire)) run_guarded(failure, "a posted task", task);
    });
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<StrandTimer>(strand_, failure_); }
  std::unique_ptr<FdWatch> watch(int fd) override { return std::make_unique<StrandFdWatch>(strand_, fd, failure_); }
  const Strand& strand() const { return strand_; }
  void close() { open_->store(false, std::memory_order_release); }

 private:
  Strand strand_;
  std::shared_ptr<std::atomic<bool>> open_;
  TaskFailure failure_;
};

}  // namespace switchyard::runtime
