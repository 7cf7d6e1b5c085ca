// The SDK's FdWatch on the engine's event loop: a component's own socket (a libpq or
// libcurl connection) reported ready on the component's strand, never closed by the engine.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>

#include "runtime/io.hpp"

namespace switchyard::runtime {
namespace {

using namespace std::chrono_literals;

class FdWatchTest : public ::testing::Test {
 protected:
  FdWatchTest() {
    io_.start();
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
  }
  ~FdWatchTest() override {
    io_.stop();
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  Io io_{2};
  int fds_[2] = {-1, -1};
};

TEST_F(FdWatchTest, ReadinessIsReportedOnTheComponentsStrand) {
  StrandExecutor executor(io_.make_strand());
  auto watch = executor.watch(fds_[0]);
  std::promise<bool> on_strand;
  auto ready = on_strand.get_future();
  watch->when_readable([&] { on_strand.set_value(executor.strand().running_in_this_thread()); });
  EXPECT_EQ(ready.wait_for(100ms), std::future_status::timeout) << "nothing to read yet";
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  ASSERT_EQ(ready.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(ready.get());
  run_on(executor.strand(), [&] { watch.reset(); });
}

TEST_F(FdWatchTest, AConnectedSocketIsWritableAtOnce) {
  StrandExecutor executor(io_.make_strand());
  auto watch = executor.watch(fds_[0]);
  std::promise<void> writable;
  watch->when_writable([&] { writable.set_value(); });
  EXPECT_EQ(writable.get_future().wait_for(2s), std::future_status::ready);
  run_on(executor.strand(), [&] { watch.reset(); });
}

TEST_F(FdWatchTest, ACancelledWaitNeverCallsBackAndTheDescriptorStaysOpen) {
  StrandExecutor executor(io_.make_strand());
  std::atomic<int> calls{0};
  run_on(executor.strand(), [&] {
    auto watch = executor.watch(fds_[0]);
    watch->when_readable([&] { ++calls; });
    watch->cancel();
  });
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  // A second watch sees the byte: the first neither consumed it nor closed the descriptor.
  std::promise<void> seen;
  auto watch = executor.watch(fds_[0]);
  watch->when_readable([&] { seen.set_value(); });
  EXPECT_EQ(seen.get_future().wait_for(2s), std::future_status::ready);
  EXPECT_EQ(calls, 0);
  EXPECT_NE(::fcntl(fds_[0], F_GETFD), -1) << "the engine never closes a component's descriptor";
  run_on(executor.strand(), [&] { watch.reset(); });
}

}  // namespace
}  // namespace switchyard::runtime
