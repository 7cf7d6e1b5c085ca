#pragma once
// What the tests of the `switchyard` binary share: where it is, and a temp dir with a
// configuration to run it with.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include <chrono>
#include <thread>

namespace switchyard::cli_test {

using test::run_to_end;

inline const std::string kBinary = SWITCHYARD_BINARY;
inline const std::string kFixtures = SWITCHYARD_FIXTURE_DIR;

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class Cli : public ::testing::Test {
 protected:
  // A config whose pipelines dir is <tmp>/pipelines.
  std::string config(const std::string& extra = "") {
    return dir_.write("switchyard.yaml", "admin: {listen: \"127.0.0.1:0\"}\npipelines: {dir: " + (dir_ / "pipelines").string() +
                                             "}\nstate: {dir: " + (dir_ / "state").string() + "}\n" + extra)
        .string();
  }
  test::TempDir dir_;
};

}  // namespace switchyard::cli_test
