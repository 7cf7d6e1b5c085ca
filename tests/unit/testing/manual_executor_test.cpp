// The SDK's test executor (switchyard/testing.hpp's ManualExecutor) takes posts from any
// thread, as the engine's executors do: a plugin's emit callback, which the engine may run on
// another thread, posts back to its strand, and its test must not race or lose that post.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "switchyard/testing.hpp"

namespace switchyard::testing {
namespace {

TEST(ManualExecutor, TasksPostedFromOtherThreadsAllRunOnTheTestsThread) {
  ManualExecutor executor;
  constexpr int kThreads = 4, kTasks = 5000;
  int ran = 0;  // only the test's thread touches it: the tasks run there
  const auto test_thread = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kTasks; ++i) {
        executor.post([&] {
          if (std::this_thread::get_id() != test_thread) ++elsewhere;
          ++ran;
        });
      }
    });
  }
  // Runs what arrived so far while the posters go on (a lost task would keep `ran` short:
  // the deadline ends the wait and the count says so).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ran < kThreads * kTasks && std::chrono::steady_clock::now() < deadline) {
    executor.run_pending();
    std::this_thread::yield();
  }
  for (auto& p : posters) p.join();
  executor.run_pending();
  EXPECT_EQ(ran, kThreads * kTasks) << "a task was lost or ran twice";
  EXPECT_EQ(elsewhere.load(), 0);
}

}  // namespace
}  // namespace switchyard::testing
