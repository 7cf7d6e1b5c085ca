// Events/s through the core path: generate → (no transform) → a counting sink, on one and
// on two executor threads, with the heap allocations per event; then the same with the
// journal (durability: disk), with and without fsync, and its group commits per second.
// Real runtime, real plugin loader, real journal in a temp dir; only the sink is
// in-process so it can count.
//
//   build/bin/core_path_bench [events]

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "config/yaml_json.hpp"
#include "loader/registry.hpp"
#include "log/logging.hpp"
#include "http/server.hpp"
#include "journal/journal.hpp"
#include "runtime/component_context.hpp"
#include "runtime/io.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/state_store.hpp"
#include "switchyard/switchyard.hpp"

// Counts every heap allocation in the process.
static std::atomic<std::uint64_t> g_allocations{0};
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {
using namespace switchyard;

std::atomic<std::uint64_t> g_delivered{0};
std::uint64_t g_target = 0;
std::mutex g_mutex;
std::condition_variable g_done;

class CountingSink final : public Sink {
 public:
  Status configure(const Options&, Context&) override { return {}; }
  void deliver(EventPtr, DeliveryCallback done) override {
    if (g_delivered.fetch_add(1, std::memory_order_relaxed) + 1 == g_target) {
      std::lock_guard lock(g_mutex);
      g_done.notify_all();
    }
    done({});
  }
};

const ComponentDecl kComponents[] = {
    {.kind = ComponentKind::sink, .type = "bench.count", .summary = "counts", .options = {},
     .create = &make_component<CountingSink>},
};
const PluginDescriptor kPlugin{kAbiVersion, kToolchainTag, "bench", "0", kComponents};

struct Figures {
  double seconds;
  double events_per_second;
  double allocations_per_event;
  double commits_per_second;
};

enum class Mode { memory, disk_nosync, disk_fsync };
const char* name(Mode m) {
  switch (m) {
    case Mode::memory: return "memory";
    case Mode::disk_nosync: return "disk, fsync off";
    case Mode::disk_fsync: return "disk, fsync on";
  }
  return "?";
}

Figures run(const loader::PluginRegistry& registry, unsigned threads, std::uint64_t events, Mode mode) {
  const std::string durability = mode == Mode::memory ? "memory" : "disk";
  const std::string yaml = "name: bench\ndurability: " + durability +
                           "\nsource:\n  type: generate\n  interval: 0\n  count: " +
                           std::to_string(events) +
                           "\n  payload: {n: 1, msg: hello}\nsinks:\n  - type: bench.count\n";
  config::JsonFile file;
  config::Diagnostics diagnostics;
  // Parse through the same path as a pipeline file, minus the disk.
  char path[] = "/tmp/switchyard-bench-XXXXXX.yaml";
  const int fd = ::mkstemps(path, 5);
  if (fd < 0 || ::write(fd, yaml.data(), yaml.size()) != static_cast<ssize_t>(yaml.size())) std::abort();
  ::close(fd);
  auto config = std::make_shared<config::PipelineConfig>();
  const Status loaded = config::load_pipeline(path, registry, *config, diagnostics);
  ::unlink(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    std::exit(1);
  }
  g_delivered = 0;
  g_target = events;
  runtime::StateTable store;
  runtime::Io io(threads);
  io.start();
  http::Server server(io, config::listener_settings("http", "127.0.0.1:0"));
  runtime::Services services{io, store, server};
  char dir[] = "/tmp/switchyard-bench-journal-XXXXXX";
  std::unique_ptr<journal::Journal> journal;
  if (mode != Mode::memory) {
    if (!::mkdtemp(dir)) std::abort();
    auto opened = journal::Journal::open({.dir = dir, .max_bytes = 0, .fsync = mode == Mode::disk_fsync});
    if (!opened) {
      std::fprintf(stderr, "%s\n", opened.error().message.c_str());
      std::exit(1);
    }
    journal = std::move(*opened);
    services.journal = journal.get();
  }
  auto pipeline = runtime::make_pipeline(config, services);
  if (!pipeline->build()) std::abort();
  const std::uint64_t allocations_before = g_allocations.load();
  const auto start = std::chrono::steady_clock::now();
  if (!pipeline->start()) std::abort();
  {
    std::unique_lock lock(g_mutex);
    g_done.wait(lock, [&] { return g_delivered.load() >= events; });
  }
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::uint64_t allocations = g_allocations.load() - allocations_before;
  const double commits = journal ? static_cast<double>(journal->stats().commits) : 0;
  pipeline->stop();
  io.stop();
  if (journal) {
    journal.reset();
    std::filesystem::remove_all(dir);
  }
  return {elapsed, events / elapsed, static_cast<double>(allocations) / static_cast<double>(events),
          commits / elapsed};
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t events = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  log::setup("warn", "text");
  loader::PluginRegistry registry;
  Status loaded = registry.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so");
  if (loaded) loaded = registry.add(kPlugin, "<bench>");
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return 1;
  }
  run(registry, 1, events / 10, Mode::memory);  // warm-up
  std::printf("%-16s %-8s %12s %10s %14s %16s %12s\n", "durability", "threads", "events", "seconds", "events/s",
              "allocs/event", "commits/s");
  for (Mode mode : {Mode::memory, Mode::disk_nosync, Mode::disk_fsync}) {
    // The journal path costs more per event: a tenth of the events keeps the run short.
    const std::uint64_t n = mode == Mode::memory ? events : events / 10;
    for (unsigned threads : {1u, 2u}) {
      const Figures f = run(registry, threads, n, mode);
      std::printf("%-16s %-8u %12llu %10.3f %14.0f %16.2f %12.0f\n", name(mode), threads,
                  static_cast<unsigned long long>(n), f.seconds, f.events_per_second, f.allocations_per_event,
                  f.commits_per_second);
    }
  }
  return 0;
}
