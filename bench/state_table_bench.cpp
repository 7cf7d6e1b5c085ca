// What remembering one webhook delivery id costs the engine's state table
// (runtime::StateTable), as github.webhook and slack.events use it (intake::Redeliveries):
// a lookup that misses (claim), the id stored with its window (settle), and the oldest id
// going (its window over), at a steady number of ids held. Google Benchmark, one thread,
// in memory only (no journal attached: disk mode adds the journal's share on its writer).
//
//   build/bin/state_table_bench [--benchmark_repetitions=3 --benchmark_report_aggregates_only=true]
//
// Reported: time per delivery id, and (linked with jemalloc, as the engine is) bytes_per_id,
// the bytes allocated while the table was filled divided by the ids held.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>

#include "runtime/state_store.hpp"

namespace {

using switchyard::runtime::StateTable;

// A GitHub delivery id (a UUID) under github.webhook's key prefix.
std::string delivery_key(std::uint64_t n) {
  char id[37];
  std::snprintf(id, sizeof id, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(n * 2654435761u),
                static_cast<unsigned>(n & 0xffff), static_cast<unsigned>((n >> 16) & 0xfff),
                static_cast<unsigned>((n >> 28) & 0xfff), static_cast<unsigned long long>(n * 0x9E3779B97F4A7C15ull >> 16));
  return "bench/github.webhook/delivery/" + std::string(id);
}

#ifdef SWITCHYARD_BENCH_JEMALLOC
extern "C" int mallctl(const char* name, void* old, std::size_t* old_size, void* value, std::size_t size);
// Bytes the program has allocated and not freed, by jemalloc's count.
double allocated_bytes() {
  std::uint64_t epoch = 1;
  std::size_t size = sizeof epoch;
  mallctl("epoch", &epoch, &size, &epoch, size);  // refreshes the statistics
  std::size_t allocated = 0;
  size = sizeof allocated;
  mallctl("stats.allocated", &allocated, &size, nullptr, 0);
  return static_cast<double>(allocated);
}
#endif

void RememberADeliveryId(benchmark::State& state) {
  const auto held = static_cast<std::uint64_t>(state.range(0));
  constexpr auto kWindow = std::chrono::minutes(10);
  std::deque<std::string> ids;  // the bench's own list of what is held, to forget the oldest
  std::uint64_t next = 0;
  for (; next < held; ++next) ids.push_back(delivery_key(next));
#ifdef SWITCHYARD_BENCH_JEMALLOC
  const double before = allocated_bytes();
#endif
  StateTable table;
  for (const auto& id : ids) table.put(id, "1", kWindow, false);
#ifdef SWITCHYARD_BENCH_JEMALLOC
  state.counters["bytes_per_id"] = (allocated_bytes() - before) / static_cast<double>(held);
#endif
  for (auto _ : state) {
    std::string key = delivery_key(next++);
    benchmark::DoNotOptimize(table.get(key));  // claim: not seen before
    table.put(key, "1", kWindow, false);       // settle: remembered for the window
    table.forget(ids.front());                 // the oldest one's window is over
    ids.pop_front();
    ids.push_back(std::move(key));
  }
}
BENCHMARK(RememberADeliveryId)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);

// The same as github.webhook does it now: the id looked up among the remembered keys
// (StateTable::remembers) and remembered (remember), each hashing the key (BLAKE2b), with
// the oldest forgotten by its fingerprint. That forgetting hashes a third time, which the
// engine does not (expiry leaves by fingerprint): Fingerprint below is that hash alone.
void RememberADeliveryIdAsAFingerprint(benchmark::State& state) {
  using switchyard::runtime::KeySet;
  const auto held = static_cast<std::uint64_t>(state.range(0));
  constexpr auto kWindow = std::chrono::minutes(10);
  std::deque<std::string> keys, ids;  // the keys, and their fingerprints' bytes, oldest first
  std::uint64_t next = 0;
  for (; next < held; ++next) {
    keys.push_back(delivery_key(next));
    ids.push_back(KeySet::bytes(KeySet::fingerprint(keys.back())));
  }
#ifdef SWITCHYARD_BENCH_JEMALLOC
  const double before = allocated_bytes();
#endif
  StateTable table;
  for (const auto& key : keys) table.remember(key, kWindow, false);
#ifdef SWITCHYARD_BENCH_JEMALLOC
  state.counters["bytes_per_id"] = (allocated_bytes() - before) / static_cast<double>(held);
#endif
  keys.clear();
  for (auto _ : state) {
    std::string key = delivery_key(next++);
    benchmark::DoNotOptimize(table.remembers(key));  // claim: not seen before
    table.remember(key, kWindow, false);              // with the accepted event
    table.forget_remembered(ids.front());             // the oldest one's window is over
    ids.pop_front();
    ids.push_back(KeySet::bytes(KeySet::fingerprint(key)));
  }
}
BENCHMARK(RememberADeliveryIdAsAFingerprint)->Arg(10'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);

void Fingerprint(benchmark::State& state) {
  const std::string key = delivery_key(42);
  for (auto _ : state) benchmark::DoNotOptimize(switchyard::runtime::KeySet::fingerprint(key));
}
BENCHMARK(Fingerprint)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
