// Option checks of the sink and the query transform, at configure (no server needed).
#include <gtest/gtest.h>

#include "query/query.hpp"
#include "sink/settings.hpp"
#include "switchyard/testing.hpp"

namespace switchyard::postgres {
namespace {

using testing::Harness;

constexpr const char* kDsn = R"("dsn": "postgresql://sy:hunter2@db.internal/ci?sslmode=verify-full")";

std::string configure_error(const ComponentDecl& decl, const std::string& rest) {
  Harness h(decl, std::string("{") + kDsn + ", " + rest + "}");
  Status s = h.configure();
  if (s) return "ok";
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_config);
  EXPECT_EQ(s.error().message.find("hunter2"), std::string::npos) << "the DSN is a secret";
  return s.error().message;
}

TEST(PostgresSinkConfig, TableColumnsAndUpsertsAreCheckedAtLoad) {
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "ci.builds", "columns": {"id": "1"})"), "ok");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "a.b.c", "columns": {"id": "1"})"),
            "table: expected table or schema.table, names of 1 to 63 bytes");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {})"), "columns: map at least one column to a value");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"}, "on_conflict": {"update": ["id"]})"),
            "on_conflict.columns: required to update on conflict");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"},
                                          "on_conflict": {"columns": ["id"], "update": ["status"]})"),
            "on_conflict.update: each listed column must be one of columns");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"}, "on_conflict": {"columns": ["sha"]})"),
            "on_conflict.columns: 'sha' is not one of columns");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"}, "on_conflict": {"columns": ["id"], "update": 5})"),
            "on_conflict.update: expected a list of columns, a map of column to expression, or nothing");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"}, "batch": {"max_rows": 0}, "pool_size": 100)"),
            "batch.max_rows: expected 1 to 10000; pool_size: expected 1 to 64");
  EXPECT_EQ(configure_error(kSinkDecl, R"("table": "t", "columns": {"id": "1"}, "on_conflict": {"columns": ["id"], "update": "nothing"})"), "ok");
}

TEST(PostgresSinkConfig, ABrokenDsnIsRefusedWithoutQuotingIt) {
  Harness h(kSinkDecl, R"({"dsn": "host=db password='hunter2", "table": "t", "columns": {"id": "1"}})");
  Status s = h.configure();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "dsn: not a libpq connection string or postgresql:// URL");
}

TEST(PostgresQueryConfig, IntoMustNameAPlaceUnderMetaOrPayload) {
  EXPECT_EQ(configure_error(kQueryDecl, R"("query": "SELECT 1")"), "ok");
  EXPECT_EQ(configure_error(kQueryDecl, R"("query": "SELECT 1", "into": "rows")"),
            "into: expected meta.<name> or payload.<name>[.<name>...]");
  EXPECT_EQ(configure_error(kQueryDecl, R"("query": "SELECT 1", "into": "payload..x")"),
            "into: expected meta.<name> or payload.<name>[.<name>...]");
  EXPECT_EQ(configure_error(kQueryDecl, R"("query": " ", "timeout": "0")"), "query: must not be empty; timeout: must be more than 0");
  EXPECT_NE(configure_error(kQueryDecl, R"("query": "SELECT 1", "on_empty": "skip")").find("expected one of keep, drop"),
            std::string::npos);
}

TEST(PostgresSinkConfig, AWarningSaysWhenTheCertificateIsNotChecked) {
  Harness h(kSinkDecl, R"({"dsn": "host=192.0.2.1 dbname=ci", "table": "t", "columns": {"id": "1"}})");
  ASSERT_TRUE(h.configure());
  ASSERT_TRUE(h.start());
  EXPECT_TRUE(h.logs().contains("sslmode is prefer (the default), so the server's certificate is not checked; use sslmode=verify-full",
                                LogLevel::warn));
  h.stop();
}

}  // namespace
}  // namespace switchyard::postgres

namespace switchyard::postgres {
namespace {

// Sink::render: the INSERT and its parameters, with no server to ask.
TEST(PostgresSinkRender, RendersTheInsertAndItsParametersWithoutConnecting) {
  Harness h(kSinkDecl, std::string("{") + kDsn + R"(, "table": "ci.builds",
    "columns": {"external_id": "${{ payload.id }}", "status": "${{ payload.status }}", "pr": "${{ payload.pr }}",
                "labels": "${{ payload.labels }}"},
    "on_conflict": {"columns": ["external_id"], "update": ["status"]}})");
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*testing::make_event("ci.build", R"({"id": 7, "status": "failure", "pr": null,
                                                                 "labels": ["a", "b"]})"));
  ASSERT_TRUE(rendered) << rendered.error().message;
  ASSERT_TRUE(rendered->has_value());
  const Rendering& r = **rendered;
  EXPECT_EQ(r.method, "SQL");
  EXPECT_EQ(r.url, "postgresql://db.internal:5432/ci") << "the server, never the password";
  EXPECT_EQ(r.body, R"(INSERT INTO "ci"."builds" ("external_id", "status", "pr", "labels") VALUES ($1, $2, $3, $4) )"
                    R"(ON CONFLICT ("external_id") DO UPDATE SET "status" = EXCLUDED."status")");
  EXPECT_EQ(r.headers.get("$1"), std::optional<std::string_view>("7"));
  EXPECT_EQ(r.headers.get("$2"), std::optional<std::string_view>("failure"));
  EXPECT_FALSE(r.headers.get("$3")) << "NULL: no value";
  EXPECT_EQ(r.headers.get("$4"), std::optional<std::string_view>(R"(["a","b"])"));
}

TEST(PostgresSinkRender, AValueThatCannotBeWrittenFailsAsDeliverWould) {
  Harness h(kSinkDecl, std::string("{") + kDsn + R"(, "table": "t", "columns": {"name": "${{ payload.name }}"}})");
  ASSERT_TRUE(h.configure());
  auto rendered = h.render(*testing::make_event("x", R"({"name": "a\u0000b"})"));
  ASSERT_FALSE(rendered);
  EXPECT_EQ(rendered.error().kind, ErrorKind::permanent);
  EXPECT_NE(rendered.error().message.find("column name (text)"), std::string::npos) << rendered.error().message;
}

}  // namespace
}  // namespace switchyard::postgres
