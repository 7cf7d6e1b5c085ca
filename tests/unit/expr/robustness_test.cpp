// Evaluation on odd payload shapes, deep nesting and concurrent use.
#include <atomic>
#include <thread>

#include "expr_test_util.hpp"

namespace {

struct ShapeCase {
  const char* payload;
  const char* expr;
  const char* expected;  // compact JSON of the result
};

std::ostream& operator<<(std::ostream& os, const ShapeCase& c) { return os << c.payload << " | " << c.expr; }

class Shapes : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(Shapes, EvaluatesWithoutError) {
  auto doc = parse_json(GetParam().payload);
  sx::Scope s;
  s.payload = &doc;
  EXPECT_EQ(must_parse(GetParam().expr).evaluate(s).to_json_string(), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Payloads, Shapes, ::testing::Values(
    ShapeCase{"[1,2,3]", "payload.action", "null"},
    ShapeCase{"[1,2,3]", "payload[1]", "2"},
    ShapeCase{"[1,2,3]", "payload.*", "[1,2,3]"},
    ShapeCase{"[1,2,3]", "payload.action == 'completed'", "false"},
    ShapeCase{"[{\"a\":1},2,\"s\",null,[{\"a\":3}]]", "payload.*.a", "[1]"},
    ShapeCase{"[{\"a\":1},2,\"s\",null,[{\"a\":3}]]", "payload.*.*.a", "[3]"},
    ShapeCase{"\"hello\"", "payload", "\"hello\""},
    ShapeCase{"\"hello\"", "payload == 'HELLO'", "true"},
    ShapeCase{"\"hello\"", "payload.length", "null"},
    ShapeCase{"\"hello\"", "payload[0]", "null"},
    ShapeCase{"5", "payload > 3", "true"},
    ShapeCase{"5", "payload.x.y", "null"},
    ShapeCase{"null", "payload.x || 'fallback'", "\"fallback\""},
    ShapeCase{"true", "payload && 'yes'", "\"yes\""},
    ShapeCase{"{\"workflow_run\":[1,2]}", "payload.workflow_run.conclusion == 'failure'", "false"},
    ShapeCase{"{\"workflow_run\":\"x\"}", "payload.workflow_run.conclusion", "null"},
    ShapeCase{"{\"a\":{\"\":1}}", "payload.a['']", "1"},
    ShapeCase{"{\"a\\u0000b\":1}", "toJSON(payload)", "\"{\\n  \\\"a\\\\u0000b\\\": 1\\n}\""},
    ShapeCase{"{\"s\":\"\\u0001\\t\\\"\"}", "payload.s", "\"\\u0001\\t\\\"\""},
    ShapeCase{"{\"n\":1e308}", "payload.n", "1e+308"},
    ShapeCase{"{\"n\":-1.5}", "format('{0}', payload.n)", "\"-1.5\""},
    ShapeCase{"{\"labels\":{\"name\":\"x\"}}", "contains(payload.labels.*.name, 'x')", "false"},
    ShapeCase{"{\"labels\":{\"a\":{\"name\":\"x\"}}}", "contains(payload.labels.*.name, 'x')", "true"},
    ShapeCase{"{\"x\":[[[[1]]]]}", "payload.x[0][0][0][0]", "1"},
    ShapeCase{"{\"x\":[[[[1]]]]}", "payload.x.*.*.*.*", "[1]"},
    ShapeCase{"{\"x\":[[[[1]]]]}", "join(payload.x)", "\"[[[1]]]\""}));

TEST(Robustness, VeryDeepPayload) {
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "{\"a\":";
  deep += "1";
  deep += std::string(20000, '}');
  auto doc = parse_json(deep);
  sx::Scope s;
  s.payload = &doc;
  std::string path = "payload";
  for (int i = 0; i < 90; ++i) path += ".a";
  EXPECT_TRUE(must_parse(path).evaluate(s).is_object());
  // Serialisation and copies are cut at 256 levels instead of overflowing the stack.
  std::string json = must_parse("toJSON(payload)").evaluate(s).to_string();
  EXPECT_NE(json.find("null"), std::string::npos);
  EXPECT_EQ(must_parse("format('{0}', payload)").evaluate(s).to_string().substr(0, 10), "{\"a\":{\"a\":");
  rapidjson::Document out;
  must_compile(std::string_view("${{ payload }}")).render(s, out, out.GetAllocator());
  int depth = 0;
  const rapidjson::Value* v = &out;
  while (v->IsObject() && v->HasMember("a")) {
    v = &(*v)["a"];
    ++depth;
  }
  EXPECT_EQ(depth, 256);
  EXPECT_TRUE(v->IsNull());
}

TEST(Robustness, ALargePatternOverALargeSubjectIsNotSearched) {
  // A review measured [a-z]{1,9000}z running for minutes over a 1 MB string: linear in the
  // subject, but every byte may step through every state. Past states x bytes = 10^8 the
  // subject is not searched (and does not match); below it, it is.
  auto doc = parse_json(R"({"small": ")" + std::string(2000, 'a') + R"(z", "big": ")" +
                        std::string(1'000'000, 'a') + R"(z"})");
  sx::Scope s;
  s.payload = &doc;
  EXPECT_TRUE(must_parse("matches(payload.small, '[a-z]{1,9000}z')").evaluate(s).bool_value());
  EXPECT_FALSE(must_parse("matches(payload.big, '[a-z]{1,9000}z')").evaluate(s).bool_value());
  EXPECT_TRUE(must_parse("matches(payload.big, 'a+z$')").evaluate(s).bool_value()) << "a small pattern is searched";
}

TEST(Robustness, ConcurrentEvaluationOfSharedExpressions) {
  auto doc = parse_json(kPayload);
  sx::Scope s;
  s.payload = &doc;
  sx::Expression cond = must_parse("payload.action == 'completed' && payload.workflow_run.conclusion == 'failure'");
  sx::Template tpl = must_compile(std::string_view(
      "${{ join(payload.labels.*.name) }}: ${{ toJSON(fromJSON(toJSON(payload.workflow_run.actor))) }}"));
  const std::string expected = tpl.render_string(s);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!cond.evaluate_bool(s)) ++failures;
        if (tpl.render_string(s) != expected) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(expected, "bug,ui: {\n  \"login\": \"octocat\"\n}");
}

TEST(Robustness, MovedFromExpressionEvaluatesToNull) {
  sx::Expression a = must_parse("1");
  sx::Expression b = std::move(a);
  EXPECT_EQ(b.evaluate(sx::Scope{}).to_string(), "1");
  EXPECT_TRUE(a.evaluate(sx::Scope{}).is_null());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(a.uses_event());
}

TEST(Robustness, ResultsAreDeterministicAcrossShapes) {
  const char* shapes[] = {"null", "1", "\"s\"", "[]", "{}", "[null,[1],{\"a\":[]}]", kPayload};
  const char* exprs[] = {
      "payload.a.b.c",  "payload[0][1]['x']", "payload.*.*.*",       "toJSON(payload)",
      "join(payload.*)", "contains(payload, payload)", "payload == payload", "format('{0}', payload.*)",
      "truncate(toJSON(payload), 7)", "coalesce(payload.x, payload[0], payload)", "fromJSON(toJSON(payload))",
      "matches(toJSON(payload), '\\[')", "payload.labels.*.name[0]", "lower(payload) < upper(payload)"};
  for (const char* shape : shapes) {
    auto doc = parse_json(shape);
    sx::Scope s;
    s.payload = &doc;
    for (const char* e : exprs) {
      sx::Expression ex = must_parse(e);
      EXPECT_EQ(ex.evaluate(s).to_json_string(), ex.evaluate(s).to_json_string()) << shape << " | " << e;
    }
  }
  // A few pinned results from the loop above.
  auto doc = parse_json("[null,[1],{\"a\":[]}]");
  sx::Scope s;
  s.payload = &doc;
  EXPECT_EQ(must_parse("payload.*.*.*").evaluate(s).to_json_string(), "[]");
  EXPECT_EQ(must_parse("payload.*.*").evaluate(s).to_json_string(), "[1,[]]");
  EXPECT_EQ(must_parse("fromJSON(toJSON(payload))").evaluate(s).to_json_string(), "[null,[1],{\"a\":[]}]");
  EXPECT_EQ(must_parse("payload == payload").evaluate(s).to_json_string(), "true");
}

}  // namespace

namespace {

// The escaping JSON requires, one byte at a time: what rendering must produce.
std::string reference_json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c == '\b') out += "\\b";
    else if (c == '\f') out += "\\f";
    else if (c < 0x20) out += std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
    else out += ch;
  }
  return out + "\"";
}

TEST(JsonText, EveryByteThatNeedsEscapingIsEscapedWhereverItIs) {
  // Strings are scanned eight bytes at a time: a special byte at every position of
  // strings around that width, next to bytes that need nothing (UTF-8 included).
  sx::Template t = must_compile(parse_json(R"({"v": "${{ payload.s }}"})"));
  const unsigned char specials[] = {'"', '\\', '\n', '\t', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xe9, 0xff};
  for (std::size_t length = 1; length <= 20; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (unsigned char special : specials) {
        for (unsigned char filler : {static_cast<unsigned char>('a'), static_cast<unsigned char>(0xc3)}) {
          std::string s(length, static_cast<char>(filler));
          s[at] = static_cast<char>(special);
          if (at + 3 < length) s[at + 3] = '"';  // two in one word
          rapidjson::Document payload;
          payload.SetObject();
          payload.AddMember("s", rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), payload.GetAllocator()),
                            payload.GetAllocator());
          sx::Scope scope;
          scope.payload = &payload;
          ASSERT_EQ(t.render_string(scope), "{\"v\":" + reference_json_string(s) + "}")
              << "length " << length << ", byte " << int(special) << " at " << at;
        }
      }
    }
  }
}

}  // namespace
