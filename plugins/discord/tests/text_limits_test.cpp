// Measuring, cutting and splitting chat text by characters (plugins/common/text_limits).
#include <gtest/gtest.h>

#include "common/text_limits.hpp"

namespace switchyard::text {
namespace {

TEST(TextLimits, CountsCharactersNotBytes) {
  EXPECT_EQ(length(""), 0u);
  EXPECT_EQ(length("abc"), 3u);
  EXPECT_EQ(length("h\u00e9llo \u65e5\u672c \U0001F680"), 10u);  // 2-, 3- and 4-byte characters
}

TEST(TextLimits, TruncateEndsWithAnEllipsisAndNeverCutsACharacter) {
  EXPECT_EQ(truncate("short", 10), "short");
  EXPECT_EQ(truncate("exactly", 7), "exactly");
  EXPECT_EQ(truncate("abcdefgh", 5), "abcd\u2026");
  std::string e;
  for (int i = 0; i < 300; ++i) e += "\u00e9";
  const std::string cut = truncate(e, 100);
  EXPECT_EQ(length(cut), 100u);
  EXPECT_EQ(cut.substr(0, 99 * 2), e.substr(0, 99 * 2));
  EXPECT_TRUE(cut.ends_with("\u2026"));
  EXPECT_EQ(truncate("abc", 0), "");
}

TEST(TextLimits, SplitPrefersLineBreaksThenSpacesAndJoinsBackToTheText) {
  const std::string lines = "first line\nsecond line\nthird";
  auto pieces = split(lines, 15);
  EXPECT_EQ(pieces, (std::vector<std::string>{"first line\n", "second line\n", "third"}));
  pieces = split("one two three four", 9);
  EXPECT_EQ(pieces, (std::vector<std::string>{"one two ", "three ", "four"}));
  pieces = split("abcdefghij", 4);
  EXPECT_EQ(pieces, (std::vector<std::string>{"abcd", "efgh", "ij"}));
  EXPECT_TRUE(split("", 10).empty());
  // Multi-byte text: every piece within the limit, valid UTF-8, and nothing lost.
  std::string mixed;
  for (int i = 0; i < 500; ++i) mixed += i % 7 == 0 ? "\n" : (i % 3 == 0 ? "\u65e5" : "\U0001F680");
  std::string joined;
  for (const auto& p : split(mixed, 50)) {
    EXPECT_LE(length(p), 50u);
    EXPECT_NE(static_cast<unsigned char>(p.front()) & 0xC0, 0x80) << "a piece starts inside a character";
    joined += p;
  }
  EXPECT_EQ(joined, mixed);
}

}  // namespace
}  // namespace switchyard::text
