// Literals, operator precedence and && / || semantics.
#include "expr_test_util.hpp"

namespace {

class LiteralCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(LiteralCase, EvaluatesToJson) { EXPECT_EQ(eval_json(GetParam().expr), GetParam().expected) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(Literals, LiteralCase, ::testing::Values(
    Case{"null", "null"},
    Case{"true", "true"},
    Case{"false", "false"},
    Case{"42", "42"},
    Case{"1.5", "1.5"},
    Case{"-1", "-1"},
    Case{"-1.5e-3", "-0.0015"},
    Case{"+3", "3"},
    Case{".5", "0.5"},
    Case{"0xff", "255"},
    Case{"0xFF", "255"},
    Case{"0o17", "15"},
    Case{"1e3", "1000"},
    Case{"2E+2", "200"},
    Case{"'hello'", "\"hello\""},
    Case{"''", "\"\""},
    Case{"'it''s'", "\"it's\""},
    Case{"''''", "\"'\""},
    Case{"'a''''b'", "\"a''b\""},
    Case{"'no \\n escapes'", "\"no \\\\n escapes\""},
    Case{"'  spaced  '", "\"  spaced  \""},
    Case{"'ünïcödé ✓'", "\"ünïcödé ✓\""},
    Case{"(((1)))", "1"}));

// Precedence: ( ) > [] . > ! > < <= > >= > == != > && > ||
INSTANTIATE_TEST_SUITE_P(Precedence, LiteralCase, ::testing::Values(
    Case{"!0 == 2", "false"},                  // (!0) == 2, not !(0 == 2)
    Case{"1 < 2 == true", "true"},             // (1 < 2) == true, not 1 < (2 == true)
    Case{"2 > 1 == 3 > 2", "true"},
    Case{"true || false && false", "true"},    // && binds tighter than ||
    Case{"false && true || true", "true"},
    Case{"(true || false) && false", "false"},
    Case{"1 == 1 && 2 == 2", "true"},
    Case{"!payload.missing", "true"},
    Case{"!payload.workflow_run.name", "false"}, // ! applies after property access
    Case{"!!'x'", "true"},
    Case{"!(1 == 2)", "true"},
    Case{"1 != 2 && 'a' == 'A'", "true"},
    Case{"payload.workflow_run['na' == 'na']", "null"},
    Case{"payload.labels[0 == 0]", "{\"name\":\"ui\"}"},  // [] holds a full expression
    Case{"payload.nested.a.b.c[2].d == 'DEEP'", "true"}));

INSTANTIATE_TEST_SUITE_P(ShortCircuit, LiteralCase, ::testing::Values(
    Case{"null || 'default'", "\"default\""},
    Case{"payload.missing || 'default'", "\"default\""},
    Case{"payload.workflow_run.name || 'default'", "\"CI\""},
    Case{"'a' || 'b'", "\"a\""},
    Case{"'' || null", "null"},
    Case{"false || 0", "0"},
    Case{"0 || false || 'last'", "\"last\""},
    Case{"0 && 'x'", "0"},
    Case{"1 && 'x'", "\"x\""},
    Case{"'' && 'x'", "\"\""},
    Case{"payload.t && payload.workflow_run.id", "30433642"},
    Case{"payload.f && payload.workflow_run.id", "false"},
    Case{"payload.workflow_run && payload.workflow_run.actor", "{\"login\":\"octocat\"}"},
    Case{"payload.empty_arr || 'x'", "[]"},  // empty arrays/objects are truthy
    Case{"payload.empty_obj && 'x'", "\"x\""},
    Case{"NaN || 'nan is falsy'", "\"nan is falsy\""},
    Case{"1 && 2 && 3", "3"},
    Case{"1 && 0 && 3", "0"},
    Case{"null || null || null", "null"}));

TEST_F(PayloadTest, IntegerLiteralsKeepEveryDigit) {
  // A Discord snowflake or a GitHub id past 2^53: a double would round it.
  EXPECT_EQ(eval_json("1234567890123456789"), "1234567890123456789");
  EXPECT_EQ(eval_json("-1234567890123456789"), "-1234567890123456789");
  EXPECT_EQ(eval_json("9007199254740993 + 0"), "9007199254740993");
  EXPECT_EQ(eval_json("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(eval_str("format('{0}', 1234567890123456789)"), "1234567890123456789");
  payload.Parse(R"({"id": 1234567890123456789, "sid": "1234567890123456789"})");
  EXPECT_EQ(eval_json("payload.id == 1234567890123456789"), "true");
  EXPECT_EQ(eval_json("payload.id == 1234567890123456700"), "false");
  EXPECT_EQ(eval_json("payload.sid == 1234567890123456789"), "true") << "an id as text, to the last digit";
  EXPECT_EQ(eval_json("payload.sid == 1234567890123456700"), "false");
  EXPECT_EQ(eval_json("payload.sid < 1234567890123456790"), "true");
  EXPECT_EQ(eval_json("' 42 ' == 42"), "true");
  // Past int64, and anything not an integer, stays a double as before.
  EXPECT_EQ(eval_json("1e3"), "1000");
  EXPECT_EQ(eval_json("0.1 + 0.2 == 0.3"), "false");
}

TEST_F(PayloadTest, IndexByBooleanUsesItsNumberAsIndexButNotAsKey) {
  // GitHub's index helper: a boolean index is primitive (key "true") and
  // numeric (1): on arrays it selects element 1.
  EXPECT_EQ(eval_json("payload.labels[true].name"), "\"ui\"");
  EXPECT_EQ(eval_json("payload.labels[false].name"), "\"bug\"");
}

// Number -> string conversion follows .NET's G15 as GitHub does.
class NumberFormatCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(NumberFormatCase, FormatsLikeGitHub) {
  EXPECT_EQ(eval_str(std::string("format('{0}', ") + GetParam().expr + ")"), GetParam().expected) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(G15, NumberFormatCase, ::testing::Values(
    Case{"0", "0"},
    Case{"-0", "0"},
    Case{"1000", "1000"},
    Case{"1.5", "1.5"},
    Case{"0.1", "0.1"},
    Case{"-2.25", "-2.25"},
    Case{"0.333333333333333333", "0.333333333333333"},
    Case{"123456789012345", "123456789012345"},
    Case{"1234567890123456.0", "1.23456789012346E+15"},  // a decimal; an integer literal keeps its digits
    Case{"1e20", "1E+20"},
    Case{"0.0001", "0.0001"},
    Case{"0.00001", "1E-05"},
    Case{"1e-7", "1E-07"},
    Case{"NaN", "NaN"},
    Case{"Infinity", "Infinity"},
    Case{"-Infinity", "-Infinity"},
    Case{"0xff", "255"},
    // Integers read from JSON keep all their digits (Switchyard choice).
    Case{"payload.big", "12345678901234567890"},
    Case{"payload.id64", "9007199254740993"},
    Case{"payload.workflow_run.id", "30433642"}));

}  // namespace
