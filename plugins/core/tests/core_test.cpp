// Core components, each run alone with the SDK's test harness.
#include <gtest/gtest.h>

#include <switchyard/testing.hpp>

#include "blackhole.hpp"
#include "file_sink.hpp"
#include "generate.hpp"
#include "stdout_sink.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::core {
namespace {

using testing::Harness;
using namespace std::chrono_literals;

TEST(Blackhole, AcceptsEverythingAndReportsCounts) {
  Harness h(kBlackholeDecl, R"({"print_interval": "1s"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(h.deliver(std::make_shared<Event>()));
  h.advance(1s);
  EXPECT_TRUE(h.logs().contains("3 events", LogLevel::info));
  EXPECT_TRUE(h.deliver(std::make_shared<Event>()));
  h.stop();
  EXPECT_TRUE(h.logs().contains("4 events received in all"));
}

TEST(Generate, EmitsOneEventPerIntervalUntilCount) {
  Harness h(kGenerateDecl, R"({"interval": "1s", "count": 3, "event_type": "demo.tick",
                              "payload": {"message": "hi", "n": 1}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.advance(999ms);
  EXPECT_EQ(h.emitted().size(), 0u);
  h.advance(1ms);
  ASSERT_EQ(h.emitted().size(), 1u);
  h.advance(10s);
  ASSERT_EQ(h.emitted().size(), 3u);  // count reached: no fourth
  const Event& e = *h.emitted()[0];
  EXPECT_EQ(e.type, "demo.tick");
  EXPECT_EQ(e.source, "switchyard://generate");
  EXPECT_STREQ(e.data["message"].GetString(), "hi");
  EXPECT_EQ(e.data["n"].GetInt(), 1);
  EXPECT_EQ(e.id.size(), 36u);
  EXPECT_NE(h.emitted()[0]->id, h.emitted()[1]->id);
  EXPECT_EQ(h.executor().pending_timers(), 0u);
}

TEST(Generate, BurstModeStopsAtSaturationAndResumesWhenReady) {
  Harness h(kGenerateDecl, R"({"interval": 0, "count": 1000})");
  ASSERT_TRUE(h.configure());
  h.emitter().capacity = 300;
  ASSERT_TRUE(h.start());
  h.executor().run_pending();
  EXPECT_EQ(h.emitted().size(), 300u);
  EXPECT_EQ(h.emitter().refused, 0u) << "the source must wait, not push into a full pipeline";
  ASSERT_EQ(h.emitter().waiters.size(), 1u);
  std::size_t total = h.emitter().take().size();  // makes room and wakes the source
  for (int i = 0; i < 100 && total < 1000; ++i) {
    h.executor().run_pending();
    total += h.emitter().take().size();
  }
  EXPECT_EQ(total, 1000u);
}

TEST(Generate, DrainStopsEmitting) {
  Harness h(kGenerateDecl, R"({"interval": "100ms"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  h.advance(350ms);
  EXPECT_EQ(h.emitted().size(), 3u);
  h.stop();
  h.advance(1s);
  EXPECT_EQ(h.emitted().size(), 3u);
}

TEST(Generate, RejectsNegativeCount) {
  Harness h(kGenerateDecl, R"({"count": -1})");
  auto s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "count: must be 0 (unlimited) or more");
}

TEST(FileSink, AppendsOneCloudEventPerLine) {
  test::TempDir dir;
  const auto path = dir / "out.jsonl";
  Harness h(kFileDecl, R"({"path": ")" + path.string() + R"("})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto e1 = testing::make_event("demo.one", R"({"a": 1})");
  auto e2 = testing::make_event("demo.two", R"({"b": "x\ny"})");
  e2->subject = "main";
  const std::string id1 = e1->id;
  ASSERT_TRUE(h.deliver(std::move(e1)));
  ASSERT_TRUE(h.deliver(std::move(e2)));
  h.stop();
  const std::string content = test::read_file(path);
  const auto newline = content.find('\n');
  ASSERT_NE(newline, std::string::npos);
  rapidjson::Document first;
  first.Parse(content.substr(0, newline).c_str());
  ASSERT_FALSE(first.HasParseError()) << content;
  EXPECT_STREQ(first["specversion"].GetString(), "1.0");
  EXPECT_EQ(first["id"].GetString(), id1);
  EXPECT_STREQ(first["type"].GetString(), "demo.one");
  EXPECT_EQ(first["data"]["a"].GetInt(), 1);
  EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 2) << "a newline inside a value must stay escaped";
  EXPECT_NE(content.find(R"("subject":"main")"), std::string::npos);
}

TEST(FileSink, DataFormatWritesOnlyThePayload) {
  test::TempDir dir;
  const auto path = dir / "out.jsonl";
  Harness h(kFileDecl, R"({"path": ")" + path.string() + R"(", "format": "data"})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  ASSERT_TRUE(h.deliver(testing::make_event("demo", R"({"a": [1, 2]})")));
  h.stop();
  EXPECT_EQ(test::read_file(path), "{\"a\":[1,2]}\n");
}

// A payload the source kept as received (deferred: never parsed) is written as those bytes,
// in both formats: its escapes and its digits as they came, the line as stdout writes it.
TEST(FileSink, WritesAReceivedPayloadAsItsBytes) {
  const std::string raw = R"({"msg":"caf\u00e9","big":123456789012345678901234567890,"n":[1,2.50]})";
  for (const std::string format : {"cloudevent", "data"}) {
    test::TempDir dir;
    const auto path = dir / "out.jsonl";
    Harness h(kFileDecl, R"({"path": ")" + path.string() + R"(", "format": ")" + format + R"("})");
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    auto event = testing::make_event("demo.raw", "null");
    event->subject = "main";
    event->set_raw_data(raw);
    ASSERT_TRUE(event->payload_deferred());
    std::string expected;
    append_json_line(*event, parse_line_format(format), false, expected);
    ASSERT_TRUE(h.deliver(std::move(event)));
    ASSERT_TRUE(h.deliver(testing::make_event("demo.parsed", R"({"a": 1})")));
    h.stop();
    const std::string content = test::read_file(path);
    ASSERT_EQ(content.substr(0, expected.size()), expected) << format;
    EXPECT_NE(expected.find(raw), std::string::npos) << format;
    if (format == "cloudevent") {
      EXPECT_TRUE(expected.ends_with(",\"data\":" + raw + "}\n")) << expected;
    } else {
      EXPECT_EQ(expected, raw + "\n");
    }
    EXPECT_EQ(content.substr(expected.size()).find(R"("type":"demo.parsed")") != std::string::npos, format == "cloudevent");
    EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 2) << content;
  }
}

// The sink renders every line in one buffer it keeps: a long line leaves nothing behind in
// the lines after it, whether their payload is spliced in as received or written from `data`.
TEST(FileSink, LinesAfterALongOneAreTheirOwn) {
  test::TempDir dir;
  const auto path = dir / "out.jsonl";
  Harness h(kFileDecl, R"({"path": ")" + path.string() + R"("})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  std::vector<EventPtr> events;
  events.push_back(testing::make_event("demo.long", R"({"text": ")" + std::string(100'000, 'x') + R"("})"));
  auto raw = testing::make_event("demo.raw", "null");
  raw->set_raw_data(R"({"n":1})");
  raw->set_meta("x-github-delivery", "d-1");
  events.push_back(std::move(raw));
  events.push_back(testing::make_event("demo.short", R"({"b": 2})"));
  std::string expected;
  for (const auto& e : events) append_json_line(*e, LineFormat::cloudevent, false, expected);
  for (auto& e : events) ASSERT_TRUE(h.deliver(std::move(e)));
  h.stop();
  EXPECT_EQ(test::read_file(path), expected);
  EXPECT_EQ(std::count(expected.begin(), expected.end(), '\n'), 3);
}

TEST(FileSink, UnwritableDirectoryFailsAtStartWithThePath) {
  Harness h(kFileDecl, R"({"path": "/nonexistent/dir/out.jsonl"})");
  ASSERT_TRUE(h.configure());
  auto s = h.start();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "cannot open /nonexistent/dir/out.jsonl: No such file or directory");
}

TEST(FileSink, PathIsRequired) {
  Harness h(kFileDecl, "{}");
  EXPECT_EQ(h.option_errors(), std::vector<std::string>{"path: required option is missing"});
}

TEST(StdoutSink, WritesTheEventAsOneLine) {
  Harness h(kStdoutDecl, R"({"format": "data"})");
  ASSERT_TRUE(h.configure());
  ::testing::internal::CaptureStdout();
  auto s = h.deliver(testing::make_event("demo", R"({"hello": "world"})"));
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(s);
  EXPECT_EQ(out, "{\"hello\":\"world\"}\n");
}

}  // namespace
}  // namespace switchyard::core
