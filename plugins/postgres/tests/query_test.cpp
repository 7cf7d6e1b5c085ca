// postgres.query against a real server: rows attached to events as typed JSON.
#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <mutex>

#include "query/query.hpp"
#include "server_fixture.hpp"

namespace switchyard::postgres {
namespace {

using switchyard::test::PostgresServer;
using switchyard::test::run_until;
using switchyard::test::shared_server;
using testing::Harness;
using testing::make_event;

std::string json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

// Runs the transform on `event` in real time; the verdict, or an error.
Result<Verdict> process(Harness& h, Event& event, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::mutex mutex;
  std::optional<Result<Verdict>> outcome;
  h.component<PostgresQuery>().process(event, [&](Result<Verdict> v) {
    std::lock_guard lock(mutex);
    outcome = std::move(v);
  });
  const bool decided = run_until(h, [&] {
    std::lock_guard lock(mutex);
    return outcome.has_value();
  }, limit);
  std::lock_guard lock(mutex);
  if (!decided) return retryable("the transform did not call back");
  return std::move(*outcome);
}

std::string options(const PostgresServer& pg, const std::string& rest) {
  return "{" + switchyard::test::dsn_json(pg) + ", " + rest + "}";
}

class PostgresQueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& pg = shared_server();
    pg.execute("CREATE TABLE contributors (login text primary key, xp bigint, ratio numeric, active boolean, "
               "badges text[], profile jsonb, seen timestamptz, note text)");
    pg.execute("INSERT INTO contributors VALUES ('mona', 340, 0.75, true, '{First PR,\"Code Warrior\"}', "
               "'{\"streak\": 7}', '2024-05-01 12:00:00+00', NULL), ('hubot', 12, 1, false, '{}', NULL, NULL, 'bot')");
  }
};

TEST_F(PostgresQueryTest, AttachesTheRowsAsTypedJson) {
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "SELECT * FROM contributors WHERE login = $1",
                                     "params": ["${{ payload.data.options[0].value }}"])"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("discord.command.stats", R"({"data": {"options": [{"name": "user", "value": "mona"}]}})");
  auto verdict = process(h, *event);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_EQ(*verdict, Verdict::keep);
  EXPECT_EQ(json(event->meta["rows"]),
            R"([{"login":"mona","xp":340,"ratio":0.75,"active":true,"badges":["First PR","Code Warrior"],)"
            R"("profile":{"streak":7},"seen":"2024-05-01T12:00:00Z","note":null}])");
  h.stop();
}

TEST_F(PostgresQueryTest, RowsGoWhereIntoSaysAndAnEmptyResultKeepsOrDrops) {
  auto& pg = shared_server();
  Harness keep(kQueryDecl, options(pg, R"("query": "SELECT login, xp FROM contributors WHERE xp > $1::int ORDER BY xp",
                                        "params": ["${{ payload.min }}"], "into": "payload.stats.top")"));
  ASSERT_TRUE(keep.configure());
  ASSERT_TRUE(keep.start());
  auto event = make_event("t", R"({"min": 10, "stats": {"asked": true}})");
  ASSERT_TRUE(process(keep, *event));
  EXPECT_EQ(json(event->data), R"({"min":10,"stats":{"asked":true,"top":[{"login":"hubot","xp":12},{"login":"mona","xp":340}]}})");
  auto none = make_event("t", R"({"min": 100000})");
  auto verdict = process(keep, *none);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(*verdict, Verdict::keep);
  EXPECT_EQ(json(none->data), R"({"min":100000,"stats":{"top":[]}})");
  keep.stop();

  Harness drop(kQueryDecl, options(pg, R"("query": "SELECT 1 FROM contributors WHERE login = $1",
                                        "params": ["${{ payload.who }}"], "on_empty": "drop")"));
  ASSERT_TRUE(drop.configure());
  ASSERT_TRUE(drop.start());
  auto nobody = make_event("t", R"({"who": "nobody"})");
  verdict = process(drop, *nobody);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(*verdict, Verdict::drop);
  auto mona = make_event("t", R"({"who": "mona"})");
  verdict = process(drop, *mona);
  ASSERT_TRUE(verdict);
  EXPECT_EQ(*verdict, Verdict::keep);
  drop.stop();
}

TEST_F(PostgresQueryTest, AQueryPastItsTimeoutFailsTheEventAndTheSessionServesTheNext) {
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "SELECT pg_sleep($1::float8) AS slept", "params": ["${{ payload.s }}"],
                                     "timeout": "300ms", "pool_size": 1)"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto slow = make_event("t", R"({"s": 5})");
  const auto started = std::chrono::steady_clock::now();
  auto verdict = process(h, *slow);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::retryable);
  EXPECT_NE(verdict.error().message.find("no rows within 300ms"), std::string::npos) << verdict.error().message;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_FALSE(slow->meta.HasMember("rows"));
  EXPECT_EQ(h.metrics().value("switchyard_postgres_query_timeouts_total"), 1);
  auto quick = make_event("t", R"({"s": 0})");
  verdict = process(h, *quick);
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_EQ(json(quick->meta["rows"]), R"([{"slept":""}])");
  h.stop();
}

TEST_F(PostgresQueryTest, ReadOnlyByDefaultSoAWritingQueryFails) {
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "UPDATE contributors SET xp = 0 WHERE login = $1 RETURNING login",
                                     "params": ["mona"])"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("t", "{}");
  auto verdict = process(h, *event);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::permanent);
  EXPECT_NE(verdict.error().message.find("read_only is true"), std::string::npos) << verdict.error().message;
  EXPECT_EQ(pg.scalar("SELECT xp FROM contributors WHERE login = 'mona'"), "340");
  h.stop();
}

TEST_F(PostgresQueryTest, ParametersAreBoundSoSqlInACommandIsJustAValue) {
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "SELECT count(*) AS n FROM contributors WHERE login = $1",
                                     "params": ["${{ payload.user }}"])"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("t", R"({"user": "x' OR '1'='1"})");
  ASSERT_TRUE(process(h, *event));
  EXPECT_EQ(json(event->meta["rows"]), R"([{"n":0}])");
  h.stop();
}

TEST_F(PostgresQueryTest, AParameterWithANulFailsTheEventInsteadOfBeingCutShort) {
  // libpq reads values as C strings: "admin\0" + "@corp" would have been looked up as "admin".
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "SELECT count(*) AS n FROM contributors WHERE login = $1",
                                     "params": ["${{ payload.user }}@corp"])"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("t", R"({"user": "admin\u0000"})");
  auto verdict = process(h, *event);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::permanent);
  EXPECT_NE(verdict.error().message.find("params[0]: the value holds a NUL"), std::string::npos) << verdict.error().message;
  h.stop();
}

TEST_F(PostgresQueryTest, AWrongParameterCountOrASyntaxErrorIsReportedAtStartAndFailsEvents) {
  auto& pg = shared_server();
  Harness count(kQueryDecl, options(pg, R"("query": "SELECT $1::text, $2::text", "params": ["a"])"));
  ASSERT_TRUE(count.configure());
  ASSERT_TRUE(count.start());
  ASSERT_TRUE(run_until(count, [&] { return count.logs().contains("takes 2 parameter(s) but params lists 1", LogLevel::error); }));
  auto event = make_event("t", "{}");
  auto verdict = process(count, *event);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::permanent);
  count.stop();

  Harness syntax(kQueryDecl, options(pg, R"("query": "SELEC login FROM contributors")"));
  ASSERT_TRUE(syntax.configure());
  ASSERT_TRUE(syntax.start());
  ASSERT_TRUE(run_until(syntax, [&] { return syntax.logs().contains("42601 syntax_error", LogLevel::error); }));
  syntax.stop();
}

TEST_F(PostgresQueryTest, AFailingQueryFailsTheEventOrWithOnErrorKeepLeavesNullForTheReply) {
  auto& pg = shared_server();
  for (const char* on_error : {"fail", "keep"}) {
    Harness h(kQueryDecl, options(pg, std::string(R"("query": "SELECT 1 / $1::int AS x", "params": ["${{ payload.d }}"], "on_error": ")") +
                                          on_error + "\""));
    ASSERT_TRUE(h.configure());
    ASSERT_TRUE(h.start());
    auto event = make_event("t", R"({"d": 0})");
    auto verdict = process(h, *event);
    if (std::string(on_error) == "fail") {
      ASSERT_FALSE(verdict);
      EXPECT_EQ(verdict.error().kind, ErrorKind::permanent);
      EXPECT_NE(verdict.error().message.find("22012"), std::string::npos) << verdict.error().message;
    } else {
      ASSERT_TRUE(verdict) << verdict.error().message;
      EXPECT_EQ(*verdict, Verdict::keep);
      ASSERT_TRUE(event->meta.HasMember("rows"));
      EXPECT_TRUE(event->meta["rows"].IsNull());
      EXPECT_TRUE(h.logs().contains("kept without rows (on_error: keep)", LogLevel::warn));
    }
    h.stop();
  }
}

TEST_F(PostgresQueryTest, MaxRowsCapsWhatIsAttached) {
  auto& pg = shared_server();
  Harness h(kQueryDecl, options(pg, R"("query": "SELECT g FROM generate_series(1, 5000) g", "max_rows": 3)"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto event = make_event("t", "{}");
  ASSERT_TRUE(process(h, *event));
  EXPECT_EQ(json(event->meta["rows"]), R"([{"g":1},{"g":2},{"g":3}])");
  h.stop();
}

}  // namespace
}  // namespace switchyard::postgres
