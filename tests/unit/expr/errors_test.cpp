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
    ErrorCase{"1 -", 3, "unexpected end of expression"},
    ErrorCase{"2 ** 3", 3, "unexpected '*'"},
    ErrorCase{"0x", 0, "invalid number '0x'"},
    ErrorCase{"payload.a # b", 10, "unexpected character '#'"},
    // A Vector or JavaScript habit: strings take single quotes.
    ErrorCase{"payload.a == \"x\"", 13, "strings take single quotes: 'x', not \"x\""},
    ErrorCase{"payload.ref == \"refs/heads/main\" && 1", 15,
              "strings take single quotes: 'refs/heads/main', not \"refs/heads/main\""},
    ErrorCase{"payload.a == \"it's\"", 13, "strings take single quotes ('text'), not double quotes"},
    ErrorCase{"payload.a == \"x", 13, "strings take single quotes ('text'), not double quotes"},
    // Arithmetic: literal operands that can never be numbers, at the operator.
    ErrorCase{"payload.name + ' (bot)'", 13,
              "'+' needs numbers and ' (bot)' is not one (to join text use format('{0}{1}', a, b))"},
    ErrorCase{"'abc' * 2", 6, "'*' needs numbers and 'abc' is not one"},
    ErrorCase{"payload.a * null", 10, "'*' needs numbers: with null the result is always null"},
    ErrorCase{"1 + payload.a - ''", 14, "'-' needs numbers and '' is not one"},
    ErrorCase{"-'abc'", 0, "'-' needs numbers and 'abc' is not one"},
    ErrorCase{"payload.a / 0", 10, "division by zero"},
    ErrorCase{"payload.a % 0.0", 10, "division by zero"},
    ErrorCase{"payload.a * 2 +", 15, "unexpected end of expression"},
    ErrorCase{"case(true, 1, false, 2)", 0,
              "case() takes condition, value pairs and then a default value: an odd number of arguments, got 4"},
    ErrorCase{"case(true, 1)", 0, "wrong number of arguments to 'case': expected at least 3, got 2"},
    ErrorCase{"iif(true, 1)", 0, "wrong number of arguments to 'iif': expected 3, got 2"},
    ErrorCase{"format_time(payload.t, '%Y %Q')", 23, "unknown directive '%Q' in time layout"},
    ErrorCase{"format_time(payload.t, '100%')", 23,
              "time layout ends with a lone '%' (write %% for a percent sign)"},
    ErrorCase{"fromISO8601('yesterday')", 12, "not an ISO 8601 time (e.g. '2024-05-01T10:00:00Z'): 'yesterday'"},
    ErrorCase{"seconds_between('2024-01-01', '2023-02-29')", 30,
              "not an ISO 8601 time (e.g. '2024-05-01T10:00:00Z'): '2023-02-29'"},
    ErrorCase{"omit(1)", 0, "wrong number of arguments to 'omit': expected 0, got 1"},
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
  auto* e = r ? nullptr : &r.error();
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
    TemplateErrorCase{"ok ${{ matches(payload.a, '(') }}", 26, "invalid regex: *"},
    TemplateErrorCase{"XP ${{ payload.commits * 'ten' }}", 23, "'*' needs numbers and 'ten' is not one"},
    // What a Liquid, Vector or shell user writes instead of ${{ }}.
    TemplateErrorCase{"Build {{ payload.x }}", 6,
                      "did you mean ${{ payload.x }}? Expressions are written ${{ }}, not {{ }}"},
    TemplateErrorCase{"{{payload.workflow_run.name | upcase}} failed", 0,
                      "did you mean ${{ payload.workflow_run.name }}? Expressions are written ${{ }}, not {{ }}"},
    TemplateErrorCase{"{{ .payload.x }}", 0,
                      "did you mean ${{ payload.x }}? Expressions are written ${{ }}, not {{ }}"},
    TemplateErrorCase{"ok ${{ 1 }} then {{ event.type }}", 17,
                      "did you mean ${{ event.type }}? Expressions are written ${{ }}, not {{ }}"},
    TemplateErrorCase{"$payload.workflow_run.name failed", 0,
                      "did you mean ${{ payload.workflow_run.name }}? Expressions are written ${{ }}, not $name"},
    TemplateErrorCase{"by $payload.sender['login'].", 3,
                      "did you mean ${{ payload.sender['login'] }}? Expressions are written ${{ }}, not $name"},
    TemplateErrorCase{"x ${payload.x}", 2,
                      "did you mean ${{ payload.x }}? Expressions are written ${{ }}, not ${VAR} (an environment "
                      "variable, read when the file loads)"},
    TemplateErrorCase{"${{ 1 }}${Env.HOME}", 8, "did you mean ${{ Env.HOME }}? *"}));

TEST(TemplateErrorOtherLanguages, OnlyContextsAreFlagged) {
  // Braces and dollars that name no context stay literal text.
  for (const char* text : {"{{ not }} an expression", "$HOME costs $5", "${VAR}", "{{ payloads }}", "$payload alone",
                           "{{", "$", "${", "x {{ }}", "$metadata.x", "${{ '{{ payload.x }}' }}"}) {
    auto r = sx::Template::compile(std::string_view(text));
    EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  }
}

TEST(TemplateErrorTree, ReportsThePathOfTheBadString) {
  auto tree = parse_json(R"({"content": "ok", "embeds": [{"title": "ok ${{ payload.a }}", "url": "${{ bad.x }}"}]})");
  auto r = sx::Template::compile(tree);
  auto* e = r ? nullptr : &r.error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "embeds[0].url");
  EXPECT_EQ(e->offset, 4u);
  EXPECT_EQ(e->message, "unknown context 'bad'");

  auto tree2 = parse_json(R"([{"x y": {"z": ["a", "${{ 1 == }}"]}}])");
  auto r2 = sx::Template::compile(tree2);
  auto* e2 = r2 ? nullptr : &r2.error();
  ASSERT_NE(e2, nullptr);
  EXPECT_EQ(e2->path, "[0]['x y'].z[1]");
  EXPECT_EQ(e2->offset, 9u);
  EXPECT_EQ(e2->message, "unexpected end of expression");
}

TEST(ExprErrors, TooManyArgumentsSayTheLimit) {
  std::string call = "coalesce(1";
  for (int i = 0; i < 300; ++i) call += ", 1";
  call += ")";
  auto r = sx::Expression::parse(call);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "wrong number of arguments to 'coalesce': expected at most 255, got 301");
}

TEST(TemplateErrorTree, AnExpressionInAKeyIsAnError) {
  // Keys are literal: it would be sent as written, braces and all.
  auto tree = parse_json(R"({"labels": {"${{ payload.k }}": "${{ payload.v }}"}})");
  auto r = sx::Template::compile(tree);
  auto* e = r ? nullptr : &r.error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->path, "labels['${{ payload.k }}']");
  EXPECT_EQ(e->message, "an object key is not a template: ${{ }} in a key would be sent as written");
  auto fine = parse_json(R"({"${ not an expression }": 1, "cost: $5": "${{ payload.v }}"})");
  EXPECT_TRUE(sx::Template::compile(fine));
}

TEST(TemplateErrorTree, TooDeepTreeIsAnError) {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  auto tree = parse_json(deep);
  auto r = sx::Template::compile(tree);
  auto* e = r ? nullptr : &r.error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message, "template nested too deeply");
}

}  // namespace
