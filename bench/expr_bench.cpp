// Benchmarks for engine/expr: parse, condition evaluation, embed rendering.
//
//   expr_bench [--benchmark_filter=...]
// The fixture directory defaults to SWITCHYARD_BENCH_FIXTURES (set by
// bench/expr_bench.cmake) and can be overridden with $SWITCHYARD_BENCH_FIXTURES.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "expr/expr.hpp"

#ifndef SWITCHYARD_BENCH_FIXTURES
#define SWITCHYARD_BENCH_FIXTURES "bench/fixtures"
#endif

namespace sx = switchyard::expr;

namespace {

constexpr const char* kCondition = "payload.action == 'completed' && payload.workflow_run.conclusion == 'failure'";

// A Discord embed as a pipeline would configure it.
constexpr const char* kEmbed = R"json({
  "title": "${{ payload.workflow_run.name }} failed on ${{ payload.workflow_run.head_branch }}",
  "description": "${{ truncate(payload.workflow_run.head_commit.message, 200) }}",
  "url": "${{ payload.workflow_run.html_url }}",
  "color": "${{ payload.workflow_run.conclusion == 'failure' && 15158332 || 3066993 }}",
  "author": {
    "name": "${{ payload.workflow_run.actor.login }}",
    "icon_url": "${{ payload.workflow_run.actor.avatar_url }}"
  },
  "fields": [
    {"name": "Repository", "value": "${{ payload.repository.full_name }}", "inline": true},
    {"name": "Commit", "value": "[${{ truncate(payload.workflow_run.head_sha, 8) }}](${{ payload.repository.html_url }}/commit/${{ payload.workflow_run.head_sha }})", "inline": true},
    {"name": "Run", "value": "#${{ payload.workflow_run.run_number }} (attempt ${{ payload.workflow_run.run_attempt }})", "inline": true}
  ],
  "footer": {"text": "${{ payload.workflow_run.event }} - ${{ payload.organization.login }}"},
  "timestamp": "${{ payload.workflow_run.updated_at }}"
})json";

const rapidjson::Document& payload() {
  static const rapidjson::Document doc = [] {
    const char* dir = std::getenv("SWITCHYARD_BENCH_FIXTURES");
    std::string path = std::string(dir ? dir : SWITCHYARD_BENCH_FIXTURES) + "/workflow_run.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    rapidjson::Document d;
    d.Parse(ss.str().c_str());
    if (d.HasParseError()) throw std::runtime_error("bad JSON in " + path);
    return d;
  }();
  return doc;
}

template <class T>
T unwrap(switchyard::Result<T, sx::ParseError> r) {
  if (!r) throw std::runtime_error(r.error().path + ": " + r.error().message);
  return std::move(r).value();
}

sx::Scope scope() {
  sx::Scope s;
  s.payload = &payload();
  return s;
}

void BM_ParseCondition(benchmark::State& state) {
  for (auto _ : state) {
    auto r = sx::Expression::parse(kCondition);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ParseCondition);

void BM_EvalCondition(benchmark::State& state) {
  sx::Expression e = unwrap(sx::Expression::parse(kCondition));
  sx::Scope s = scope();
  if (!e.evaluate_bool(s)) throw std::runtime_error("condition should be true on the fixture");
  for (auto _ : state) {
    bool b = e.evaluate_bool(s);
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_EvalCondition);

// The computations of issue 21: a duration from two ISO 8601 times and a score.
void BM_EvalDuration(benchmark::State& state) {
  sx::Expression e = unwrap(sx::Expression::parse(
      "seconds_between(payload.workflow_run.run_started_at, payload.workflow_run.updated_at)"));
  sx::Scope s = scope();
  if (!e.evaluate(s).is_number()) throw std::runtime_error("duration should be a number on the fixture");
  for (auto _ : state) {
    sx::Value v = e.evaluate(s);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_EvalDuration);

void BM_EvalArithmetic(benchmark::State& state) {
  sx::Expression e = unwrap(sx::Expression::parse("payload.workflow_run.run_number * 10 + payload.workflow_run.run_attempt"));
  sx::Scope s = scope();
  if (!e.evaluate(s).is_number()) throw std::runtime_error("the score should be a number on the fixture");
  for (auto _ : state) {
    sx::Value v = e.evaluate(s);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_EvalArithmetic);

void BM_CompileEmbed(benchmark::State& state) {
  rapidjson::Document tree;
  tree.Parse(kEmbed);
  for (auto _ : state) {
    auto r = sx::Template::compile(tree);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CompileEmbed);

// Typed render into a fresh RapidJSON value per event (pool allocator over a
// reused buffer, as an engine would do per message).
void BM_RenderEmbed(benchmark::State& state) {
  rapidjson::Document tree;
  tree.Parse(kEmbed);
  sx::Template t = unwrap(sx::Template::compile(tree));
  sx::Scope s = scope();
  static char buffer[64 * 1024];
  for (auto _ : state) {
    rapidjson::MemoryPoolAllocator<> alloc(buffer, sizeof buffer);
    rapidjson::Value out;
    t.render(s, out, alloc);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RenderEmbed);

void BM_RenderEmbedString(benchmark::State& state) {
  rapidjson::Document tree;
  tree.Parse(kEmbed);
  sx::Template t = unwrap(sx::Template::compile(tree));
  sx::Scope s = scope();
  std::string out;
  for (auto _ : state) {
    out.clear();
    t.render_string(s, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_RenderEmbedString);

void BM_RenderTitle(benchmark::State& state) {
  sx::Template t = unwrap(sx::Template::compile(std::string_view(
      "${{ payload.workflow_run.name }} failed on ${{ payload.workflow_run.head_branch }}")));
  sx::Scope s = scope();
  std::string out;
  for (auto _ : state) {
    out.clear();
    t.render_string(s, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RenderTitle);

}  // namespace

BENCHMARK_MAIN();
