// What an event's envelope costs on its way out of the engine (Google Benchmark, one
// thread): a `github.webhook` event as the engine holds it (the 8 KB workflow_run kept as
// received, the six headers the source copies into meta by default):
//   FileLine       the `file` sink's line: the CloudEvent envelope rendered, the payload
//                  spliced in from the event (core::json_line_pieces)
//   JournalEncode  the event's stored form for the event log (journal::encode_event_pieces)
//   Rfc3339        an event time as CloudEvents writes it (format_rfc3339)
//
//   build/bin/envelope_bench [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "core/json_lines.hpp"
#include "journal/codec.hpp"
#include "switchyard/event.hpp"

namespace {

using namespace switchyard;

std::unique_ptr<Event> webhook_event() {
  std::ifstream file(std::string(SWITCHYARD_BENCH_FIXTURES) + "/workflow_run.json", std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  auto event = std::make_unique<Event>();
  event->id = "d2a6b3e0-9a6f-11ef-8d4f-1f2c3b4a5d6e";
  event->source = "https://github.com/octo-org/hello-service";
  event->type = "com.github.workflow_run.completed";
  event->subject = "deploy.yml";
  event->pipeline = "ci-to-discord";
  event->time = std::chrono::system_clock::now();
  event->set_meta("x-github-event", "workflow_run");
  event->set_meta("x-github-delivery", "d2a6b3e0-9a6f-11ef-8d4f-1f2c3b4a5d6e");
  event->set_meta("x-github-hook-id", "292430182");
  event->set_meta("x-github-hook-installation-target-type", "repository");
  event->set_meta("x-github-hook-installation-target-id", "79929171");
  event->set_meta("user-agent", "GitHub-Hookshot/5d3c3b1");
  event->set_raw_data(body);
  return event;
}

void FileLine(benchmark::State& state) {
  const auto event = webhook_event();
  core::LineBuffer buffer;
  for (auto _ : state) {
    const core::LinePieces line = core::json_line_pieces(*event, core::LineFormat::cloudevent, false, buffer);
    benchmark::DoNotOptimize(line.head.data());
  }
}
BENCHMARK(FileLine);

void JournalEncode(benchmark::State& state) {
  const auto event = webhook_event();
  for (auto _ : state) {
    auto encoded = journal::encode_event_pieces(*event);
    benchmark::DoNotOptimize(encoded.head.data());
  }
}
BENCHMARK(JournalEncode);

void Rfc3339(benchmark::State& state) {
  auto t = std::chrono::system_clock::now();
  for (auto _ : state) {
    t += std::chrono::milliseconds(1);
    benchmark::DoNotOptimize(format_rfc3339(t));
  }
}
BENCHMARK(Rfc3339);

}  // namespace

BENCHMARK_MAIN();
