// Parse errors: message and byte offset; template errors with path.
#include "expr_test_util.hpp"

namespace {

struct ErrorCase {
  const char* text;
  std::size_t offset;
  const char* message;  // exact message, or prefix when ending in '*'
};

std::ostream& operator<<(std::ostream& os, const ErrorCase& c) { return os << c.text; }

void expect_message(const std::string& got, const std::string& want) {
  if (!want.empty() && want.back() == '*') {
    EXPECT_EQ(got.substr(0, want.size() - 1), want.substr(0, want.size() - 1)) << got;
  } else {
    EXPECT_EQ(got, want);
  }
}

class ExpressionError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ExpressionError, ReportsOffsetAndMessage) {
  sx::ParseError e = must_fail(GetParam().text);
  EXPECT_EQ(e.offset, GetParam().offset) << e.message;
  expect_message(e.message, GetParam().message);
  EXPECT_TRUE(e.path.empty());
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Parse, ExpressionError, ::testing::Values(
    ErrorCase{"foo(1)", 0, "unknown function 'foo'"},
    ErrorCase{"1 == bar(2)", 5, "unknown function 'bar'"},
    ErrorCase{"hashFiles('x')", 0, "unknown function 'hashFiles'"},
    ErrorCase{"contains('a')", 0, "wrong number of arguments to 'contains': expected 2, got 1"},
    ErrorCase{"payload.a && startsWith('a', 'b', 'c')", 13,
              "wrong number of arguments to 'startsWith': expected 2, got 3"},
    ErrorCase{"join()", 0, "wrong number of arguments to 'join': expected 1 to 2, got 0"},
    ErrorCase{"now(1)", 0, "wrong number of arguments to 'now': expected 0, got 1"},
    ErrorCase{"format()", 0, "wrong number of arguments to 'format': expected at least 1, got 0"},
    ErrorCase{"github.event", 0, "unknown context 'github'"},
    ErrorCase{"payload.a == secrets.x", 13, "unknown context 'secrets'"},
    ErrorCase{"True", 0, "unknown context 'True'"},  // keywords are case-sensitive
    ErrorCase{"'abc", 0, "unterminated string"},
    ErrorCase{"payload.a == 'x", 13, "unterminated string"},
    ErrorCase{"'it''s", 0, "unterminated string"},
    ErrorCase{"1 == 1 )", 7, "unexpected ')'"},
    ErrorCase{"payload.a payload.b", 10, "unexpected 'payload'"},
    ErrorCase{"'a' 'b'", 4, "unexpected ''b''"},
    ErrorCase{"matches(payload.a, '(')", 19, "invalid regex: *"},
    ErrorCase{"matches(payload.a, '[z-a]')", 19, "invalid regex: *"},
    ErrorCase{"matches(payload.a, '(a)\\1')", 19, "invalid regex: *"},  // no back-references
    ErrorCase{"format('{0} {1}', 'a')", 7, "format string references argument {1} but 1 argument(s) given"},
    ErrorCase{"format('{', 1)", 7, "invalid format string: expected '{N}' at byte 0"},
    ErrorCase{"format('a}b', 1)", 7, "invalid format string: unmatched '}' at byte 1"},
    ErrorCase{"format('{x}', 1)", 7, "invalid format string: expected '{N}' at byte 0"},
    ErrorCase{"", 0, "empty expression"},
    ErrorCase{"   ", 0, "empty expression"},
    ErrorCase{"(1 == 1", 7, "expected ')'"},
    ErrorCase{"payload[0", 9, "expected ']'"},
    ErrorCase{"payload.", 8, "expected property name after '.'"},
    ErrorCase{"payload.'a'", 8, "expected property name after '.'"},
    ErrorCase{"contains('a' 'b')", 13, "expected ',' or ')'"},
    ErrorCase{"1 = 1", 2, "unexpected '=' (did you mean '==')"},
    ErrorCase{"payload & 1", 8, "unexpected '&' (did you mean '&&')"},
    ErrorCase{"payload | 1", 8, "unexpected '|' (did you mean '||')"},
    ErrorCase{"1 ==", 4, "unexpected end of expression"},
    ErrorCase{"!", 1, "unexpected end of expression"},
    ErrorCase{"1abc", 0, "invalid number '1abc'"},
    ErrorCase{"1 - 2", 2, "invalid number '-'"},
    ErrorCase{"0x", 0, "invalid number '0x'"},
    ErrorCase{"payload.a # b", 10, "unexpected character '#'"},
    ErrorCase{"payload.a == \"x\"", 13, "unexpected character '\"'"},
    ErrorCase{"a", 0, "unknown context 'a'"},
    ErrorCase{"payload[*", 8, "unexpected '*'"},
    ErrorCase{",", 0, "unexpected ','"},
    // As in GitHub's lexer, '.' after a literal starts a number.
    ErrorCase{"'abc'.length", 5, "invalid number '.length'"}));

TEST(ExpressionErrorDepth, DeepNestingIsAnErrorNotACrash) {
  std::string parens = std::string(150, '(') + "1" + std::string(150, ')');
  EXPECT_EQ(must_fail(parens).message, "expression nested too deeply");
  std::string nots = std::string(5000, '!') + "true";
  EXPECT_EQ(must_fail(nots).message, "expression nested too deeply");
  std::string chain = "payload";
  for (int i = 0; i < 200; ++i) chain += ".a";
  EXPECT_EQ(must_fail(chain).message, "expression nested too deeply");
  std::string eqs = "1";
  for (int i = 0; i < 200; ++i) eqs += " == 1";
  EXPECT_EQ(must_fail(eqs).message, "expression nested too deeply");
  // Long flat && / || chains are fine (n-ary nodes).
  std::string ands = "true";
  for (int i = 0; i < 2000; ++i) ands += " && true";
  EXPECT_TRUE(must_parse(ands).evaluate_bool(sx::Scope{}));
  // Moderate nesting is fine.
  std::string ok = std::string(40, '(') + "1" + std::string(40, ')');
  EXPECT_EQ(must_parse(ok).evaluate(sx::Scope{}).to_string(), "1");
}

TEST(ExpressionErrorRegex, OverlongLiteralRegexIsRejected) {
  std::string text = "matches(payload.a, '" + std::string(600, 'a') + "')";
  EXPECT_EQ(must_fail(text).message, "invalid regex: regex too long (max 512 bytes)");
}

TEST(ExpressionErrorRegex, HugeRepetitionCountsAreRejected) {
  EXPECT_EQ(must_fail("matches(payload.a, 'a{99999999999999999999}')").message,
            "invalid regex: number too large in repetition count or escape");
  EXPECT_EQ(must_fail("matches(payload.a, 'a{1,12345678}')").message,
            "invalid regex: number too large in repetition count or escape");
  // Patterns whose NFA would be huge are rejected before compiling.
  const std::string too_complex = "invalid regex: regex too complex (expands to more than 10000 states)";
  EXPECT_EQ(must_fail("matches(payload.a, 'a{99999}')").message, too_complex);
  EXPECT_EQ(must_fail("matches(payload.a, '(a{999}){999}')").message, too_complex);
  EXPECT_EQ(must_fail("matches(payload.a, '((a{99}){99}){99}')").message, too_complex);
  EXPECT_EQ(must_fail("matches(payload.a, '[a-z]{5000}[0-9]{5000}')").message, too_complex);
  EXPECT_TRUE(must_parse("matches('feat(ui)!: add x', '^(feat|fix|chore)(\\(.+\\))?!?: .{1,72}$')")
                  .evaluate_bool(sx::Scope{}));
  EXPECT_TRUE(must_parse("matches('ab', '(?:[a-z]{2}){1,999}')").evaluate_bool(sx::Scope{}));
  // Long digit runs elsewhere are fine.
  EXPECT_TRUE(must_parse("matches('id 12345678901', '^id [0-9]{11}$')").evaluate_bool(sx::Scope{}));
  EXPECT_TRUE(must_parse("matches('12345678901', '12345678901')").evaluate_bool(sx::Scope{}));
  // Dynamic patterns get the same check (false instead of an error).
  auto doc = parse_json(R"({"re":"a{99999999999999999999}"})");
  sx::Scope s;
  s.payload = &doc;
  EXPECT_FALSE(must_parse("matches('aaa', payload.re)").evaluate_bool(s));
}

struct TemplateErrorCase {
  const char* text;
  std::size_t offset;
  const char* message;
};

std::ostream& operator<<(std::ostream& os, const TemplateErrorCase& c) { return os << c.text; }

class TemplateError : public ::testing::TestWithParam<TemplateErrorCase> {};

TEST_P(TemplateError, OffsetIsInsideTheTemplateString) {
  auto r = sx::Template::compile(std::string_view(GetParam().text));
  auto* e = std::get_if<sx::ParseError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->offset, GetParam().offset) << e->message;
  expect_message(e->message, GetParam().message);
  EXPECT_TRUE(e->path.empty());
}

INSTANTIATE_TEST_SUITE_P(Parse, TemplateError, ::testing::Values(
    TemplateErrorCase{"Hello ${{ foo() }}", 10, "unknown function 'foo'"},
    TemplateErrorCase{"${{ payload.a }} and ${{ nope.b }}", 25, "unknown context 'nope'"},
    TemplateErrorCase{"x ${{ payload.a", 2, "unterminated '${{' (missing '}}')"},
    TemplateErrorCase{"x ${{ 'a }}", 2, "unterminated '${{' (missing '}}')"},
    TemplateErrorCase{"${{ }}", 3, "empty expression"},
    TemplateErrorCase{"${{ 1 2 }}", 6, "unexpected '2'"},
    TemplateErrorCase{"ok ${{ matches(payload.a, '(') }}", 26, "invalid regex: *"}));

TEST(TemplateErrorTree, ReportsThePathOfTheBadString) {
  auto tree = parse_json(R"({"content": "ok", "embeds": [{"title": "ok ${{ payload.a }}", "url": "${{ bad.x }}"}]})");
  auto r = sx::Template::compile(tree);
  auto* e = std::get_if<sx::ParseError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "embeds[0].url");
  EXPECT_EQ(e->offset, 4u);
  EXPECT_EQ(e->message, "unknown context 'bad'");

  auto tree2 = parse_json(R"([{"x y": {"z": ["a", "${{ 1 == }}"]}}])");
  auto r2 = sx::Template::compile(tree2);
  auto* e2 = std::get_if<sx::ParseError>(&r2);
  ASSERT_NE(e2, nullptr);
  EXPECT_EQ(e2->path, "[0]['x y'].z[1]");
  EXPECT_EQ(e2->offset, 9u);
  EXPECT_EQ(e2->message, "unexpected end of expression");
}

TEST(TemplateErrorTree, TooDeepTreeIsAnError) {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  auto tree = parse_json(deep);
  auto r = sx::Template::compile(tree);
  auto* e = std::get_if<sx::ParseError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message, "template nested too deeply");
}

}  // namespace
