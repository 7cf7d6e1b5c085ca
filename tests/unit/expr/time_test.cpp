// Time functions: fromISO8601, toISO8601, seconds_between, format_time.
#include "expr_test_util.hpp"

namespace {

// Times as webhooks carry them (GitHub: `2024-05-01T10:00:00Z`; commit
// timestamps with an offset), plus values that are not times.
constexpr const char* kTimes = R"({
  "created": "2024-05-01T10:00:00Z",
  "updated": "2024-05-01T10:05:30.5Z",
  "committed": "2024-05-01T12:00:00+02:00",
  "epoch": 1714557600,
  "epoch_ms": 1714557600123,
  "bad_day": "2024-02-30T00:00:00Z",
  "words": "yesterday",
  "layout": "%d/%m",
  "bad_layout": "%Q",
  "run": {"run_started_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:12:34Z"}
})";

class TimeCase : public ::testing::TestWithParam<Case> {
 protected:
  rapidjson::Document payload = parse_json(kTimes);
};

TEST_P(TimeCase, EvaluatesToJson) {
  sx::Scope s;
  s.payload = &payload;
  EXPECT_EQ(must_parse(GetParam().expr).evaluate(s).to_json_string(), GetParam().expected) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(FromIso8601, TimeCase, ::testing::Values(
    Case{"fromISO8601('1970-01-01T00:00:00Z')", "0"},
    Case{"fromISO8601(payload.created)", "1714557600"},
    Case{"fromISO8601(payload.committed)", "1714557600"},          // offsets are applied
    Case{"fromISO8601('2024-05-01T05:30:00-0430')", "1714557600"},
    Case{"fromISO8601('2024-05-01T11:00:00+01')", "1714557600"},
    Case{"fromISO8601('2024-05-01 10:00:00')", "1714557600"},       // no zone: UTC
    Case{"fromISO8601('2024-05-01t10:00z')", "1714557600"},
    Case{"fromISO8601('2024-05-01')", "1714521600"},
    Case{"fromISO8601(payload.updated)", "1714557930.5"},
    Case{"fromISO8601('2024-02-29T00:00:00Z')", "1709164800"},      // leap day
    Case{"fromISO8601('1969-12-31T23:59:59Z')", "-1"},
    Case{"fromISO8601(payload.epoch)", "1714557600"},               // numbers are already times
    Case{"fromISO8601(payload.bad_day)", "null"},
    Case{"fromISO8601(payload.words)", "null"},
    Case{"fromISO8601(payload.missing)", "null"},
    Case{"fromiso8601(payload.created)", "1714557600"}));

INSTANTIATE_TEST_SUITE_P(ToIso8601, TimeCase, ::testing::Values(
    Case{"toISO8601(0)", "\"1970-01-01T00:00:00Z\""},
    Case{"toISO8601(payload.epoch)", "\"2024-05-01T10:00:00Z\""},
    Case{"toISO8601(payload.committed)", "\"2024-05-01T10:00:00Z\""},  // normalised to UTC
    Case{"toISO8601(payload.epoch + 3600)", "\"2024-05-01T11:00:00Z\""},
    Case{"toISO8601(1714557600.25)", "\"2024-05-01T10:00:00.250Z\""},
    Case{"toISO8601(-1)", "\"1969-12-31T23:59:59Z\""},
    Case{"toISO8601(payload.epoch_ms)", "null"},                    // milliseconds: past year 9999
    Case{"toISO8601(payload.epoch_ms / 1000)", "\"2024-05-01T10:00:00.123Z\""},
    Case{"toISO8601(payload.words)", "null"},
    Case{"toISO8601(null)", "null"}));

INSTANTIATE_TEST_SUITE_P(SecondsBetween, TimeCase, ::testing::Values(
    Case{"seconds_between(payload.run.run_started_at, payload.run.updated_at)", "754"},
    Case{"seconds_between(payload.created, payload.updated)", "330.5"},
    Case{"seconds_between(payload.updated, payload.created)", "-330.5"},
    Case{"seconds_between(payload.epoch, payload.committed)", "0"},
    Case{"round(seconds_between(payload.run.run_started_at, payload.run.updated_at) / 60, 1)", "12.6"},
    Case{"secondsBetween(payload.created, payload.updated) > 300", "true"},
    Case{"seconds_between(payload.created, payload.words)", "null"},
    Case{"seconds_between('2000-01-01T00:00:00Z', now()) > 0", "true"},
    Case{"fromISO8601(payload.updated) - fromISO8601(payload.created)", "330.5"}));

INSTANTIATE_TEST_SUITE_P(FormatTime, TimeCase, ::testing::Values(
    Case{"format_time(payload.created, '%Y-%m-%d %H:%M')", "\"2024-05-01 10:00\""},
    Case{"format_time(payload.created, '%a %d %b %Y')", "\"Wed 01 May 2024\""},
    Case{"format_time(payload.created, '%A %B %e, %I:%M %p')", "\"Wednesday May  1, 10:00 AM\""},
    Case{"format_time(payload.committed, '%F %T %z %Z')", "\"2024-05-01 10:00:00 +0000 UTC\""},
    Case{"format_time(payload.created, '%j %u %w %y %R')", "\"122 3 3 24 10:00\""},
    Case{"format_time(payload.created, '%s')", "\"1714557600\""},
    Case{"format_time(payload.updated, '%S.%L')", "\"30.500\""},
    Case{"format_time(payload.epoch + 14 * 3600, '%I %p')", "\"12 AM\""},
    Case{"format_time(payload.created, '100%% at %H')", "\"100% at 10\""},
    Case{"format_time(payload.created, payload.layout)", "\"01/05\""},
    Case{"format_time(payload.created, payload.bad_layout)", "null"},  // invalid at run time: null
    Case{"format_time(payload.words, '%Y')", "null"},
    Case{"formatTime(payload.epoch, '%Y')", "\"2024\""}));

TEST(TimeTemplates, DiscordTimestampMarkup) {
  // Discord renders <t:EPOCH:R> as "5 minutes ago" in the reader's time zone.
  auto payload = parse_json(kTimes);
  sx::Scope s;
  s.payload = &payload;
  EXPECT_EQ(must_compile(std::string_view("<t:${{ fromISO8601(payload.created) }}:R>")).render_string(s),
            "<t:1714557600:R>");
  rapidjson::Document out;
  must_compile(std::string_view("${{ seconds_between(payload.run.run_started_at, payload.run.updated_at) }}"))
      .render(s, out, out.GetAllocator());
  ASSERT_TRUE(out.IsInt64());  // duration_seconds stays an integer column value
  EXPECT_EQ(out.GetInt64(), 754);
}

}  // namespace
