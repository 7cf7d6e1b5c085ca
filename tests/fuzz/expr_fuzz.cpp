// libFuzzer target for engine/expr.
//
// Parses the input as an expression and as a template; whatever parses is
// evaluated/rendered against a small fixed payload. Any crash, sanitizer
// report or uncaught exception is a bug: evaluation must never fail.
//
// Build (clang):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
//     -I engine tests/fuzz/expr_fuzz.cpp engine/expr/*.cpp -o expr_fuzz
// Without libFuzzer, define EXPR_FUZZ_STANDALONE_MAIN to get a main() that
// runs the target over the files named on the command line (smoke test).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "expr/expr.hpp"

namespace {

constexpr const char* kPayload = R"({
  "action": "completed",
  "workflow_run": {"id": 30433642, "name": "CI", "conclusion": "failure", "head_branch": "main",
                   "actor": {"login": "octocat"}, "pull_requests": [{"number": 1}, {"number": 2}]},
  "labels": [{"name": "bug"}, {"name": "ui"}, {"color": "red"}],
  "big": 12345678901234567890, "neg": -1.5e300, "s": "h\u00e9llo \u65e5\u672c", "nul": null,
  "nested": [[[[{"deep": [1, "2", {"x": null}]}]]]], "fmt": "{0}-{1}", "re": "^a.c$"
})";

struct Fixture {
  rapidjson::Document payload, event, meta;
  switchyard::expr::Scope scope;
  Fixture() {
    payload.Parse(kPayload);
    event.Parse(R"({"id":"e1","type":"github.workflow_run","source":"github","data":{}})");
    meta.Parse(R"({"pipeline":"fuzz"})");
    scope.payload = &payload;
    scope.event = &event;
    scope.meta = &meta;
    scope.env = nullptr;
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void exercise(std::string_view text) {
  namespace sx = switchyard::expr;
  const sx::Scope& scope = fixture().scope;
  auto parsed = sx::Expression::parse(text);
  if (parsed) {
    sx::Value v = parsed->evaluate(scope);
    (void)parsed->evaluate_bool(scope);
    (void)v.to_string();
    (void)v.to_json_string(true);
    rapidjson::Document out;
    v.to_json(out, out.GetAllocator());
  } else if (parsed.error().offset > text.size()) {
    __builtin_trap();  // offsets must point inside the text
  }
  auto tpl = sx::Template::compile(text);
  if (tpl) {
    rapidjson::Document out;
    tpl->render(scope, out, out.GetAllocator());
    std::string s;
    tpl->render_string(scope, s);
  } else if (tpl.error().offset > text.size()) {
    __builtin_trap();
  }
  // The input as a JSON tree template, when it is JSON.
  rapidjson::Document tree;
  tree.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (!tree.HasParseError()) {
    auto tt = sx::Template::compile(tree);
    if (tt) (void)tt->render_string(scope);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

#ifdef EXPR_FUZZ_STANDALONE_MAIN
#include <fstream>
#include <iterator>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
  return 0;
}
#endif
