// Arithmetic: + - * / % and unary - +, precedence, coercion, exact integers,
// division by zero and overflow; round/floor/ceil.
#include <cmath>

#include "expr_test_util.hpp"

namespace {

class ArithmeticCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(ArithmeticCase, EvaluatesToJson) { EXPECT_EQ(eval_json(GetParam().expr), GetParam().expected) << GetParam(); }

INSTANTIATE_TEST_SUITE_P(Operators, ArithmeticCase, ::testing::Values(
    Case{"1 + 2", "3"},
    Case{"7 - 10", "-3"},
    Case{"6 * 7", "42"},
    Case{"7 / 2", "3.5"},             // true division
    Case{"6 / 3", "2"},               // exact division stays an integer
    Case{"10 / 4", "2.5"},
    Case{"7 % 3", "1"},
    Case{"-7 % 3", "-1"},             // the remainder takes the dividend's sign
    Case{"7 % -3", "1"},
    Case{"7.5 % 2", "1.5"},
    Case{"1.5 * 2", "3"},             // integral results print as integers
    Case{"2.5 + 0.5", "3"},
    Case{"0.1 + 0.2", "0.30000000000000004"},
    Case{"2*3", "6"},                 // no spaces needed around numbers
    Case{"10-4", "6"},
    Case{"2+3", "5"},
    Case{"1e3+1", "1001"},            // an exponent's sign stays in the number
    Case{"1e-3*1000", "1"},
    Case{"0x10+1", "17"},
    Case{"0x1e-1", "29"},             // hex has no exponent: 0x1e minus 1
    Case{"3--2", "5"},
    Case{"3 - -2", "5"},
    Case{"3 * -2", "-6"},
    Case{"-(2 + 3)", "-5"},
    Case{"-payload.workflow_run.id", "-30433642"},
    Case{"+'42'", "42"},
    Case{"- -4", "4"}));

INSTANTIATE_TEST_SUITE_P(Precedence, ArithmeticCase, ::testing::Values(
    Case{"1 + 2 * 3", "7"},
    Case{"(1 + 2) * 3", "9"},
    Case{"10 - 4 - 3", "3"},          // left-associative
    Case{"100 / 10 / 5", "2"},
    Case{"2 * 3 % 4", "2"},
    Case{"1 + 6 / 2 * 3 - 1", "9"},
    Case{"-2 * 3", "-6"},
    Case{"!0 + 1", "2"},              // unary operators bind tighter: (!0) + 1
    Case{"1 + 1 == 2", "true"},       // arithmetic binds tighter than comparisons
    Case{"2 * 3 > 5", "true"},
    Case{"2 * 3 > 5 == true", "true"},
    Case{"payload.workflow_run.id + 1 == 30433643", "true"},
    Case{"1 + 1 && 0 * 5", "0"},
    Case{"payload.missing * 2 || 'n/a'", "\"n/a\""},
    Case{"payload.workflow_run.pull_requests[1 - 1].number", "1"}));

INSTANTIATE_TEST_SUITE_P(Coercion, ArithmeticCase, ::testing::Values(
    Case{"'3' * 2", "6"},                    // strings that read as numbers
    Case{"' 4 ' + 1", "5"},
    Case{"'0x10' + 0", "16"},
    Case{"'1e2' / 4", "25"},
    Case{"true + true", "2"},                // booleans are 1 and 0
    Case{"false * 5", "0"},
    Case{"payload.str * 2", "null"},         // other strings: null
    Case{"format('') + 1", "null"},          // '' is no value here (GitHub's == reads it as 0)
    Case{"payload.missing + 1", "null"},     // a missing field never becomes 0
    Case{"payload.nul * 2", "null"},
    Case{"payload.labels + 1", "null"},      // arrays and objects: null
    Case{"payload.empty_obj * 1", "null"},
    Case{"-payload.str", "null"},
    Case{"coalesce(payload.missing, 0) + 1", "1"}));  // opting in to a default

INSTANTIATE_TEST_SUITE_P(ZeroAndOverflow, ArithmeticCase, ::testing::Values(
    Case{"1 / payload.zero", "null"},
    Case{"5 % payload.zero", "null"},
    Case{"1 / (1 - 1)", "null"},
    Case{"0 / 5", "0"},
    Case{"1e308 * 10", "null"},              // past the largest double: null
    Case{"-1e308 * 10", "null"},
    Case{"Infinity - 1", "null"},
    Case{"NaN + 1", "null"}));

INSTANTIATE_TEST_SUITE_P(Rounding, ArithmeticCase, ::testing::Values(
    Case{"round(2.5)", "3"},                 // halves away from zero
    Case{"round(-2.5)", "-3"},
    Case{"round(3.14159, 2)", "3.14"},
    Case{"round(1234, -2)", "1200"},
    Case{"floor(7 / 2)", "3"},
    Case{"ceil(7 / 2)", "4"},
    Case{"floor(-3.5)", "-4"},
    Case{"round('2.6')", "3"},
    Case{"round(payload.str)", "null"},
    Case{"round(payload.missing)", "null"},
    Case{"floor(payload.workflow_run.id / 1000)", "30433"}));

class ArithmeticTest : public PayloadTest {};

TEST_F(ArithmeticTest, IntegersStayExactBeyondDoublePrecision) {
  // 9007199254740993 is 2^53 + 1: a double cannot hold it.
  EXPECT_EQ(eval_json("payload.id64 + 1"), "9007199254740994");
  EXPECT_EQ(eval_str("payload.id64 * 1"), "9007199254740993");
  EXPECT_EQ(eval_json("'9007199254740993' - 0"), "9007199254740993");
  EXPECT_EQ(eval_json("payload.id64 - payload.id64"), "0");
}

TEST_F(ArithmeticTest, IntegerOverflowFallsBackToFloatingPoint) {
  auto doc = parse_json(R"({"max": 9223372036854775807, "min": -9223372036854775808})");
  sx::Scope s;
  s.payload = &doc;
  sx::Value sum = must_parse("payload.max + 1").evaluate(s);
  ASSERT_TRUE(sum.is_number());
  EXPECT_DOUBLE_EQ(sum.number_value(), 9223372036854775808.0);
  EXPECT_DOUBLE_EQ(must_parse("-payload.min").evaluate(s).number_value(), 9223372036854775808.0);
  EXPECT_DOUBLE_EQ(must_parse("payload.min / -1").evaluate(s).number_value(), 9223372036854775808.0);
  EXPECT_EQ(must_parse("payload.min % -1").evaluate(s).to_json_string(), "0");
  EXPECT_EQ(must_parse("payload.max - 1").evaluate(s).to_json_string(), "9223372036854775806");
  // A number beyond int64 read from JSON (uint64) takes part as a double.
  EXPECT_NEAR(must_parse("payload.big - 1").evaluate(scope()).number_value(), 1.2345678901234567e19, 1e4);
}

TEST_F(ArithmeticTest, ResultsAsTextFollowGitHubNumberFormatting) {
  EXPECT_EQ(eval_str("0.1 + 0.2"), "0.3");  // G15, as GitHub prints numbers
  EXPECT_EQ(eval_str("7 / 2"), "3.5");
  EXPECT_EQ(eval_str("payload.workflow_run.id * 10"), "304336420");
  EXPECT_EQ(eval_str("1 / 3"), "0.333333333333333");
}

TEST_F(ArithmeticTest, MinusAfterANameNeedsASpace) {
  // As in GitHub, '-' is part of a property name (`steps.my-step`): `a-1` is a
  // property called "a-1"; `a - 1` subtracts.
  auto doc = parse_json(R"({"a": 5, "a-1": "dash"})");
  sx::Scope s;
  s.payload = &doc;
  EXPECT_EQ(must_parse("payload.a-1").evaluate(s).to_json_string(), "\"dash\"");
  EXPECT_EQ(must_parse("payload.a - 1").evaluate(s).to_json_string(), "4");
  EXPECT_EQ(must_parse("payload.a -1").evaluate(s).to_json_string(), "4");
  EXPECT_EQ(must_parse("payload['a']-1").evaluate(s).to_json_string(), "4");
}

TEST_F(ArithmeticTest, WildcardsStillWork) {
  // `*` is multiplication between values and a filter after `.` or in `[*]`.
  EXPECT_EQ(eval_json("payload.labels.*.name"), "[\"bug\",\"ui\"]");
  EXPECT_EQ(eval_json("payload.labels[*].name"), "[\"bug\",\"ui\"]");
  EXPECT_EQ(eval_json("length(payload.labels.*) * 2"), "6");
  EXPECT_EQ(eval_json("payload.commits[*].id"), "[\"a1\",\"b2\"]");
}

TEST_F(ArithmeticTest, TypedTemplatesYieldJsonIntegers) {
  sx::Template t = must_compile(std::string_view("${{ payload.workflow_run.id * 10 }}"));
  rapidjson::Document out;
  t.render(scope(), out, out.GetAllocator());
  ASSERT_TRUE(out.IsInt64());
  EXPECT_EQ(out.GetInt64(), 304336420);
  must_compile(std::string_view("${{ 3 / 2 * 2 }}")).render(scope(), out, out.GetAllocator());
  ASSERT_TRUE(out.IsInt64());  // 3, not 3.0
  EXPECT_EQ(out.GetInt64(), 3);
  EXPECT_EQ(must_compile(std::string_view("XP: ${{ length(payload.commits) * 10 }}")).render_string(scope()),
            "XP: 20");
}

}  // namespace
