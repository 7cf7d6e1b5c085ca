// CloudEvents JSON as sinks write it. The envelope written without a writer
// (detail::append_cloudevent_envelope: the file and http sinks' every line) is byte for
// byte what RapidJSON's writer writes, for events with any bytes in their strings and any
// JSON in their meta. Event times (format_rfc3339, write_rfc3339) are the same text as the
// C library's calendar gives, for every day a time point can hold (libstdc++'s
// system_clock counts nanoseconds: years 1678 to 2262) at any millisecond, and at the edges
// of days, leap years and the epoch.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include "switchyard/event.hpp"
#include "support/random_event.hpp"

namespace switchyard {
namespace {

// The reference: gmtime and printf (what format_rfc3339 was).
std::string by_the_c_library(std::int64_t ms_total) {
  std::time_t secs = static_cast<std::time_t>(ms_total / 1000);
  int ms = static_cast<int>(ms_total % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<long long>(tm.tm_year) + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::string formatted(std::int64_t ms_total) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_total)));
}

TEST(Rfc3339, EveryDayOfFiveCenturiesAtAnyMillisecondReadsAsTheCalendarSays) {
  constexpr std::int64_t kDay = 86'400'000;
  std::mt19937_64 random(20261207);
  std::uniform_int_distribution<std::int64_t> within_day(0, kDay - 1);
  const std::int64_t first = -106'000;  // in 1679, in days since 1970-01-01
  const std::int64_t last = 106'000;    // in 2260
  for (std::int64_t day = first; day <= last; ++day) {
    const std::int64_t ms = day * kDay + within_day(random);
    ASSERT_EQ(formatted(ms), by_the_c_library(ms)) << "day " << day;
  }
}

TEST(Rfc3339, TheEdgesOfDaysYearsAndTheEpoch) {
  for (const std::int64_t ms : {0LL, -1LL, 1LL, 999LL, -999LL, -1000LL, 86'399'999LL, 86'400'000LL, -86'400'000LL,
                                951'782'400'000LL /* 2000-02-29 */, 951'868'799'999LL, 4'107'456'000'000LL /* 2100-02-28 */,
                                4'107'542'399'999LL /* 2100-02-28T23:59:59.999 */, -2'203'891'200'000LL /* 1900-03-01 */}) {
    EXPECT_EQ(formatted(ms), by_the_c_library(ms)) << ms;
  }
  EXPECT_EQ(formatted(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatted(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatted(951'782'400'123LL), "2000-02-29T00:00:00.123Z");
}

// The reference: the envelope as a RapidJSON writer writes it into a started object.
std::string by_a_writer(const Event& event) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  detail::write_cloudevent_envelope(event, writer);
  return {buffer.GetString(), buffer.GetSize()};
}

TEST(CloudEventJson, TheEnvelopeIsWhatAWriterWritesForAnyStringsAndMeta) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 3000; ++i) {
    const auto event = test::random_event(random);
    rapidjson::StringBuffer buffer;
    detail::append_cloudevent_envelope(*event, buffer);
    ASSERT_EQ(std::string(buffer.GetString(), buffer.GetSize()), by_a_writer(*event)) << "event " << i;
  }
}

TEST(CloudEventJson, ARawPayloadIsSplicedAfterTheEnvelope) {
  std::mt19937_64 random(11);
  for (int i = 0; i < 200; ++i) {
    auto event = test::random_event(random);
    event->set_raw_data(R"({"n":[1,2.50],"s":"caf\u00e9"})");
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    write_cloudevent(*event, writer);
    ASSERT_EQ(to_cloudevent_json(*event), std::string(buffer.GetString(), buffer.GetSize())) << "event " << i;
  }
}

// A build log's colours in a payload (ESC, 0x1B) or any control character, wherever it
// falls in a long string, is written escaped: RapidJSON 1.1.0's SSE2 scan wrote 0x1A-0x1F
// as they were in aligned 16-byte blocks, which no strict reader takes.
TEST(CloudEventJson, ControlCharactersInDataAreEscapedWhereverTheyFall) {
  for (std::size_t pad = 0; pad < 40; ++pad) {
    Event event;
    event.id = "d-" + std::to_string(pad);
    const std::string log = std::string(pad, 'x') + "\x1b[31mfailed\x1b[0m \x1a\x1f\x01" + std::string(40, 'y');
    event.data.SetObject();
    event.data.AddMember("log", rapidjson::Value(log.data(), static_cast<rapidjson::SizeType>(log.size()), event.data.GetAllocator()),
                         event.data.GetAllocator());
    const std::string json = to_cloudevent_json(event);
    ASSERT_EQ(std::count_if(json.begin(), json.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }), 0)
        << "pad " << pad << ": " << json;
    EXPECT_NE(json.find(R"(\u001B[31mfailed\u001B[0m \u001A\u001F\u0001)"), std::string::npos) << json;
    rapidjson::Document back;
    back.Parse(json.c_str());
    ASSERT_FALSE(back.HasParseError()) << json;
    EXPECT_EQ(std::string(back["data"]["log"].GetString(), back["data"]["log"].GetStringLength()), log);
  }
}

}  // namespace
}  // namespace switchyard
