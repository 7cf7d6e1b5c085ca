#pragma once
// The SDK harness runs a component in virtual time, polling watched sockets without
// waiting. Against a real server that runs far ahead of the server's answers, so these
// tests drive the harness in real time instead: posted tasks and ready sockets run, and
// virtual time follows the wall clock (a 300 ms timeout is 300 ms).

#include <chrono>
#include <functional>
#include <thread>

#include "switchyard/testing.hpp"

namespace switchyard::test {

/// Runs `h` until `done()` holds or `limit` of real time has passed; false on the limit.
inline bool run_until(testing::Harness& h, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last = start;
  for (;;) {
    h.executor().run_pending();
    if (done()) return true;
    const auto now = Clock::now();
    if (now - start > limit) return false;
    const auto elapsed = std::chrono::floor<std::chrono::milliseconds>(now - last);
    if (elapsed.count() > 0) {
      h.advance(elapsed);
      last += elapsed;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // the sockets are polled, not waited on
  }
}

}  // namespace switchyard::test
