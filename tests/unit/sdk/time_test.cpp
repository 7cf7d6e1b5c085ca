// Times read from outside (switchyard/time.hpp): RFC 3339's own examples, what is refused,
// and the clock's range, beyond which a time would wrap to another instead.
#include <gtest/gtest.h>

#include <switchyard/event.hpp>
#include <switchyard/time.hpp>

#include <limits>

namespace switchyard {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;

std::string utc(std::string_view text) {
  const auto t = parse_rfc3339(text);
  return t ? format_rfc3339(*t) : "refused";
}

TEST(Rfc3339Parse, TheExamplesOfRfc3339SectionFive) {
  EXPECT_EQ(utc("1985-04-12T23:20:50.52Z"), "1985-04-12T23:20:50.520Z");
  EXPECT_EQ(utc("1996-12-19T16:39:57-08:00"), "1996-12-20T00:39:57.000Z");
  EXPECT_EQ(utc("1937-01-01T12:00:27.87+00:20"), "1937-01-01T11:40:27.870Z");
  // A leap second, and the same one in another zone: the next minute's first second.
  EXPECT_EQ(utc("1990-12-31T23:59:60Z"), "1991-01-01T00:00:00.000Z");
  EXPECT_EQ(utc("1990-12-31T15:59:60-08:00"), "1991-01-01T00:00:00.000Z");
  EXPECT_EQ(utc("2024-05-01t12:34:56z"), "2024-05-01T12:34:56.000Z");
}

TEST(Rfc3339Parse, FractionsAreKeptToTheNanosecond) {
  const auto t = parse_rfc3339("2024-05-01T12:34:56.123456789123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->time_since_epoch() % 1s, 123'456'789ns);
  EXPECT_EQ(*parse_rfc3339("2024-05-01T12:34:56.1Z") - *parse_rfc3339("2024-05-01T12:34:56Z"), 100ms);
}

TEST(Rfc3339Parse, WhatIsNotAnRfc3339TimeIsRefused) {
  for (const char* text : {"", "yesterday", "2024-05-01", "2024-05-01T12:34:56", "2024-05-01 12:34:56Z",
                           "2024-05-01T12:34:56.Z", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                           "2024-13-01T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
                           "2024-05-01T12:34:61Z", "2024-05-01T12:34:56+2:00", "2024-05-01T12:34:56+24:00",
                           "2024-05-01T12:34:56+02:60", "2024-05-01T12:34:56+0200", "+024-05-01T12:34:56Z",
                           "2024-05-01T12:34:56ZZ", "2024-5-01T12:34:56Z"}) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
}

TEST(Rfc3339Parse, TimesTheClockCannotHoldAreRefusedNotWrapped) {
  // The clock counts nanoseconds in 64 bits: 1677-09-21T00:12:43.145224192Z to
  // 2262-04-11T23:47:16.854775807Z.
  EXPECT_EQ(utc("2262-04-11T23:47:15.999999999Z"), "2262-04-11T23:47:15.999Z");
  EXPECT_EQ(utc("2262-04-11T23:47:17Z"), "refused");
  EXPECT_EQ(utc("9999-12-31T23:59:59Z"), "refused");
  EXPECT_EQ(utc("1677-09-22T00:00:00Z"), "1677-09-22T00:00:00.000Z");
  EXPECT_EQ(utc("1677-09-21T00:00:00Z"), "refused");
  EXPECT_EQ(utc("0000-01-01T00:00:00Z"), "refused");
  // An offset that takes a time in range out of it, and back in.
  EXPECT_EQ(utc("2262-04-11T23:47:15-01:00"), "refused");
  EXPECT_EQ(utc("2262-04-12T00:30:00+01:00"), "2262-04-11T23:30:00.000Z");
}

TEST(TimeFromUnixSeconds, TheClocksRangeAndNoFurther) {
  EXPECT_EQ(time_from_unix_seconds(1'700'000'000), system_clock::time_point(1'700'000'000s));
  EXPECT_EQ(time_from_unix_seconds(-1'700'000'000), system_clock::time_point(-1'700'000'000s));
  EXPECT_TRUE(time_from_unix_seconds(9'223'372'035));
  EXPECT_FALSE(time_from_unix_seconds(9'223'372'036));
  EXPECT_FALSE(time_from_unix_seconds(-9'223'372'036));
  EXPECT_FALSE(time_from_unix_seconds(std::numeric_limits<std::int64_t>::max()));
  EXPECT_FALSE(time_from_unix_seconds(std::numeric_limits<std::int64_t>::min()));
  // 2^55 + 1,700,000,000 s: in nanoseconds it wraps to exactly 1,700,000,000 s, which a plain
  // conversion would have returned (a replay window would have taken it for that time).
  constexpr std::uint64_t kWraps = (std::uint64_t{1} << 55) + 1'700'000'000;
  static_assert(kWraps * 1'000'000'000u == 1'700'000'000u * std::uint64_t{1'000'000'000});
  EXPECT_FALSE(time_from_unix_seconds(static_cast<std::int64_t>(kWraps)));
}

TEST(UnixSecondsWithin, AReplayWindowBothWaysAndNoWrapFromCenturiesOff) {
  const auto now = system_clock::time_point(1'700'000'000s) + 400ms;
  EXPECT_TRUE(unix_seconds_within(1'700'000'000, now, 5min));
  EXPECT_TRUE(unix_seconds_within(1'700'000'000 - 299, now, 5min));
  EXPECT_FALSE(unix_seconds_within(1'700'000'000 - 301, now, 5min));
  EXPECT_TRUE(unix_seconds_within(1'700'000'000 + 300, now, 5min));   // 299.6 s ahead
  EXPECT_FALSE(unix_seconds_within(1'700'000'000 + 301, now, 5min));
  EXPECT_FALSE(unix_seconds_within(1'700'000'000 + 1, now, 500ms));  // 600 ms ahead
  // Times whose distance to now, or whose nanoseconds, do not fit in 64 bits: far, not near.
  EXPECT_FALSE(unix_seconds_within(-7'600'000'000, now, 5min));  // 1729: now minus it overflows
  EXPECT_FALSE(unix_seconds_within((std::int64_t{1} << 55) + 1'700'000'000, now, 5min));
  EXPECT_FALSE(unix_seconds_within(std::numeric_limits<std::int64_t>::min(), now, 5min));
  EXPECT_FALSE(unix_seconds_within(std::numeric_limits<std::int64_t>::max(), now, 5min));
}

}  // namespace
}  // namespace switchyard
