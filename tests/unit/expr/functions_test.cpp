// Built-in functions, GitHub's and Switchyard's.
#include <regex>

#include "expr_test_util.hpp"

namespace {

class FunctionCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(FunctionCase, EvaluatesToJson) { EXPECT_EQ(eval_json(GetParam().expr), GetParam().expected) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(Contains, FunctionCase, ::testing::Values(
    Case{"contains('Hello World', 'WORLD')", "true"},   // strings: case-insensitive substring
    Case{"contains('Hello World', 'planet')", "false"},
    Case{"contains('abc', '')", "true"},
    Case{"contains('xx aaaaaaaaab yy', 'AAAAAAAAAB')", "true"},   // a long needle: its own search
    Case{"contains('aaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaab')", "false"},
    Case{"contains('prefix Deployment Failed', 'deployment failed')", "true"},
    Case{"contains('Deployment Faile', 'deployment failed')", "false"},
    Case{"contains('', 'a')", "false"},
    Case{"contains(123, 2)", "true"},                  // primitives are cast to strings
    Case{"contains(true, 'RU')", "true"},
    Case{"contains(null, '')", "true"},
    Case{"contains(payload.labels.*.name, 'BUG')", "true"},  // arrays: element loose-equality
    Case{"contains(payload.labels.*.name, 'bu')", "false"},  // no substring match in arrays
    Case{"contains(fromJSON('[1,2,3]'), '2')", "true"},
    Case{"contains(fromJSON('[1,2,3]'), 4)", "false"},
    Case{"contains(fromJSON('[null]'), 0)", "true"},
    Case{"contains(payload.empty_arr, '')", "false"},
    Case{"contains(payload.workflow_run, 'id')", "false"},   // objects are neither
    Case{"contains('abc', payload.labels)", "false"},        // non-primitive item in a string
    Case{"CONTAINS('abc', 'B')", "true"}));                  // names are case-insensitive

INSTANTIATE_TEST_SUITE_P(StartsEndsWith, FunctionCase, ::testing::Values(
    Case{"startsWith('Hello', 'he')", "true"},
    Case{"startsWith('Hello', 'lo')", "false"},
    Case{"startsWith('a', 'abc')", "false"},
    Case{"startsWith('abc', '')", "true"},
    Case{"endsWith('Hello', 'LO')", "true"},
    Case{"endsWith('Hello', 'He')", "false"},
    Case{"endsWith(12.5, '.5')", "true"},
    Case{"startsWith(payload.labels, 'a')", "false"},
    Case{"endsWith('abc', payload.empty_arr)", "false"},
    Case{"startswith(payload.workflow_run.head_branch, 'MA')", "true"}));

INSTANTIATE_TEST_SUITE_P(Format, FunctionCase, ::testing::Values(
    Case{"format('{0} {1}', 'a', 'b')", "\"a b\""},
    Case{"format('{1}{0}{1}', 'a', 'b')", "\"bab\""},
    Case{"format('{{0}} {0}', 'x')", "\"{0} x\""},     // {{ and }} escape braces
    Case{"format('x}}y{{', 1)", "\"x}y{\""},
    Case{"format('{{{0}}}', 'v')", "\"{v}\""},
    Case{"format('hello')", "\"hello\""},
    Case{"format('{0}', null)", "\"\""},
    Case{"format('{0}|{1}', true, false)", "\"true|false\""},
    Case{"format('{0}', payload.workflow_run.actor)", "\"{\\\"login\\\":\\\"octocat\\\"}\""},
    Case{"format('{0}', payload.labels.*.name)", "\"[\\\"bug\\\",\\\"ui\\\"]\""},
    Case{"format('{10}', 0,1,2,3,4,5,6,7,8,9,'ten')", "\"ten\""},
    Case{"format(payload.fmt, 'a', 'b')", "\"a-b\""},  // dynamic format string
    Case{"format(payload.bad_fmt, 1)", "null"},        // invalid at run time -> null
    Case{"format(payload.fmt, 'a')", "null"},          // missing argument at run time -> null
    Case{"format(payload.workflow_run.id)", "\"30433642\""}));

INSTANTIATE_TEST_SUITE_P(Join, FunctionCase, ::testing::Values(
    Case{"join(payload.labels.*.name)", "\"bug,ui\""},
    Case{"join(payload.labels.*.name, ' | ')", "\"bug | ui\""},
    Case{"join('abc')", "\"abc\""},                 // non-array primitive: itself
    Case{"join(5, '-')", "\"5\""},
    Case{"join(null)", "\"\""},
    Case{"join(payload.workflow_run.actor)", "\"\""},  // object: empty string
    Case{"join(fromJSON('[1,true,null,\"x\"]'), '-')", "\"1-true--x\""},
    Case{"join(fromJSON('[[1,2],{\"a\":1}]'), ';')", "\"[1,2];{\\\"a\\\":1}\""},
    Case{"join(payload.empty_arr)", "\"\""},
    Case{"join(payload.nested.a.b.c, payload.empty_arr)", "\"10,20,{\\\"d\\\":\\\"deep\\\"}\""},  // bad separator -> ','
    Case{"join(fromJSON('[1,2]'), 0)", "\"102\""}));

INSTANTIATE_TEST_SUITE_P(Json, FunctionCase, ::testing::Values(
    Case{"toJSON(payload.workflow_run.actor)", "\"{\\n  \\\"login\\\": \\\"octocat\\\"\\n}\""},
    Case{"toJSON('a\"b')", "\"\\\"a\\\\\\\"b\\\"\""},
    Case{"toJSON(null)", "\"null\""},
    Case{"toJSON(1.5)", "\"1.5\""},
    Case{"toJSON(true)", "\"true\""},
    Case{"toJSON(payload.empty_arr)", "\"[]\""},
    Case{"toJSON(payload.empty_obj)", "\"{}\""},
    Case{"toJSON(payload.big)", "\"12345678901234567890\""},
    Case{"toJSON(fromJSON('{\"a\":[1,{\"b\":null}]}'))",
         "\"{\\n  \\\"a\\\": [\\n    1,\\n    {\\n      \\\"b\\\": null\\n    }\\n  ]\\n}\""},
    Case{"fromJSON('{\"a\":{\"b\":[1,2]}}').a.b[1]", "2"},
    Case{"fromJSON('\"str\"')", "\"str\""},
    Case{"fromJSON('42')", "42"},
    Case{"fromJSON('true') == true", "true"},
    Case{"fromJSON(' [1, 2] ')", "[1,2]"},
    Case{"fromJSON('not json')", "null"},
    Case{"fromJSON('')", "null"},
    Case{"fromJSON('{\"a\":1} trailing')", "null"},
    Case{"fromJSON('{\"a\":')", "null"},
    Case{"fromJSON(toJSON(payload.workflow_run.actor)).login", "\"octocat\""},
    Case{"fromJSON(payload.workflow_run.id)", "30433642"},
    Case{"fromJSON(payload.workflow_run.actor).login", "\"octocat\""}));  // objects pass as compact JSON

INSTANTIATE_TEST_SUITE_P(Truncate, FunctionCase, ::testing::Values(
    Case{"truncate('hello world', 5)", "\"hell…\""},   // marker counts toward the limit
    Case{"truncate('hello', 5)", "\"hello\""},
    Case{"truncate('hello', 10)", "\"hello\""},
    Case{"truncate('héllo wörld', 3)", "\"hé…\""},     // counts code points, not bytes
    Case{"truncate('日本語テキスト', 4)", "\"日本語…\""},
    Case{"truncate('😀😀😀', 2)", "\"😀…\""},
    Case{"truncate('abc', 1)", "\"…\""},
    Case{"truncate('abc', 0)", "\"\""},
    Case{"truncate('abc', -1)", "\"\""},
    Case{"truncate('abc', 'x')", "\"\""},              // NaN limit -> 0
    Case{"truncate('abcdef', '4')", "\"abc…\""},
    Case{"truncate(12345, 3)", "\"12…\""},
    Case{"truncate(null, 3)", "\"\""},
    Case{"truncate('abc', 2.9)", "\"a…\""}));

INSTANTIATE_TEST_SUITE_P(Strings, FunctionCase, ::testing::Values(
    Case{"lower('HeLLo')", "\"hello\""},
    Case{"upper('straße')", "\"STRAßE\""},   // ASCII-only case mapping
    Case{"lower(null)", "\"\""},
    Case{"upper(true)", "\"TRUE\""},
    Case{"lower(payload.workflow_run.actor)", "\"{\\\"login\\\":\\\"octocat\\\"}\""},
    Case{"replace('a-b-c', '-', '+')", "\"a+b+c\""},
    Case{"replace('aaa', 'a', 'aa')", "\"aaaaaa\""},
    Case{"replace('abc', '', 'x')", "\"abc\""},
    Case{"replace('abc', 'z', 'y')", "\"abc\""},
    Case{"replace('AbaA', 'a', 'x')", "\"AbxA\""},   // case-sensitive
    Case{"replace('1.5', '.', ',')", "\"1,5\""},
    Case{"replace(payload.workflow_run.head_branch, 'main', 'trunk')", "\"trunk\""},
    Case{"urlencode('a b/c?d=1&e=é#f')", "\"a%20b%2Fc%3Fd%3D1%26e%3D%C3%A9%23f\""},
    Case{"urlencode('Az09-._~')", "\"Az09-._~\""},  // RFC 3986 unreserved: kept
    Case{"urlencode('100%')", "\"100%25\""},
    Case{"length(payload.labels)", "3"},                       // list items
    Case{"length(payload.workflow_run)", "6"},                 // object members
    Case{"length('h\u00e9llo')", "5"},                          // characters, not bytes
    Case{"length(payload.missing)", "0"},
    Case{"length(payload.labels.*.name)", "2"},                // a filter's result
    Case{"URLENCODE(null)", "\"\""},
    Case{"urlencode(12.5)", "\"12.5\""},
    Case{"urlencode(payload.workflow_run.head_branch)", "\"main\""}));

INSTANTIATE_TEST_SUITE_P(Matches, FunctionCase, ::testing::Values(
    Case{"matches('release/v1.2', '^release/v\\d+')", "true"},  // no escapes in '' strings
    Case{"matches('main', '^release/')", "false"},
    Case{"matches(payload.workflow_run.head_branch, 'MAIN')", "false"},  // regex is case-sensitive
    Case{"matches(payload.workflow_run.head_branch, '(?:ma|de)in$')", "true"},
    Case{"matches('abc', payload.pattern)", "true"},         // dynamic pattern
    Case{"matches('abd', payload.pattern)", "false"},
    Case{"matches('(', payload.bad_regex)", "false"},        // bad dynamic pattern -> false
    Case{"matches(12345, '^[0-9]+$')", "true"},
    Case{"matches(null, '^$')", "true"},
    Case{"MATCHES('x', 'x')", "true"},
    Case{"matches('xay', 'a')", "true"},                     // search, not full match
    Case{"matches('xay', '^a')", "false"},
    Case{"matches('line1\nline2', 'line1.line2')", "false"},  // '.' does not match newline
    Case{"matches('xb', '^a|b')", "true"},                   // alternation is not cut by ^
    Case{"matches('a)(', 'a|b')", "true"}));

INSTANTIATE_TEST_SUITE_P(Coalesce, FunctionCase, ::testing::Values(
    Case{"coalesce(null, '', 'x', 'y')", "\"x\""},
    Case{"coalesce(payload.missing, payload.workflow_run.name)", "\"CI\""},
    Case{"coalesce(null, '')", "null"},
    Case{"coalesce(0, 'x')", "0"},
    Case{"coalesce(false, 'x')", "false"},
    Case{"coalesce(payload.empty_arr, 'x')", "[]"},
    Case{"coalesce(payload.nul)", "null"}));

TEST_F(PayloadTest, NowIsAnRfc3339UtcTimestamp) {
  std::string now = eval_str("now()");
  EXPECT_TRUE(std::regex_match(now, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"))) << now;
  EXPECT_EQ(eval_json("now() > '2020-01-01'"), "true");
}

TEST_F(PayloadTest, MatchesHandlesLongSubjectsWithoutDeepRecursion) {
  std::string big(20000, 'a');
  auto doc = parse_json("{\"s\":\"" + big + "b\"}");
  sx::Scope s;
  s.payload = &doc;
  EXPECT_TRUE(must_parse("matches(payload.s, '^(a|b)*$')").evaluate_bool(s));
  EXPECT_FALSE(must_parse("matches(payload.s, '^(a|c)*$')").evaluate_bool(s));
  EXPECT_TRUE(must_parse("matches(payload.s, '(a+)+b')").evaluate_bool(s));
  // Failing unanchored searches are linear, not quadratic (this would take
  // minutes with a naive retry-at-every-position search).
  EXPECT_FALSE(must_parse("matches(payload.s, 'a.*c')").evaluate_bool(s));
  EXPECT_FALSE(must_parse("matches(payload.s, '(a|b)*c')").evaluate_bool(s));
  EXPECT_TRUE(must_parse("matches(payload.s, 'ab$')").evaluate_bool(s));
  EXPECT_FALSE(must_parse("matches(payload.s, 'a^')").evaluate_bool(s));  // ^ only at the start
  auto lines = parse_json(R"({"s":"line1\nline2"})");
  s.payload = &lines;
  EXPECT_FALSE(must_parse("matches(payload.s, 'line1.line2')").evaluate_bool(s));  // '.' stops at newlines
  EXPECT_TRUE(must_parse("matches(payload.s, 'line1\\sline2')").evaluate_bool(s));
  EXPECT_FALSE(must_parse("matches(payload.s, '^line2')").evaluate_bool(s));  // not multiline
}

INSTANTIATE_TEST_SUITE_P(Substring, FunctionCase, ::testing::Values(
    Case{"substring('Hello World', 0, 5)", "\"Hello\""},
    Case{"substring('Hello', 1)", "\"ello\""},                 // to the end
    Case{"substring('Hello', -3)", "\"llo\""},                 // negative start counts from the end
    Case{"substring('Hello', -3, 2)", "\"ll\""},
    Case{"substring('Hello', -10, 2)", "\"He\""},
    Case{"substring('Hello', 10)", "\"\""},
    Case{"substring('Hello', 2, 0)", "\"\""},
    Case{"substring('Hello', 2, -1)", "\"\""},
    Case{"substring('Hello', 1.9, 1)", "\"e\""},               // counts are floored
    Case{"substring('h\u00e9llo', 1, 2)", "\"\u00e9l\""},      // code points, not bytes
    Case{"substring(payload.workflow_run.id, 0, 4)", "\"3043\""},
    Case{"substring(null, 0, 2)", "\"\""},
    Case{"SUBSTRING(payload.str, 6)", "\"World\""}));

INSTANTIATE_TEST_SUITE_P(Split, FunctionCase, ::testing::Values(
    Case{"split('a,b,c', ',')", "[\"a\",\"b\",\"c\"]"},
    Case{"split('a,,b', ',')", "[\"a\",\"\",\"b\"]"},
    Case{"split('a::b', '::')", "[\"a\",\"b\"]"},
    Case{"split('abc', ',')", "[\"abc\"]"},
    Case{"split('', ',')", "[]"},                               // nothing: no items
    Case{"split(payload.missing, ',')", "[]"},
    Case{"split('h\u00e9y', '')", "[\"h\",\"\u00e9\",\"y\"]"},  // '' splits into characters
    Case{"split('a,b', ',')[1]", "\"b\""},
    Case{"join(split('a b c', ' '), '-')", "\"a-b-c\""},
    Case{"length(split('refs/heads/main', '/'))", "3"},
    Case{"contains(split('bug,ui', ','), 'UI')", "true"}));

INSTANTIATE_TEST_SUITE_P(Conditionals, FunctionCase, ::testing::Values(
    Case{"iif(true, 'a', 'b')", "\"a\""},
    Case{"iif(payload.missing, 'a', 'b')", "\"b\""},
    Case{"iif(0, 1, 2)", "2"},
    Case{"iif(payload.workflow_run.conclusion == 'failure', 15158332, 3066993)", "15158332"},
    Case{"iif(payload.t, payload.workflow_run.actor, null)", "{\"login\":\"octocat\"}"},
    Case{"case(payload.action == 'requested', 1, payload.action == 'completed', 2, 3)", "2"},
    Case{"case(false, 1, 0)", "0"},
    Case{"case(payload.missing, 'a', payload.zero, 'b', 'default')", "\"default\""},
    Case{"case(true, 'first', true, 'second', 'default')", "\"first\""}));

INSTANTIATE_TEST_SUITE_P(Omit, FunctionCase, ::testing::Values(
    Case{"omit_nulls(fromJSON('{\"a\":1,\"b\":null,\"c\":{\"d\":null,\"e\":[null,{\"f\":null}]}}'))",
         "{\"a\":1,\"c\":{\"e\":[null,{}]}}"},                  // members only; list items stay
    Case{"omitNulls(payload.nested)", "{\"a\":{\"b\":{\"c\":[10,20,{\"d\":\"deep\"}]}}}"},
    Case{"omit_nulls(payload.labels.*)", "[{\"name\":\"bug\"},{\"name\":\"ui\"},{\"color\":\"red\"}]"},
    Case{"omit_nulls(payload.nul)", "null"},
    Case{"omit_nulls('x')", "\"x\""},
    Case{"omit()", "null"},                                   // null outside a template tree
    Case{"omit() == null", "true"},
    Case{"toJSON(omit())", "\"null\""},
    Case{"coalesce(omit(), 'x')", "\"x\""}));

TEST_F(PayloadTest, FunctionNamesIgnoreCaseAndUnderscores) {
  for (const char* name : {"seconds_between", "secondsBetween", "SECONDS_BETWEEN", "Seconds_Between"}) {
    EXPECT_EQ(must_parse(std::string(name) + "('2024-01-01', '2024-01-02')").evaluate(scope()).to_string(), "86400")
        << name;
  }
  EXPECT_EQ(eval_json("to_json(1)"), "\"1\"");
  EXPECT_EQ(must_fail("seconds__between_x(1, 2)").message, "unknown function 'seconds__between_x'");
}

TEST_F(PayloadTest, FromJsonDeeplyNestedDoesNotCrash) {
  std::string deep(5000, '[');
  deep += std::string(5000, ']');
  auto doc = parse_json(R"({"s":")" + deep + R"("})");
  sx::Scope s;
  s.payload = &doc;
  sx::Value v = must_parse("fromJSON(payload.s)").evaluate(s);
  ASSERT_TRUE(v.is_array());
  // Serialisation stops at 256 levels and writes null below.
  std::string text = v.to_json_string();
  EXPECT_EQ(text.find("null"), 256u);
  EXPECT_EQ(must_parse("toJSON(fromJSON(payload.s))").evaluate(s).to_string().substr(0, 4), "[\n  ");
}

}  // namespace
