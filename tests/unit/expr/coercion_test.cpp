// GitHub's loose equality / ordering coercion table and truthiness.
#include <cmath>

#include "expr_test_util.hpp"

namespace {

class CoercionCase : public PayloadTest, public ::testing::WithParamInterface<Case> {};

TEST_P(CoercionCase, EvaluatesToJson) { EXPECT_EQ(eval_json(GetParam().expr), GetParam().expected) << GetParam(); }

// ==: same kinds compare directly; null/bool become numbers; number vs
// string parses the string; NaN equals nothing; objects/arrays only by
// identity.
INSTANTIATE_TEST_SUITE_P(Equality, CoercionCase, ::testing::Values(
    // null
    Case{"null == null", "true"},
    Case{"null == 0", "true"},
    Case{"null == ''", "true"},
    Case{"null == false", "true"},
    Case{"null == 'null'", "false"},
    Case{"null == 1", "false"},
    Case{"payload.missing == null", "true"},
    Case{"payload.nul == null", "true"},
    // bool
    Case{"true == 1", "true"},
    Case{"true == 2", "false"},
    Case{"false == 0", "true"},
    Case{"true == '1'", "true"},
    Case{"false == ''", "true"},
    Case{"false == '0'", "true"},
    Case{"true == 'true'", "false"},
    Case{"true == true", "true"},
    Case{"true == false", "false"},
    Case{"payload.t == 1", "true"},
    // number vs string
    Case{"1 == '1'", "true"},
    Case{"1 == '1.0'", "true"},
    Case{"1 == ' 1 '", "true"},
    Case{"0 == ''", "true"},
    Case{"255 == '0xff'", "true"},
    Case{"1000 == '1e3'", "true"},
    Case{"1 == 'abc'", "false"},
    Case{"'abc' == 0", "false"},
    Case{"30433642 == payload.workflow_run.id", "true"},
    Case{"'30433642' == payload.workflow_run.id", "true"},
    // NaN
    Case{"NaN == NaN", "false"},
    Case{"NaN != NaN", "true"},
    Case{"'abc' == NaN", "false"},
    Case{"Infinity == 'Infinity'", "true"},
    // strings: case-insensitive
    Case{"'abc' == 'abc'", "true"},
    Case{"'ABC' == 'abc'", "true"},
    Case{"'abc' == 'abd'", "false"},
    Case{"'abc' == 'abc '", "false"},
    Case{"payload.action == 'COMPLETED'", "true"},
    Case{"'Straße' == 'STRASSE'", "false"},
    // objects and arrays: identity only
    Case{"payload.workflow_run == payload.workflow_run", "true"},
    Case{"payload.workflow_run.actor == payload['workflow_run'].actor", "true"},
    Case{"payload.empty_obj == fromJSON('{}')", "false"},
    Case{"fromJSON('[]') == fromJSON('[]')", "false"},
    Case{"payload.empty_arr == payload.empty_obj", "false"},
    Case{"payload.empty_arr == ''", "false"},
    Case{"payload.empty_arr == 0", "false"},
    Case{"payload.empty_obj == null", "false"},
    Case{"payload.empty_obj != null", "true"},
    Case{"payload.labels.*.name == payload.labels.*.name", "false"}));  // two filter results

INSTANTIATE_TEST_SUITE_P(Ordering, CoercionCase, ::testing::Values(
    Case{"1 < 2", "true"},
    Case{"2 < 1", "false"},
    Case{"1 <= 1", "true"},
    Case{"1 >= 2", "false"},
    Case{"'10' < 9", "false"},     // string vs number compares numerically
    Case{"'10' > 9", "true"},
    Case{"'10' < '9'", "true"},    // two strings compare as strings
    Case{"'a' < 'B'", "true"},     // case-insensitive
    Case{"'b' > 'A'", "true"},
    Case{"'abc' <= 'ABC'", "true"},
    Case{"'abc' >= 'ABC'", "true"},
    Case{"'abc' < 'abcd'", "true"},
    Case{"null < 1", "true"},
    Case{"null >= 0", "true"},
    Case{"true > false", "true"},
    Case{"false < true", "true"},
    Case{"true > true", "false"},
    Case{"true > 0", "true"},
    Case{"NaN < 1", "false"},
    Case{"NaN > 1", "false"},
    Case{"NaN >= NaN", "false"},
    Case{"'x' < 1", "false"},
    Case{"'x' >= 1", "false"},
    Case{"payload.workflow_run < payload.workflow_run", "false"},
    Case{"payload.workflow_run <= payload.workflow_run", "true"},
    Case{"payload.empty_arr > 0", "false"},
    Case{"payload.big > payload.id64", "true"},
    Case{"payload.workflow_run.id > 30433641", "true"}));

INSTANTIATE_TEST_SUITE_P(Truthiness, CoercionCase, ::testing::Values(
    Case{"!null", "true"},
    Case{"!0", "true"},
    Case{"!-0", "true"},
    Case{"!NaN", "true"},
    Case{"!''", "true"},
    Case{"!false", "true"},
    Case{"!'0'", "false"},     // non-empty string
    Case{"!'false'", "false"},
    Case{"!1", "false"},
    Case{"!-1", "false"},
    Case{"!payload.empty_obj", "false"},
    Case{"!payload.empty_arr", "false"},
    Case{"!payload.labels.*.missing", "false"}));  // empty filter result is an array

TEST(ValueApi, KindsAndAccessors) {
  auto doc = parse_json(R"({"s":"x","n":2.5,"b":true,"o":{"k":[1,"two",null]}})");
  sx::Value root = sx::Value::make_json_ref(doc);
  ASSERT_TRUE(root.is_object());
  EXPECT_EQ(root.size(), 4u);
  EXPECT_TRUE(root.get("s").is_string());
  EXPECT_EQ(root.get("s").string_value(), "x");
  EXPECT_TRUE(root.get("S").is_string());  // case-insensitive fallback
  EXPECT_DOUBLE_EQ(root.get("n").number_value(), 2.5);
  EXPECT_TRUE(root.get("b").bool_value());
  EXPECT_TRUE(root.get("nope").is_null());
  sx::Value k = root.get("o").get("k");
  ASSERT_TRUE(k.is_array());
  EXPECT_EQ(k.size(), 3u);
  EXPECT_EQ(k.at(1).string_value(), "two");
  EXPECT_TRUE(k.at(2).is_null());
  EXPECT_TRUE(k.at(99).is_null());
  EXPECT_EQ(k.json_node(), &doc["o"]["k"]);
  EXPECT_EQ(k.to_string(), "[1,\"two\",null]");
  EXPECT_EQ(k.to_json_string(true), "[\n  1,\n  \"two\",\n  null\n]");
}

TEST(ValueApi, CoercionsAndEquality) {
  EXPECT_TRUE(std::isnan(sx::Value::make_string_ref("abc").as_number()));
  EXPECT_DOUBLE_EQ(sx::Value::make_string(" 12 ").as_number(), 12);
  EXPECT_DOUBLE_EQ(sx::Value::make_bool(true).as_number(), 1);
  EXPECT_DOUBLE_EQ(sx::Value().as_number(), 0);
  EXPECT_TRUE(sx::Value().loose_equals(sx::Value::make_number(0)));
  EXPECT_TRUE(sx::Value::make_string("ABC").loose_equals(sx::Value::make_string_ref("abc")));
  EXPECT_FALSE(sx::Value::make_number(std::nan("")).loose_equals(sx::Value::make_number(std::nan(""))));
  EXPECT_EQ(sx::Value::make_bool(false).to_string(), "false");
  EXPECT_EQ(sx::Value().to_string(), "");
  EXPECT_EQ(sx::Value().to_json_string(), "null");
}

TEST(ValueApi, OwnedJsonOutlivesItsSource) {
  sx::Value child;
  {
    auto doc = std::make_shared<rapidjson::Document>();
    doc->Parse(R"({"a":{"b":"kept"}})");
    child = sx::Value::make_json(std::move(doc)).get("a");
  }
  EXPECT_EQ(child.get("b").string_value(), "kept");
  rapidjson::Document out;
  child.to_json(out, out.GetAllocator());
  ASSERT_TRUE(out.IsObject());
  EXPECT_STREQ(out["b"].GetString(), "kept");
}

TEST(ValueApi, ToJsonKeepsNumberTypes) {
  rapidjson::Document out;
  sx::Value::make_number(3).to_json(out, out.GetAllocator());
  EXPECT_TRUE(out.IsInt64());
  EXPECT_EQ(out.GetInt64(), 3);
  sx::Value::make_number(2.5).to_json(out, out.GetAllocator());
  EXPECT_TRUE(out.IsDouble());
  sx::Value::make_number(std::nan("")).to_json(out, out.GetAllocator());
  EXPECT_TRUE(out.IsNull());
  auto doc = parse_json(R"([12345678901234567890])");
  sx::Value::make_json_ref(doc[0]).to_json(out, out.GetAllocator());
  ASSERT_TRUE(out.IsUint64());
  EXPECT_EQ(out.GetUint64(), 12345678901234567890ull);
}

}  // namespace
