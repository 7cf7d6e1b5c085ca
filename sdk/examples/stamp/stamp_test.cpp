// The example plugin's own test, written with the SDK's header-only harness.
#include <gtest/gtest.h>
#include <switchyard/testing.hpp>

#include "stamp.hpp"

using switchyard::Verdict;
using switchyard::testing::Harness;
using switchyard::testing::make_event;

TEST(Stamp, SetsTheFieldOnEveryEvent) {
  Harness h(stamp::kStampDecl, R"({"field": "environment", "value": "production"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("demo.created", R"({"id": 7})");
  auto verdict = h.apply(*event);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(*verdict, Verdict::keep);
  EXPECT_STREQ(event->data["environment"].GetString(), "production");
  EXPECT_EQ(event->data["id"].GetInt(), 7);
}

TEST(Stamp, TheValueIsATemplateEvaluatedPerEvent) {
  // Template options are compiled by Switchyard::testing, which this test links.
  Harness h(stamp::kStampDecl, R"({"field": "tag", "value": "${{ event.type }}@${{ payload.repo }}"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("demo.created", R"({"repo": "octo/app"})");
  ASSERT_TRUE(h.apply(*event));
  EXPECT_STREQ(event->data["tag"].GetString(), "demo.created@octo/app");
}

TEST(Stamp, KeepsExistingValueWhenOverwriteIsOff) {
  Harness h(stamp::kStampDecl,
            R"({"field": "environment", "value": "production", "overwrite": false})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("demo.created", R"({"environment": "staging"})");
  ASSERT_TRUE(h.apply(*event));
  EXPECT_STREQ(event->data["environment"].GetString(), "staging");
}

TEST(Stamp, RejectsAPayloadThatIsNotAnObject) {
  Harness h(stamp::kStampDecl, R"({"field": "environment", "value": "production"})");
  ASSERT_TRUE(h.configure());
  auto event = make_event("demo.created", R"([1, 2])");
  auto verdict = h.apply(*event);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, switchyard::ErrorKind::permanent);
}

TEST(Stamp, MissingRequiredOptionsAreReportedTogether) {
  Harness h(stamp::kStampDecl, R"({"overwrite": "yes"})");
  auto status = h.configure();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, switchyard::ErrorKind::invalid_config);
  EXPECT_NE(status.error().message.find("field: required option is missing"), std::string::npos);
  EXPECT_NE(status.error().message.find("value: required option is missing"), std::string::npos);
  EXPECT_NE(status.error().message.find("overwrite: expected true or false"), std::string::npos);
}
