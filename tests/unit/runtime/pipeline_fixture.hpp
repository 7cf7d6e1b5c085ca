#pragma once
// The fixtures of the runtime tests: a pipeline built from YAML over the in-process test
// components (test_components.hpp) and the faulty fixture plugin, with or without a journal.

#include "runtime/pipeline.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <numeric>
#include <set>
#include <thread>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"
#include "http/server.hpp"
#include "journal/dead_letters.hpp"
#include "journal/journal.hpp"
#include "journal/sqlite.hpp"
#include "runtime/component_context.hpp"
#include "runtime/engine.hpp"
#include "runtime/io.hpp"
#include "runtime/state_store.hpp"
#include "support/status.hpp"
#include "support/temp_dir.hpp"
#include "test_components.hpp"

namespace switchyard::runtime {
using test::Captured;

template <class Pred>
inline bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline std::vector<int> iota(int n, int step = 1) {
  std::vector<int> v;
  for (int i = 0; i < n; i += step) v.push_back(i);
  return v;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::setup("warn", "text");
    Captured::instance().clear();
    test::SequenceSource::waits = 0;
    ASSERT_TRUE(test::ok(registry_.add(test::kTestPlugin, "<test>")));
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_FIXTURE_DIR) + "/faulty/faulty.so")));
    io_.start();
  }

  std::shared_ptr<Pipeline> start(const std::string& yaml, Status* status_out = nullptr) {
    const auto file = dir_.write("p.yaml", yaml);
    config::Diagnostics diagnostics;
    auto config = std::make_shared<config::PipelineConfig>();
    EXPECT_TRUE(config::load_pipeline(file, registry_, *config, diagnostics))
        << (diagnostics.empty() ? "" : config::format(diagnostics[0]));
    auto pipeline = make_pipeline(config, services_);
    Status status = pipeline->build();
    if (status) status = pipeline->start();
    if (status_out) *status_out = status;
    else EXPECT_TRUE(status) << status.error().message;
    return pipeline;
  }

  void drain(Pipeline& pipeline) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    pipeline.drain([&] {
      std::lock_guard lock(m);
      done = true;
      cv.notify_all();
    });
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; }));
  }

  loader::PluginRegistry registry_;  // outlives everything: components' code lives in it
  test::TempDir dir_;
  StateTable store_;
  Io io_{2};
  http::Server server_{io_, config::listener_settings("http", "127.0.0.1:0")};
  Services services_{io_, store_, server_};
};

class JournaledPipelineTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    open_journal();
  }
  void open_journal() {
    auto j = journal::Journal::open({.dir = dir_ / "state", .fsync = false});
    ASSERT_TRUE(j) << j.error().message;
    journal_ = std::move(*j);
    services_.journal = journal_.get();
  }
  void close_journal() {
    services_.journal = nullptr;
    journal_.reset();
  }
  // For wait_until: looks every 50 ms (each look opens a connection to the journal).
  bool dlq_empty() {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return dead_letters().empty();
  }
  std::vector<journal::DeadLetter> dead_letters() {
    journal_->flush();
    auto dlq = journal::DeadLetters::open(dir_ / "state");
    EXPECT_TRUE(dlq);
    auto list = dlq->list({});
    return list ? *list : std::vector<journal::DeadLetter>{};
  }
  std::unique_ptr<journal::Journal> journal_;
};

}  // namespace switchyard::runtime
