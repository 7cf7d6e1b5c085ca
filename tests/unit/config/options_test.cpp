// The SDK's option validation, shared by the engine and the test harness.
#include <gtest/gtest.h>

#include "switchyard/options.hpp"

namespace switchyard {
namespace {

constexpr const char* kModes[] = {"fast", "safe"};
constexpr OptionSpec kRetry[] = {
    {.name = "max_attempts", .type = OptionType::integer, .default_value = "5"},
    {.name = "initial", .type = OptionType::duration, .default_value = "1s"},
};
constexpr OptionSpec kSchema[] = {
    {.name = "url", .type = OptionType::string, .required = true},
    {.name = "token", .type = OptionType::string, .secret = true},
    {.name = "timeout", .type = OptionType::duration, .default_value = "30s"},
    {.name = "max_body", .type = OptionType::size, .default_value = "25MiB"},
    {.name = "secret", .type = OptionType::string_list, .secret = true},
    {.name = "headers", .type = OptionType::string_map},
    {.name = "mode", .type = OptionType::string, .default_value = "safe", .choices = kModes},
    {.name = "enabled", .type = OptionType::boolean, .default_value = "true"},
    {.name = "retry", .type = OptionType::object, .children = kRetry},
    {.name = "ratio", .type = OptionType::number},
};

struct Normalized {
  rapidjson::Document values;
  std::vector<OptionError> errors;
  std::string error_text() const {
    std::string out;
    for (const auto& e : errors) out += e.path + ": " + e.message + "\n";
    return out;
  }
};

Normalized normalize(const char* json) {
  rapidjson::Document input;
  input.Parse(json);
  EXPECT_FALSE(input.HasParseError()) << json;
  Normalized n;
  normalize_options(kSchema, input, n.values, n.values.GetAllocator(), n.errors);
  return n;
}

TEST(Options, AppliesDefaultsIncludingNestedObjects) {
  auto n = normalize(R"({"url": "https://x"})");
  ASSERT_TRUE(n.errors.empty()) << n.error_text();
  Options o(n.values, kSchema);
  EXPECT_EQ(o.string("url"), "https://x");
  EXPECT_EQ(o.duration("timeout"), std::chrono::seconds(30));
  EXPECT_EQ(o.size("max_body"), 25u * 1024 * 1024);
  EXPECT_EQ(o.string("mode"), "safe");
  EXPECT_TRUE(o.boolean("enabled"));
  EXPECT_EQ(o.object("retry").integer("max_attempts"), 5);
  EXPECT_EQ(o.object("retry").duration("initial"), std::chrono::seconds(1));
  EXPECT_FALSE(o.has("token"));
}

TEST(Options, ParsesDurationsAndSizesInEveryDocumentedForm) {
  auto n = normalize(R"({"url": "u", "timeout": "1h30m", "max_body": "64KB", "retry": {"initial": "250ms"}})");
  ASSERT_TRUE(n.errors.empty()) << n.error_text();
  Options o(n.values, kSchema);
  EXPECT_EQ(o.duration("timeout"), std::chrono::minutes(90));
  EXPECT_EQ(o.size("max_body"), 64000u);
  EXPECT_EQ(o.object("retry").duration("initial"), std::chrono::milliseconds(250));
}

TEST(Options, ReportsEveryErrorAtOnceWithItsPath) {
  auto n = normalize(R"({"timeout": "soon", "max_body": "lots", "mode": "reckless",
                         "enabled": "maybe", "retry": {"max_attempts": "x", "initail": "1s"},
                         "urll": "y"})");
  const std::string text = n.error_text();
  EXPECT_NE(text.find("timeout: expected a duration like 500ms, 30s, 5m or 24h"), std::string::npos) << text;
  EXPECT_NE(text.find("max_body: expected a size"), std::string::npos) << text;
  EXPECT_NE(text.find("mode: expected one of fast, safe, got 'reckless'"), std::string::npos) << text;
  EXPECT_NE(text.find("enabled: expected true or false, got a string"), std::string::npos) << text;
  EXPECT_NE(text.find("retry.max_attempts: expected an integer, got a string"), std::string::npos) << text;
  EXPECT_NE(text.find("retry.initail: unknown option (did you mean 'initial'?)"), std::string::npos) << text;
  EXPECT_NE(text.find("urll: unknown option (did you mean 'url'?)"), std::string::npos) << text;
  EXPECT_NE(text.find("url: required option is missing"), std::string::npos) << text;
  EXPECT_EQ(n.errors.size(), 8u) << text;
}

TEST(Options, SecretValuesNeverAppearInErrors) {
  auto n = normalize(R"({"url": "u", "token": {"nested": "hunter2"}, "secret": [{"k": "hunter3"}]})");
  const std::string text = n.error_text();
  ASSERT_EQ(n.errors.size(), 2u) << text;
  EXPECT_EQ(text.find("hunter"), std::string::npos) << text;
  EXPECT_NE(text.find("token: expected a string"), std::string::npos);
}

TEST(Options, SingleSecretIsAcceptedAsAListOfOne) {
  auto n = normalize(R"({"url": "u", "secret": "one"})");
  ASSERT_TRUE(n.errors.empty()) << n.error_text();
  EXPECT_EQ(Options(n.values, kSchema).strings("secret"), std::vector<std::string>{"one"});
}

TEST(Options, ScalarsAreTakenAsStringsWhereStringsAreExpected) {
  auto n = normalize(R"({"url": 8080, "headers": {"X-Count": 3, "X-On": true}})");
  ASSERT_TRUE(n.errors.empty()) << n.error_text();
  Options o(n.values, kSchema);
  EXPECT_EQ(o.string("url"), "8080");
  EXPECT_STREQ(o.json("headers")["X-Count"].GetString(), "3");
  EXPECT_STREQ(o.json("headers")["X-On"].GetString(), "true");
}

TEST(Options, RedactionReplacesEverySecret) {
  auto n = normalize(R"({"url": "u", "token": "hunter2", "secret": ["a", "b"]})");
  ASSERT_TRUE(n.errors.empty()) << n.error_text();
  rapidjson::Document redacted;
  redact_options(kSchema, n.values, redacted, redacted.GetAllocator());
  EXPECT_STREQ(redacted["token"].GetString(), "<redacted>");
  EXPECT_STREQ(redacted["secret"].GetString(), "<redacted>");
  EXPECT_STREQ(redacted["url"].GetString(), "u");
}

TEST(Units, DurationsRejectMissingOrUnknownUnits) {
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("10 s"));
  EXPECT_FALSE(parse_duration("1w"));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_EQ(*parse_duration("0"), std::chrono::milliseconds(0));
  EXPECT_EQ(*parse_duration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*parse_duration("7d"), std::chrono::hours(168));
}

TEST(Units, DurationsStopAtAHundredYearsWhereTheClocksStillHoldThem) {
  EXPECT_EQ(*parse_duration("36525d"), kMaxDuration);
  EXPECT_FALSE(parse_duration("36525d1ms"));
  EXPECT_FALSE(parse_duration("100000d"));  // 274 years: past 2262 once added to now
  EXPECT_FALSE(parse_duration("99999999999999999999h"));
  auto n = normalize(R"({"url": "u", "timeout": "100000d"})");
  EXPECT_NE(n.error_text().find("timeout: at most 36525d (100 years)"), std::string::npos) << n.error_text();
}

TEST(Units, SizesDistinguishDecimalAndBinaryUnits) {
  EXPECT_EQ(*parse_size("1KiB"), 1024u);
  EXPECT_EQ(*parse_size("1KB"), 1000u);
  EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
  EXPECT_FALSE(parse_size("1.5MB"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("-1"));
}

}  // namespace
}  // namespace switchyard
