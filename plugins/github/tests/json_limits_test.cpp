// The one-pass parse with a nesting limit that the webhook and http sources use.

#include "common/json_limits.hpp"

#include <gtest/gtest.h>

#include <string>

namespace switchyard::json_limits {
namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimits, AcceptsNestingUpToTheLimitAndRefusesOneMore) {
  rapidjson::Document doc;
  EXPECT_EQ(parse(doc, nested(kMaxDepth)).outcome, Outcome::ok);
  EXPECT_TRUE(doc.IsArray());
  EXPECT_EQ(parse(doc, nested(kMaxDepth + 1)).outcome, Outcome::too_deep);
  const std::string objects = R"({"a":{"b":{"c":1}}})";
  EXPECT_EQ(parse(doc, objects, 3).outcome, Outcome::ok);
  EXPECT_EQ(parse(doc, objects, 2).outcome, Outcome::too_deep);
}

TEST(JsonLimits, DepthIsCurrentNestingNotTheCountOfContainers) {
  rapidjson::Document doc;
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += (i ? ",{\"a\":[1]}" : "{\"a\":[1]}");
  wide += "]";
  EXPECT_EQ(parse(doc, wide, 3).outcome, Outcome::ok);
  EXPECT_EQ(doc.Size(), 1000u);
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  rapidjson::Document doc;
  const std::string text = R"({"t":")" + std::string(1000, '[') + R"(\"]"})";
  ASSERT_EQ(parse(doc, text).outcome, Outcome::ok);
  EXPECT_EQ(std::string(doc["t"].GetString()), std::string(1000, '[') + "\"]");
}

TEST(JsonLimits, InvalidJsonReportsWhereItStoppedAndLeavesTheDocumentAlone) {
  rapidjson::Document doc;
  ASSERT_TRUE(parse(doc, R"({"kept":true})"));
  const auto bad = parse(doc, R"({"ref": })");
  EXPECT_EQ(bad.outcome, Outcome::invalid);
  EXPECT_EQ(bad.offset, 8u);
  EXPECT_TRUE(doc["kept"].GetBool()) << "a failed parse leaves what the document held";
  EXPECT_EQ(parse(doc, "").outcome, Outcome::invalid);
  EXPECT_EQ(parse(doc, "{} trailing").outcome, Outcome::invalid);
  EXPECT_EQ(parse(doc, std::string("{}\0{}", 5)).outcome, Outcome::invalid) << "a NUL does not end the input";
}

TEST(JsonLimits, ValuesOwnTheirStringsAfterTheInputIsGone) {
  rapidjson::Document doc;
  {
    std::string input = R"({"name":"octocat","list":["a","b"]})";
    ASSERT_TRUE(parse(doc, input));
    input.assign(input.size(), 'x');
  }
  EXPECT_STREQ(doc["name"].GetString(), "octocat");
  EXPECT_STREQ(doc["list"][1].GetString(), "b");
}

TEST(JsonLimits, LargeBodiesParseWithAReaderOfTheirOwn) {
  rapidjson::Document doc;
  const std::string big = R"({"blob":")" + std::string(3 << 20, 'z') + R"("})";
  ASSERT_TRUE(parse(doc, big));
  EXPECT_EQ(doc["blob"].GetStringLength(), 3u << 20);
  ASSERT_TRUE(parse(doc, R"({"small":1})")) << "the shared reader still works afterwards";
  EXPECT_EQ(doc["small"].GetInt(), 1);
}

}  // namespace
}  // namespace switchyard::json_limits
