#include "runtime/io.hpp"

namespace switchyard::runtime {

Io::Io(unsigned threads)
    : threads_(threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads),
      context_(static_cast<int>(threads_)),
      work_(asio::make_work_guard(context_)) {}

Io::~Io() { stop(); }

void Io::start() {
  if (!pool_.empty()) return;
  for (unsigned i = 0; i < threads_; ++i) {
    pool_.emplace_back([this] { context_.run(); });
  }
}

void Io::stop() {
  work_.reset();
  context_.stop();
  for (auto& t : pool_) {
    if (t.joinable()) t.join();
  }
  pool_.clear();
}

void run_guarded(const TaskFailure& failure, const char* where, const std::function<void()>& task) {
  if (!failure) return task();
  try {
    task();
  } catch (const std::exception& ex) {
    (*failure)(where, ex.what());
  } catch (...) {
    (*failure)(where, "a non-standard exception");
  }
}

StrandTimer::StrandTimer(const Strand& strand, TaskFailure failure)
    : timer_(strand), generation_(std::make_shared<std::uint64_t>(0)), failure_(std::move(failure)) {}

StrandTimer::~StrandTimer() { cancel(); }

void StrandTimer::expires_after(std::chrono::milliseconds delay, std::function<void()> fired) {
  const std::uint64_t generation = ++*generation_;
  timer_.expires_after(delay);
  timer_.async_wait([weak = std::weak_ptr<std::uint64_t>(generation_), generation, failure = failure_,
                     fired = std::move(fired)](const boost::system::error_code& ec) {
    auto current = weak.lock();
    if (ec || !current || *current != generation) return;
    run_guarded(failure, "a timer callback", fired);
  });
}

void StrandTimer::cancel() {
  ++*generation_;
  timer_.cancel();
}

StrandFdWatch::StrandFdWatch(const Strand& strand, int fd, TaskFailure failure)
    : descriptor_(strand, fd), failure_(std::move(failure)) {}

StrandFdWatch::~StrandFdWatch() {
  cancel();
  descriptor_.release();  // the component owns the descriptor and closes it
}

void StrandFdWatch::when_readable(std::function<void()> ready) {
  wait(asio::posix::descriptor_base::wait_read, read_generation_, std::move(ready));
}

void StrandFdWatch::when_writable(std::function<void()> ready) {
  wait(asio::posix::descriptor_base::wait_write, write_generation_, std::move(ready));
}

void StrandFdWatch::wait(asio::posix::descriptor_base::wait_type type,
                         const std::shared_ptr<std::uint64_t>& generation, std::function<void()> ready) {
  const std::uint64_t current = ++*generation;
  descriptor_.async_wait(type, [weak = std::weak_ptr<std::uint64_t>(generation), current, failure = failure_,
                                ready = std::move(ready)](const boost::system::error_code& ec) {
    auto live = weak.lock();
    if (ec == asio::error::operation_aborted || !live || *live != current) return;
    // An error (hang-up, reset) is readiness too: the owner's next call reports it.
    run_guarded(failure, "a socket readiness callback", ready);
  });
}

void StrandFdWatch::cancel() {
  ++*read_generation_;
  ++*write_generation_;
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
}

}  // namespace switchyard::runtime
