#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "sanitize.hpp"

namespace switchyard::core {
namespace {

using testing::Harness;

std::string run(const std::string& options, const std::string& payload) {
  Harness h(kSanitizeDecl, options);
  EXPECT_TRUE(h.configure());
  auto event = testing::make_event("github.issues.opened", payload);
  auto verdict = h.apply(*event);
  EXPECT_TRUE(verdict && *verdict == Verdict::keep);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  event->data.Accept(writer);
  return buffer.GetString();
}

TEST(Sanitize, EscapesHtmlInEveryStringByDefault) {
  EXPECT_EQ(run("{}", R"({"title": "<img src=x onerror=alert(1)>", "n": 1,
                         "labels": [{"name": "Tom & \"Jerry\" 'x'"}]})"),
            R"({"title":"&lt;img src=x onerror=alert(1)&gt;","n":1,)"
            R"("labels":[{"name":"Tom &amp; &quot;Jerry&quot; &#39;x&#39;"}]})");
}

TEST(Sanitize, BlanksScriptUrlsTheWayBrowsersReadThem) {
  const std::vector<std::string> schemes{"javascript:", "data:", "vbscript:"};
  EXPECT_TRUE(has_blocked_scheme("javascript:alert(1)", schemes));
  EXPECT_TRUE(has_blocked_scheme("  JaVaScRiPt:alert(1)", schemes));
  EXPECT_TRUE(has_blocked_scheme("java\tscript:alert(1)", schemes));
  EXPECT_TRUE(has_blocked_scheme("\x01javascript:alert(1)", schemes));
  EXPECT_TRUE(has_blocked_scheme("data:text/html;base64,PHNjcmlwdD4=", schemes));
  EXPECT_FALSE(has_blocked_scheme("https://github.com/octo/repo", schemes));
  EXPECT_FALSE(has_blocked_scheme("a javascript: tutorial", schemes));
  EXPECT_EQ(run("{}", R"j({"html_url": " javascript:alert(document.cookie)", "ok": "https://x.y/?a=1&b=2"})j"),
            R"({"html_url":"","ok":"https://x.y/?a=1&amp;b=2"})");
}

TEST(Sanitize, OnlyListedPathsWhenGiven) {
  EXPECT_EQ(run(R"({"paths": ["pull_request.title", "commits.*.message"]})",
                R"({"pull_request": {"title": "<b>", "body": "<i>"},
                    "commits": [{"message": "a<b", "id": "<c>"}, {"message": "d>e"}]})"),
            R"({"pull_request":{"title":"&lt;b&gt;","body":"<i>"},)"
            R"("commits":[{"message":"a&lt;b","id":"<c>"},{"message":"d&gt;e"}]})");
}

TEST(Sanitize, MissingPathsAndOddShapesAreLeftAlone) {
  EXPECT_EQ(run(R"({"paths": ["a.b.c", "*.x"]})", R"([1, "<", {"x": "<"}])"), R"([1,"<",{"x":"&lt;"}])");
  EXPECT_EQ(run("{}", R"("<just a string>")"), R"("&lt;just a string&gt;")");
}

TEST(Sanitize, RejectsMalformedOptions) {
  Harness h(kSanitizeDecl, R"({"paths": ["a..b"], "block_schemes": ["javascript"]})");
  auto s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "paths: empty segment in 'a..b'");
}

}  // namespace
}  // namespace switchyard::core
