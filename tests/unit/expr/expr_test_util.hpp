// Shared helpers for the expr unit tests.
#pragma once

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "expr/expr.hpp"

namespace sx = switchyard::expr;

// A GitHub-like payload used across the tests.
inline constexpr const char* kPayload = R"({
  "action": "completed",
  "workflow_run": {
    "id": 30433642,
    "name": "CI",
    "head_branch": "main",
    "conclusion": "failure",
    "actor": {"login": "octocat"},
    "pull_requests": [
      {"number": 1, "head": {"ref": "feat"}},
      {"number": 2, "head": {"ref": "fix"}}
    ]
  },
  "labels": [{"name": "bug"}, {"name": "ui"}, {"color": "red"}],
  "commits": [
    {"id": "a1", "author": {"name": "A"}},
    {"id": "b2", "author": {"name": "B"}}
  ],
  "map": {"x": {"v": 1}, "y": {"v": 2}, "z": {"w": 3}},
  "nested": {"a": {"b": {"c": [10, 20, {"d": "deep"}]}}},
  "Mixed-Case": 1,
  "big": 12345678901234567890,
  "id64": 9007199254740993,
  "empty_obj": {}, "empty_arr": [], "nul": null, "t": true, "f": false, "zero": 0,
  "str": "Hello World", "which": "y", "pattern": "^a.c$", "bad_regex": "(", "bad_fmt": "{0",
  "fmt": "{0}-{1}"
})";

// Parses JSON or throws.
inline rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (d.HasParseError()) throw std::runtime_error("bad test JSON: " + std::string(text));
  return d;
}

// Parses an expression or throws with the parse error.
inline sx::Expression must_parse(std::string_view text) {
  auto r = sx::Expression::parse(text);
  if (!r) {
    throw std::runtime_error("parse error in '" + std::string(text) + "' at " + std::to_string(r.error().offset) +
                             ": " + r.error().message);
  }
  return std::move(r).value();
}

inline sx::ParseError must_fail(std::string_view text) {
  auto r = sx::Expression::parse(text);
  if (!r) return r.error();
  throw std::runtime_error("expected a parse error for '" + std::string(text) + "'");
}

template <class Src>
sx::Template must_compile(const Src& src) {
  auto r = sx::Template::compile(src);
  if (!r) {
    const sx::ParseError& e = r.error();
    throw std::runtime_error("template error at " + std::to_string(e.offset) + " (" + e.path + "): " + e.message);
  }
  return std::move(r).value();
}

// Fixture: the payload above as the `payload` context.
class PayloadTest : public ::testing::Test {
 protected:
  rapidjson::Document payload = parse_json(kPayload);
  sx::Scope scope() const {
    sx::Scope s;
    s.payload = &payload;
    return s;
  }
  // Evaluates and returns the result as compact JSON (strings quoted), which
  // pins both the value and its type.
  std::string eval_json(std::string_view text) const { return must_parse(text).evaluate(scope()).to_json_string(); }
  std::string eval_str(std::string_view text) const { return must_parse(text).evaluate(scope()).to_string(); }
};

struct Case {
  const char* expr;
  const char* expected;  // compact JSON of the result (or to_string for string cases)
};

inline std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.expr << " => " << c.expected; }
