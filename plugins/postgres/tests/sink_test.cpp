// The postgres sink against a real server: rows read back with libpq.
#include <gtest/gtest.h>

#include "server_fixture.hpp"
#include "sink/settings.hpp"
#include "sink/sink.hpp"

namespace switchyard::postgres {
namespace {

using switchyard::test::PostgresServer;
using switchyard::test::run_until;
using switchyard::test::shared_server;
using testing::Harness;
using testing::make_event;

// Hands every event to the sink at once, as the engine does with `concurrency` slots, and
// waits for each outcome.
std::vector<Status> deliver_all(Harness& h, const std::vector<std::string>& payloads) {
  auto outcomes = std::make_shared<std::vector<std::optional<Status>>>(payloads.size());
  auto& sink = h.component<PostgresSink>();
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    sink.deliver(EventPtr(make_event("test", payloads[i])), [outcomes, i](Status s) { (*outcomes)[i] = std::move(s); });
  }
  const bool all = run_until(h, [&] {
    return std::all_of(outcomes->begin(), outcomes->end(), [](const auto& o) { return o.has_value(); });
  });
  EXPECT_TRUE(all) << "not every delivery reported back";
  std::vector<Status> out;
  for (auto& o : *outcomes) out.push_back(o.value_or(Status(retryable("no outcome"))));
  return out;
}

std::string options(const PostgresServer& pg, const std::string& rest) {
  return "{" + switchyard::test::dsn_json(pg) + ", " + rest + "}";
}

TEST(PostgresSink, StoresEachEventAsARowWithTheColumnsTypes) {
  auto& pg = shared_server();
  Harness h(kSinkDecl, options(pg, R"j(
    "table": "typed_rows",
    "create_table": {"id": "bigint primary key", "status": "text", "started_at": "timestamptz",
                     "labels": "text[]", "raw": "jsonb", "ok": "boolean", "cost": "numeric(10,2)", "pushed": "date"},
    "columns": {"id": "${{ payload.id }}", "status": "${{ payload.status }}", "started_at": "${{ payload.at }}",
                "labels": "${{ payload.labels }}", "raw": "${{ payload.raw }}", "ok": "${{ payload.ok }}",
                "cost": "${{ payload.cost }}", "pushed": "${{ payload.pushed }}"})j"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto outcomes = deliver_all(h, {
      R"({"id": 1, "status": "success", "at": "2020-01-22T19:33:08Z", "labels": ["ci", "a \"b\""],
          "raw": {"run": {"id": 1}}, "ok": true, "cost": "12.50", "pushed": 1579721588})",
      R"({"id": "2", "status": null, "at": "2020-01-22T20:00:00+01:00", "labels": [], "raw": [1, 2],
          "ok": "false", "cost": 3, "pushed": "2020-01-23"})",
  });
  for (const auto& s : outcomes) EXPECT_TRUE(s) << s.error().message;
  auto rows = pg.query("SELECT id, status, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), labels, "
                       "raw->'run'->>'id', ok, cost, pushed FROM typed_rows ORDER BY id");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (PostgresServer::Row{"1", "success", "2020-01-22 19:33", R"({ci,"a \"b\""})", "1", "t", "12.50", "2020-01-22"}));
  EXPECT_EQ(rows[1], (PostgresServer::Row{"2", std::nullopt, "2020-01-22 19:00", "{}", std::nullopt, "f", "3.00", "2020-01-23"}));
  h.stop();
}

TEST(PostgresSink, AValueThatDoesNotFitFailsItsEventNamingTheColumnAndTheBatchLands) {
  auto& pg = shared_server();
  pg.execute("CREATE TABLE fit (n int, name text)");
  Harness h(kSinkDecl, options(pg, R"("table": "fit", "columns": {"n": "${{ payload.n }}", "name": "${{ payload.name }}"})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto outcomes = deliver_all(h, {R"({"n": 1, "name": "a"})", R"({"n": "abc", "name": "b"})", R"({"n": 3, "name": "c"})"});
  EXPECT_TRUE(outcomes[0]);
  ASSERT_FALSE(outcomes[1]);
  EXPECT_EQ(outcomes[1].error().kind, ErrorKind::permanent);
  EXPECT_EQ(outcomes[1].error().message, "column n (integer): expected an integer (32 bits), got \"abc\"");
  EXPECT_TRUE(outcomes[2]);
  EXPECT_EQ(pg.scalar("SELECT string_agg(name, ',' ORDER BY n) FROM fit"), "a,c");
  EXPECT_EQ(h.metrics().observations("switchyard_postgres_batch_rows"), std::vector<double>{2}) << "one transaction";
  h.stop();
}

TEST(PostgresSink, AnEventWaitsMaxDelayForABatchOnlyWhenMoreCouldStillCome) {
  auto& pg = shared_server();
  Harness h(kSinkDecl, options(pg, R"("table": "delays", "create_table": {"n": "int"}, "columns": {"n": "${{ payload.n }}"},
                                      "batch": {"max_rows": 100, "max_delay": "400ms"})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  using Clock = std::chrono::steady_clock;
  // One event at a time (the engine's concurrency 1): nothing else can come, none waits.
  auto started = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(deliver_all(h, {R"({"n": 1})"})[0]);
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(400)) << "three events, no max_delay spent";
  // Once the engine has handed it three at once, a lone event waits for company.
  for (auto& s : deliver_all(h, {R"({"n": 2})", R"({"n": 2})", R"({"n": 2})"})) EXPECT_TRUE(s);
  started = Clock::now();
  EXPECT_TRUE(deliver_all(h, {R"({"n": 3})"})[0]);
  EXPECT_GE(Clock::now() - started, std::chrono::milliseconds(400));
  EXPECT_EQ(pg.scalar("SELECT count(*) FROM delays"), "7");
  h.stop();
}

TEST(PostgresSink, ARowTheServerRejectsIsRetriedAloneWithPostgresReasonAndTheOthersLand) {
  auto& pg = shared_server();
  pg.execute("CREATE TABLE strict (id int primary key, status text NOT NULL, addr inet)");
  pg.execute("INSERT INTO strict VALUES (7, 'old', NULL)");
  Harness h(kSinkDecl, options(pg, R"("table": "strict", "columns": {"id": "${{ payload.id }}",
      "status": "${{ payload.status }}", "addr": "${{ payload.addr }}"})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  auto outcomes = deliver_all(h, {
      R"({"id": 1, "status": "ok"})", R"({"id": 2, "status": null})", R"({"id": 3, "status": "ok"})",
      R"({"id": 7, "status": "dup"})", R"({"id": 4, "status": "ok", "addr": "not-an-address"})",
      R"({"id": 5, "status": "ok", "addr": "10.0.0.1"})"});
  EXPECT_TRUE(outcomes[0] && outcomes[2] && outcomes[5]);
  ASSERT_FALSE(outcomes[1]);
  EXPECT_EQ(outcomes[1].error().kind, ErrorKind::permanent);
  EXPECT_NE(outcomes[1].error().message.find("23502 not_null_violation"), std::string::npos) << outcomes[1].error().message;
  EXPECT_NE(outcomes[1].error().message.find("column status"), std::string::npos) << outcomes[1].error().message;
  ASSERT_FALSE(outcomes[3]);
  EXPECT_NE(outcomes[3].error().message.find("23505 unique_violation"), std::string::npos);
  EXPECT_NE(outcomes[3].error().message.find("constraint strict_pkey"), std::string::npos) << outcomes[3].error().message;
  ASSERT_FALSE(outcomes[4]);
  EXPECT_NE(outcomes[4].error().message.find("22P02"), std::string::npos) << outcomes[4].error().message;
  EXPECT_NE(outcomes[4].error().message.find("column addr"), std::string::npos) << outcomes[4].error().message;
  EXPECT_EQ(pg.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM strict"), "1,3,5,7");
  EXPECT_EQ(h.metrics().value("switchyard_postgres_row_retries_total"), 1);
  h.stop();
}

TEST(PostgresSink, UpsertsIncrementCountersWithAnExpressionOverExcluded) {
  auto& pg = shared_server();
  Harness h(kSinkDecl, options(pg, R"(
    "table": "public.author_stats",
    "create_table": {"author": "text primary key", "commits": "int NOT NULL", "last_sha": "text"},
    "columns": {"author": "${{ payload.author }}", "commits": "${{ payload.n }}", "last_sha": "${{ payload.sha }}"},
    "on_conflict": {"columns": ["author"], "update": {"commits": "author_stats.commits + excluded.commits",
                                                      "last_sha": "excluded.last_sha"}})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  for (const char* p : {R"({"author": "mona", "n": 2, "sha": "a1"})", R"({"author": "hubot", "n": 1, "sha": "b1"})"}) {
    for (auto& s : deliver_all(h, {p})) EXPECT_TRUE(s) << s.error().message;
  }
  for (auto& s : deliver_all(h, {R"({"author": "mona", "n": 3, "sha": "a2"})"})) EXPECT_TRUE(s);
  auto rows = pg.query("SELECT author, commits, last_sha FROM author_stats ORDER BY author");
  EXPECT_EQ(rows, (std::vector<PostgresServer::Row>{{"hubot", "1", "b1"}, {"mona", "5", "a2"}}));
  h.stop();
}

TEST(PostgresSink, ValuesAreBoundNeverSplicedSoSqlInEventsIsJustText) {
  auto& pg = shared_server();
  Harness h(kSinkDecl, options(pg, R"("table": "commits_injection",
    "create_table": {"sha": "text", "message": "text"},
    "columns": {"sha": "${{ payload.sha }}", "message": "${{ payload.message }}"})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  const std::string evil = R"('); DROP TABLE commits_injection; --)";
  for (auto& s : deliver_all(h, {R"({"sha": "abc", "message": "'); DROP TABLE commits_injection; --"})"})) {
    EXPECT_TRUE(s) << s.error().message;
  }
  EXPECT_EQ(pg.scalar("SELECT message FROM commits_injection"), evil);
  h.stop();
}

TEST(PostgresSink, AMissingTableIsRetryableAndAMissingColumnPermanentBothNamed) {
  auto& pg = shared_server();
  Harness missing(kSinkDecl, options(pg, R"("table": "no_such_table", "columns": {"a": "x"})"));
  ASSERT_TRUE(missing.configure());
  ASSERT_TRUE(missing.start());
  auto outcome = deliver_all(missing, {R"({})"})[0];
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, ErrorKind::retryable);
  EXPECT_NE(outcome.error().message.find("table \"no_such_table\" does not exist"), std::string::npos) << outcome.error().message;
  EXPECT_TRUE(missing.logs().contains("does not exist", LogLevel::warn));
  missing.stop();

  pg.execute("CREATE TABLE narrow (a text)");
  Harness wide(kSinkDecl, options(pg, R"("table": "narrow", "columns": {"a": "x", "b": "y"})"));
  ASSERT_TRUE(wide.configure());
  ASSERT_TRUE(wide.start());
  outcome = deliver_all(wide, {R"({})"})[0];
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, ErrorKind::permanent);
  EXPECT_NE(outcome.error().message.find("table \"narrow\" has no column b (it has a)"), std::string::npos) << outcome.error().message;
  wide.stop();
}

TEST(PostgresSink, AServerThatIsDownFailsRetryablyWithAWaitAndTheSinkReconnectsWhenItIsBack) {
  PostgresServer pg;  // its own: this one is stopped
  Harness h(kSinkDecl, options(pg, R"("table": "outage", "create_table": {"n": "int"}, "columns": {"n": "${{ payload.n }}"})"));
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  for (auto& s : deliver_all(h, {R"({"n": 1})"})) EXPECT_TRUE(s);
  pg.stop();
  ASSERT_TRUE(run_until(h, [&] { return h.logs().contains("lost while idle", LogLevel::warn); }))
      << "an idle session notices the shutdown";
  auto down = deliver_all(h, {R"({"n": 2})"})[0];
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::retryable);
  EXPECT_NE(down.error().message.find("127.0.0.1:" + std::to_string(pg.port())), std::string::npos) << down.error().message;
  auto backing_off = deliver_all(h, {R"({"n": 2})"})[0];
  ASSERT_FALSE(backing_off);
  EXPECT_TRUE(backing_off.error().retry_after.has_value()) << "while the pool backs off, the wait is passed on";
  pg.start();
  // As the engine does: try again after the wait the error asks for.
  Status back = backing_off;
  for (int attempt = 0; attempt < 50 && !back; ++attempt) {
    run_until(h, [] { return false; }, back.error().retry_after.value_or(std::chrono::milliseconds(100)));
    back = deliver_all(h, {R"({"n": 2})"})[0];
  }
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(pg.scalar("SELECT string_agg(n::text, ',' ORDER BY n) FROM outage"), "1,2");
  EXPECT_TRUE(h.logs().contains("again after", LogLevel::info));
  h.stop();
}

}  // namespace
}  // namespace switchyard::postgres
