// What a webhook source spends on a payload before the engine has the event, and what the
// engine spends on a deferred one when something in the pipeline reads it (Google Benchmark,
// one thread, the 8 KB workflow_run of bench/fixtures as GitHub sends it: no whitespace):
//   Parse    json_limits::parse into the event's tree (simdjson, replayed into RapidJSON,
//            duplicate keys checked), the envelope read from the tree, the bytes kept
//   Check    json_limits::check (simdjson, duplicate keys checked, no tree), the envelope read
//            from the parse, the bytes kept: the payload deferred (github.webhook since ABI 11)
//   Reparse  the engine's parse of a deferred payload (RapidJSON, full precision), paid only
//            when a transform, an if:, an order_key or a sink reads the payload
//
//   build/bin/payload_bench [--benchmark_repetitions=5 --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "common/json_limits.hpp"
#include "github/github_event.hpp"
#include "switchyard/event.hpp"

namespace {

using namespace switchyard;

const std::string& body() {
  static const std::string text = [] {
    std::ifstream file(std::string(SWITCHYARD_BENCH_FIXTURES) + "/workflow_run.json", std::ios::binary);
    const std::string pretty((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    rapidjson::Document doc;
    doc.Parse(pretty.c_str());
    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> writer(out);
    doc.Accept(writer);
    return std::string(out.GetString(), out.GetSize());
  }();
  return text;
}

void envelope(Event& event, const json_limits::PayloadFields& payload) {
  event.type = github::event_type("workflow_run", payload);
  event.source = github::event_source(payload);
  event.subject = github::event_subject("workflow_run", payload);
}

void Parse(benchmark::State& state) {
  const std::string& json = body();
  for (auto _ : state) {
    auto event = std::make_unique<Event>();
    if (!json_limits::parse(event->data, json)) state.SkipWithError("does not parse");
    envelope(*event, json_limits::PayloadFields(event->data));
    event->set_raw_data(json);
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}
BENCHMARK(Parse);

void Check(benchmark::State& state) {
  const std::string& json = body();
  for (auto _ : state) {
    auto event = std::make_unique<Event>();
    const auto checked = json_limits::check(event->data, json, json_limits::Tree::if_needed);
    if (!checked || !event->data.IsNull()) state.SkipWithError("did not check without a tree");
    envelope(*event, *checked);
    event->set_raw_data(json);
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}
BENCHMARK(Check);

void Reparse(benchmark::State& state) {
  const std::string& json = body();
  for (auto _ : state) {
    auto event = std::make_unique<Event>();
    event->set_raw_data(json);
    const std::string_view raw = event->raw_data();
    event->data.Parse<rapidjson::kParseFullPrecisionFlag>(raw.data(), raw.size());
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
}
BENCHMARK(Reparse);

}  // namespace

BENCHMARK_MAIN();
