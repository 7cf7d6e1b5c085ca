// The postgres plugin against a local PostgreSQL 15 with its default durability (fsync on,
// synchronous_commit on), started for the run like the tests start theirs:
//  1. rows/s through the postgres sink: generate → postgres (durability: memory, so the
//     engine's journal is not what is measured), batched (concurrency 1000, batches of up
//     to 500 rows, 2 sessions) against one row per transaction as the use cases wrote
//     them (concurrency 1, max_rows 1), and one row per transaction 8 at a time;
//  2. the postgres.query round trip, p50/p99: the transform as the engine calls it
//     (ComponentHost on an io_context thread, the component's strand and FdWatch), one
//     event at a time, a primary-key lookup in a 10,000-row table.
//
//   build/bin/postgres_bench [rows]      (default 200000 batched; fewer for the one-row runs)

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "config/pipeline_config.hpp"
#include "http/server.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"
#include "postgres_server.hpp"
#include "runtime/component_context.hpp"
#include "runtime/component_host.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/replies.hpp"
#include "runtime/state_store.hpp"
#include "switchyard/switchyard.hpp"
#include "switchyard/testing.hpp"

namespace {
using namespace switchyard;
using Clock = std::chrono::steady_clock;

std::shared_ptr<config::PipelineConfig> load(const loader::PluginRegistry& registry, const std::string& yaml) {
  char path[] = "/tmp/switchyard-pgbench-XXXXXX.yaml";
  const int fd = ::mkstemps(path, 5);
  if (fd < 0 || ::write(fd, yaml.data(), yaml.size()) != static_cast<ssize_t>(yaml.size())) std::abort();
  ::close(fd);
  auto config = std::make_shared<config::PipelineConfig>();
  config::Diagnostics diagnostics;
  const Status loaded = config::load_pipeline(path, registry, *config, diagnostics);
  ::unlink(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    std::exit(1);
  }
  return config;
}

struct SinkRun {
  const char* label;
  std::uint64_t rows;
  int concurrency;
  int max_rows;
  int pool;
};

// Seconds from start until every row is delivered (committed).
double run_sink(const loader::PluginRegistry& registry, test::PostgresServer& pg, const SinkRun& r) {
  pg.execute("TRUNCATE bench_builds");
  const std::string yaml =
      "name: pgbench\ndurability: memory\nqueue_size: 10000\n"
      "source:\n  type: generate\n  interval: 0\n  count: " + std::to_string(r.rows) +
      "\n  payload: {id: 12345678, status: success, branch: main, sha: 3484a3fb816e0859fd6e1cea078d76385ff50625,"
      " url: 'https://github.com/octo-org/app/actions/runs/12345678', at: '2024-05-01T12:00:00Z',"
      " actor: {login: octocat, id: 1}}\n"
      "sinks:\n  - type: postgres\n    dsn: '" + pg.dsn() + "'\n    table: bench_builds\n"
      "    queue_size: 10000\n    concurrency: " + std::to_string(r.concurrency) +
      "\n    pool_size: " + std::to_string(r.pool) + "\n    batch: {max_rows: " + std::to_string(r.max_rows) +
      ", max_delay: 5ms}\n    columns:\n      event_id: ${{ event.id }}\n      run_id: ${{ payload.id }}\n"
      "      status: ${{ payload.status }}\n      branch: ${{ payload.branch }}\n      commit_sha: ${{ payload.sha }}\n"
      "      url: ${{ payload.url }}\n      started_at: ${{ payload.at }}\n      actor: ${{ payload.actor }}\n";
  auto config = load(registry, yaml);
  runtime::StateTable store;
  runtime::Io io(2);
  io.start();
  http::Server server(io, {.name = "http", .listen = "127.0.0.1:0"});
  runtime::Services services{io, store, server};
  auto pipeline = runtime::make_pipeline(config, services);
  if (!pipeline->build()) std::abort();
  const auto start = Clock::now();
  if (!pipeline->start()) std::abort();
  for (;;) {
    const auto stats = pipeline->stats();
    const auto& sink = stats.sinks.front();
    if (sink.delivered + sink.dead_lettered >= r.rows) {
      if (sink.dead_lettered > 0) std::fprintf(stderr, "%llu dead-lettered: %s\n",
                                               static_cast<unsigned long long>(sink.dead_lettered), stats.last_error.c_str());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  pipeline->stop();
  io.stop();
  const auto stored = std::stoull(pg.scalar("SELECT count(*) FROM bench_builds"));
  if (stored != r.rows) std::fprintf(stderr, "stored %llu of %llu rows\n", static_cast<unsigned long long>(stored),
                                     static_cast<unsigned long long>(r.rows));
  return seconds;
}

// The postgres.query transform as the engine calls it (ComponentHost, on its strand, with
// its compiled templates): `n` events one after another, each asking for another user.
std::vector<double> run_queries(const loader::PluginRegistry& registry, test::PostgresServer& pg, int n) {
  auto config = load(registry,
                     "name: pgbench\nsource: {type: generate}\ntransforms:\n  - type: postgres.query\n"
                     "    dsn: '" + pg.dsn() + "'\n    pool_size: 1\n"
                     "    query: SELECT login, xp, commits, badges FROM bench_contributors WHERE login = $1\n"
                     "    params: ['user${{ payload.n }}']\nsinks: [{type: blackhole}]\n");
  runtime::StateTable store;
  runtime::Io io(1);
  io.start();
  http::Server server(io, {.name = "http", .listen = "127.0.0.1:0"});
  runtime::Services services{io, store, server};
  runtime::RefusingEmitter emitter;
  runtime::PipelineReplies replies(io.make_strand());
  runtime::ComponentHost host(config->transforms.front(), "transforms[0] 'postgres.query'");
  const runtime::Strand strand = io.make_strand();
  if (!host.configure("pgbench", strand, services, emitter, replies, false) || !host.start()) std::abort();
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<double> latencies;
  for (int i = 0; i < n + 200; ++i) {  // the first 200 warm the session up
    auto event = testing::make_event("bench", "{\"n\": " + std::to_string(1 + i % 10000) + "}");
    bool done = false;
    const auto start = Clock::now();
    boost::asio::post(strand, [&] {
      host.process(*event, [&](Result<Verdict> v) {
        if (!v || event->meta["rows"].Size() != 1) std::abort();
        std::lock_guard lock(mutex);
        done = true;
        cv.notify_one();
      });
    });
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return done; });
    if (i >= 200) latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  host.stop();
  io.stop();
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  log::setup("warn", "text");
  loader::PluginRegistry registry;
  for (const char* plugin : {"core", "postgres"}) {
    if (Status loaded = registry.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-" + plugin + ".so"); !loaded) {
      std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
      return 1;
    }
  }
  // A database as shipped: every commit waits for its WAL to reach the disk.
  test::PostgresServer pg({"fsync=on", "full_page_writes=on", "synchronous_commit=on"});
  pg.execute("CREATE TABLE bench_builds (event_id text PRIMARY KEY, run_id bigint, status text, branch text, "
             "commit_sha text, url text, started_at timestamptz, actor jsonb)");
  std::printf("PostgreSQL %s, fsync on, synchronous_commit on\n\n", pg.scalar("SHOW server_version").c_str());
  std::printf("%-52s %10s %10s %12s\n", "postgres sink", "rows", "seconds", "rows/s");
  const SinkRun runs[] = {
      {"batched (concurrency 1000, 500/batch, 2 sessions)", rows, 1000, 500, 2},
      {"one row per transaction (concurrency 1)", rows / 40, 1, 1, 1},
      {"one row per transaction, 8 at a time", rows / 10, 8, 1, 8},
  };
  run_sink(registry, pg, {"warm-up", rows / 10, 1000, 500, 2});
  double batched = 0, single = 0;
  for (const auto& r : runs) {
    const double s = run_sink(registry, pg, r);
    const double rate = static_cast<double>(r.rows) / s;
    if (&r == &runs[0]) batched = rate;
    if (&r == &runs[1]) single = rate;
    std::printf("%-52s %10llu %10.3f %12.0f\n", r.label, static_cast<unsigned long long>(r.rows), s, rate);
  }
  std::printf("batched / one row per transaction: %.0fx\n\n", batched / single);

  pg.execute("CREATE TABLE bench_contributors (login text PRIMARY KEY, xp bigint, commits int, badges text[])");
  pg.execute("INSERT INTO bench_contributors SELECT 'user' || g, g * 10, g, '{First PR,Code Warrior}' "
             "FROM generate_series(1, 10000) g");
  pg.execute("ANALYZE bench_contributors");
  const int n = 5000;
  auto latencies = run_queries(registry, pg, n);
  auto at = [&](double q) { return latencies[static_cast<std::size_t>(q * (latencies.size() - 1))]; };
  std::printf("postgres.query round trip, %d events one at a time: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", n,
              at(0.5), at(0.99), latencies.back());
  return 0;
}
