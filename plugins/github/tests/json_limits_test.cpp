// The one-pass parse with a nesting limit that the webhook and http sources use.

#include "common/json_limits.hpp"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace switchyard::json_limits {
namespace {

// The document as text: unlike operator==, this tells duplicate keys and their order apart.
std::string text_of(const rapidjson::Document& doc) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> writer(out);
  doc.Accept(writer);
  return out.GetString();
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimits, AcceptsNestingUpToTheLimitAndRefusesOneMore) {
  rapidjson::Document doc;
  EXPECT_EQ(outcome_of(parse(doc, nested(kMaxDepth))), Outcome::ok);
  EXPECT_TRUE(doc.IsArray());
  EXPECT_EQ(outcome_of(parse(doc, nested(kMaxDepth + 1))), Outcome::too_deep);
  const std::string objects = R"({"a":{"b":{"c":1}}})";
  EXPECT_EQ(outcome_of(parse(doc, objects, 3)), Outcome::ok);
  EXPECT_EQ(outcome_of(parse(doc, objects, 2)), Outcome::too_deep);
}

TEST(JsonLimits, DepthIsCurrentNestingNotTheCountOfContainers) {
  rapidjson::Document doc;
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += (i ? ",{\"a\":[1]}" : "{\"a\":[1]}");
  wide += "]";
  EXPECT_EQ(outcome_of(parse(doc, wide, 3)), Outcome::ok);
  EXPECT_EQ(doc.Size(), 1000u);
}

TEST(JsonLimits, BracketsInsideStringsDoNotCount) {
  rapidjson::Document doc;
  const std::string text = R"({"t":")" + std::string(1000, '[') + R"(\"]"})";
  ASSERT_EQ(outcome_of(parse(doc, text)), Outcome::ok);
  EXPECT_EQ(std::string(doc["t"].GetString()), std::string(1000, '[') + "\"]");
}

TEST(JsonLimits, InvalidJsonReportsWhereItStoppedAndLeavesTheDocumentAlone) {
  rapidjson::Document doc;
  ASSERT_TRUE(parse(doc, R"({"kept":true})"));
  const auto bad = parse(doc, R"({"ref": })");
  EXPECT_EQ(outcome_of(bad), Outcome::invalid);
  EXPECT_EQ(bad.error().offset, 8u);
  EXPECT_TRUE(doc["kept"].GetBool()) << "a failed parse leaves what the document held";
  EXPECT_EQ(outcome_of(parse(doc, "")), Outcome::invalid);
  EXPECT_EQ(outcome_of(parse(doc, "{} trailing")), Outcome::invalid);
  EXPECT_EQ(outcome_of(parse(doc, std::string("{}\0{}", 5))), Outcome::invalid) << "a NUL does not end the input";
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

TEST(JsonLimits, NestingLimitCountsAContainerHoldingAValueToo) {
  auto holding = [](int depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); };
  rapidjson::Document doc;
  EXPECT_EQ(outcome_of(parse(doc, holding(kMaxDepth))), Outcome::ok);
  EXPECT_EQ(outcome_of(parse(doc, holding(kMaxDepth + 1))), Outcome::too_deep);
  EXPECT_EQ(outcome_of(parse(doc, R"({"a":{"b":{"c":1}}})", 3)), Outcome::ok);
  EXPECT_EQ(outcome_of(parse(doc, R"({"a":{"b":{"c":{"d":1}}}})", 3)), Outcome::too_deep);
}

TEST(JsonLimits, AByteOrderMarkBeforeTheTextIsSkipped) {
  rapidjson::Document doc;
  ASSERT_TRUE(parse(doc, "\xEF\xBB\xBF{\"a\":1}"));
  EXPECT_EQ(doc["a"].GetInt(), 1);
  const auto bad = parse(doc, "\xEF\xBB\xBF{\"a\": }");
  EXPECT_EQ(outcome_of(bad), Outcome::invalid);
  EXPECT_EQ(bad.error().offset, 9u) << "offsets count from the first byte of the body, BOM included";
  EXPECT_EQ(outcome_of(parse(doc, "\xEF\xBB\xBF")), Outcome::invalid);
  EXPECT_EQ(outcome_of(parse(doc, "{}\xEF\xBB\xBF")), Outcome::invalid) << "only at the start";
}

TEST(JsonLimits, NumbersBeyondTheDoubleRangeAreRefused) {
  rapidjson::Document doc;
  EXPECT_TRUE(parse(doc, "[1.7e308]"));
  EXPECT_EQ(outcome_of(parse(doc, "[9.9e308]")), Outcome::invalid) << "would be infinity, which JSON cannot hold";
  EXPECT_EQ(outcome_of(parse(doc, "[-9.9e308]")), Outcome::invalid);
  EXPECT_EQ(outcome_of(parse(doc, "[1e400]")), Outcome::invalid);
}

// parse() reads with simdjson where it can and falls back to RapidJSON; the document must be
// the one RapidJSON alone builds, and what RapidJSON refuses stays refused.
TEST(JsonLimits, AgreesWithRapidJsonAloneOnEdgeCases) {
  const std::vector<std::string> inputs = {
      R"({"a":1,"a":2,"b":[true,false,null],"c":{}})",  // a duplicate key: refused by both
      R"([0,-0,1,-1,2147483647,2147483648,4294967295,4294967296,-2147483648,-2147483649])",
      R"([9223372036854775807,9223372036854775808,18446744073709551615,-9223372036854775808])",
      R"([18446744073709551616,-9223372036854775809,1e308,5e-324,0.1,1E2,-0.0,123456789012345678901234567890])",
      R"(["\u0000x","\ud83d\ude00","é","\"\\\/\b\f\n\r\t"])",
      "[\"\xff\xfe not UTF-8\"]",  // refused by both
      "  {\n\t\"spaced\" : [ 1 , 2 ] }  ",
      R"("just a string")", "42", "null",
      R"(["\ud800"])", "[1,]", "{\"a\" 1}", "01", "[1e400]", "\"\x01\"", "[",
  };
  for (const auto& input : inputs) {
    rapidjson::Document fast, reference;
    const auto a = parse(fast, input);
    const auto b = detail::parse_rapidjson(reference, input, kMaxDepth);
    EXPECT_EQ(outcome_of(a), outcome_of(b)) << input;
    if (!a && !b) {
      EXPECT_EQ(a.error().offset, b.error().offset) << input;
    }
    if (a && b) {
      EXPECT_EQ(text_of(fast), text_of(reference)) << input;
    }
  }
}

TEST(JsonLimits, TheBenchPayloadParsesToTheSameDocument) {
  std::ifstream file(std::string(SWITCHYARD_SOURCE_DIR) + "/bench/fixtures/workflow_run.json", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_GT(text.size(), 8000u);
  rapidjson::Document fast, reference;
  ASSERT_TRUE(parse(fast, text));
  ASSERT_TRUE(detail::parse_rapidjson(reference, text, kMaxDepth));
  EXPECT_EQ(text_of(fast), text_of(reference));
  EXPECT_STREQ(fast["workflow_run"]["name"].GetString(), "CI");
}

}  // namespace
}  // namespace switchyard::json_limits

namespace switchyard::json_limits {
namespace {

TEST(JsonLimits, TextThatIsNotUtf8IsRefusedByBothParsersAtTheSameOffset) {
  // An overlong '/', a lone continuation byte, a surrogate, a truncated 4-byte sequence at
  // the very end (RapidJSON's own check would read past the terminator there).
  for (const std::string& bad : {std::string("{\"a\":\"\xc0\xaf\"}"), std::string("{\"a\":\"x\x80\"}"),
                                std::string("{\"a\":\"\xed\xa0\x80\"}"), std::string("{\"a\":\"1\xf2")}) {
    rapidjson::Document fast, reference;
    const ParseResult a = parse(fast, bad);
    const ParseResult b = detail::parse_rapidjson(reference, bad, kMaxDepth);
    EXPECT_EQ(outcome_of(a), Outcome::invalid) << bad;
    ASSERT_EQ(outcome_of(b), Outcome::invalid) << bad;
    EXPECT_EQ(b.error().offset, bad.find_first_of("\xc0\x80\xed\xf2", 5)) << bad;
  }
  rapidjson::Document ok;
  EXPECT_TRUE(parse(ok, "{\"a\":\"Grüße 👋\"}"));
}

TEST(JsonLimits, AnObjectNamingAKeyTwiceIsRefusedByBothParsersNamingTheKey) {
  std::string wide = "{";  // more members than the pairwise check covers: the sorted one
  for (int i = 0; i < 40; ++i) wide += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  wide += "\"k7\":0}";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"ref":"main","ref":"evil"})", "ref"},
      {R"({"a":[{"b":1},{"c":{"d":1,"e":2,"d":3}}]})", "d"},
      {wide, "k7"},
  };
  for (const auto& [text, key] : cases) {
    rapidjson::Document fast, reference;
    fast.SetString("untouched");
    const ParseResult a = parse(fast, text);
    const ParseResult b = detail::parse_rapidjson(reference, text, kMaxDepth);
    ASSERT_EQ(outcome_of(a), Outcome::duplicate_key) << text;
    ASSERT_EQ(outcome_of(b), Outcome::duplicate_key) << text;
    EXPECT_EQ(a.error().key, key);
    EXPECT_EQ(b.error().key, key);
    EXPECT_STREQ(fast.GetString(), "untouched") << "a refused parse changed the document";
  }
  // The same key in sibling objects is fine.
  rapidjson::Document ok;
  EXPECT_TRUE(parse(ok, R"([{"a":1},{"a":2}])"));
}

// Names chosen so that the hashed check's probes collide (the same low bits) still
// get an exact answer, from the sorted check it falls back to.
TEST(JsonLimits, KeysChosenToCollideAreStillCheckedExactly) {
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 60; ++i) {
    std::string key = "k" + std::to_string(i);
    if ((detail::key_hash(key) & 127) == 5) keys.push_back(std::move(key));
  }
  std::string text = "{";
  for (const auto& key : keys) text += "\"" + key + "\":1,";
  const std::string unique = text.substr(0, text.size() - 1) + "}";
  const std::string repeated = text + "\"" + keys[37] + "\":2,\"" + keys[3] + "\":3}";
  rapidjson::Document doc, reference;
  EXPECT_TRUE(parse(doc, unique));
  EXPECT_EQ(doc.MemberCount(), keys.size());
  const ParseResult a = parse(doc, repeated);
  const ParseResult b = detail::parse_rapidjson(reference, repeated, kMaxDepth);
  ASSERT_EQ(outcome_of(a), Outcome::duplicate_key);
  ASSERT_EQ(outcome_of(b), Outcome::duplicate_key);
  EXPECT_EQ(a.error().key, keys[37]) << "the first member repeating an earlier name";
  EXPECT_EQ(b.error().key, keys[37]);
}

// check() answers as parse() does, and builds a tree only where the text could later parse
// to another one (decimals) or simdjson does not read it (large bodies): otherwise the caller
// keeps the text, which RapidJSON parses, as the engine does (full precision), to exactly
// parse()'s tree.
TEST(JsonLimits, CheckAnswersAsParseDoesAndBuildsATreeOnlyWhereItMust) {
  std::ifstream file(std::string(SWITCHYARD_SOURCE_DIR) + "/bench/fixtures/workflow_run.json", std::ios::binary);
  const std::string bench((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::string large = "[";
  while (large.size() < (300u << 10)) large += R"({"n":12345,"s":"some text"},)";
  large.back() = ']';
  struct Case {
    std::string text;
    bool tree;  // check() must build one
  };
  const std::vector<Case> cases = {
      {bench, false},
      {R"({"a":1,"b":[true,false,null],"c":{},"d":"\u00e9\ud83d\ude00","e":-9223372036854775808})", false},
      {R"([9223372036854775807,9223372036854775808,18446744073709551615,-0,0])", false},
      {R"({"price":0.1,"big":1e308,"tiny":5e-324,"zero":0e400})", true},
      {"\xEF\xBB\xBF{\"bom\":1}", false},
      {"  {\n\t\"spaced\" : [ 1 , 2 ] }  ", false},
      {large, true},
      {R"({"a":1,"a":2})", false},
      {R"({"a":[{"b":1},{"c":{"d":1,"e":2,"d":3}}]})", false},
      {R"({"x":0.5,"a":{"k":1,"k":2}})", false},  // a decimal before the repeat: parse() decides
      {nested(kMaxDepth + 1), false},
      {"[18446744073709551616]", true},  // beyond 64 bits: RapidJSON reads it, as a double
      {"[1,]", false}, {"{\"a\" 1}", false}, {"[\"\\ud800\"]", false}, {"\"\xff\"", false}, {"", false},
  };
  for (const auto& [text, tree] : cases) {
    SCOPED_TRACE(text.substr(0, 80));
    rapidjson::Document checked_doc, parsed_doc;
    const auto checked = check(checked_doc, text, Tree::if_needed);
    const ParseResult parsed = parse(parsed_doc, text);
    ASSERT_EQ(checked ? Outcome::ok : checked.error().outcome, outcome_of(parsed));
    if (!parsed) {
      EXPECT_EQ(checked.error().offset, parsed.error().offset);
      EXPECT_EQ(checked.error().key, parsed.error().key);
      continue;
    }
    EXPECT_EQ(!checked_doc.IsNull(), tree);
    if (!checked_doc.IsNull()) {
      EXPECT_EQ(text_of(checked_doc), text_of(parsed_doc));
      continue;
    }
    rapidjson::Document later;  // what the engine builds from the kept text
    std::string_view kept = text;
    if (kept.substr(0, 3) == "\xEF\xBB\xBF") kept.remove_prefix(3);
    later.Parse<rapidjson::kParseFullPrecisionFlag>(kept.data(), kept.size());
    ASSERT_FALSE(later.HasParseError());
    EXPECT_EQ(text_of(later), text_of(parsed_doc));
  }
}

TEST(JsonLimits, FieldsOfACheckReadTheTextUntilTheThreadParsesAnother) {
  rapidjson::Document doc;
  const std::string text = R"({"action":"opened","issue":{"number":7,"title":"t"},"n":-3,"u":18446744073709551615,"b":true})";
  const auto fields = check(doc, text, Tree::if_needed);
  ASSERT_TRUE(fields);
  ASSERT_TRUE(doc.IsNull());
  EXPECT_TRUE(fields->is_object());
  EXPECT_EQ(fields->string({"action"}), "opened");
  EXPECT_EQ(fields->text({"issue", "number"}), "7");
  EXPECT_EQ(fields->string({"issue", "number"}), "") << "a number is not a string";
  EXPECT_EQ(fields->text({"n"}), "-3");
  EXPECT_EQ(fields->text({"u"}), "18446744073709551615");
  EXPECT_EQ(fields->text({"b"}), "");
  EXPECT_EQ(fields->text({"issue", "missing"}), "");
  EXPECT_EQ(fields->text({"action", "deeper"}), "");
  rapidjson::Document other;
  ASSERT_TRUE(parse(other, R"({"action":"closed"})"));
  EXPECT_EQ(fields->string({"action"}), "") << "fields read a parse that is gone";
  EXPECT_FALSE(fields->is_object());
}

}  // namespace
}  // namespace switchyard::json_limits
