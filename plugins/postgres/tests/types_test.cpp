// Values between JSON and PostgreSQL's text format, DSN parsing and error classes: no
// server needed.
#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "pg/dsn.hpp"
#include "pg/error.hpp"
#include "pg/types.hpp"

namespace switchyard::postgres {
namespace {

rapidjson::Document json(const char* text) {
  rapidjson::Document d;
  d.Parse(text);
  return d;
}

ColumnType column(Encoding encoding, int bits = 0) {
  ColumnType c;
  c.name = "c";
  c.encoding = encoding;
  c.bits = bits;
  return c;
}

// The text written for `value`, "NULL" for SQL NULL, "error: ..." when refused.
std::string text(const char* value, const ColumnType& type) {
  auto r = encode(json(value), type);
  if (!r) return "error: " + r.error().message;
  return *r ? **r : "NULL";
}

TEST(PostgresEncode, IntegersFromNumbersAndDigitStringsWithinTheColumnsRange) {
  const auto int4 = column(Encoding::integer, 32);
  EXPECT_EQ(text("42", int4), "42");
  EXPECT_EQ(text("\"-17\"", int4), "-17");
  EXPECT_EQ(text("3.0", int4), "3");
  EXPECT_EQ(text("null", int4), "NULL");
  EXPECT_EQ(text("\"abc\"", int4), "error: expected an integer (32 bits), got \"abc\"");
  EXPECT_EQ(text("2147483648", int4), "error: expected an integer (32 bits), got 2147483648");
  EXPECT_EQ(text("40000", column(Encoding::integer, 16)), "error: expected a smallint (-32768 to 32767), got 40000");
  EXPECT_EQ(text("9007199254740993", column(Encoding::integer, 64)), "9007199254740993");
  EXPECT_EQ(text("1.5", int4), "error: expected an integer (32 bits), got 1.5");
  EXPECT_EQ(text("true", int4), "error: expected an integer (32 bits), got true");
}

TEST(PostgresEncode, NumericAndFloatAcceptNumbersAndNumericStrings) {
  EXPECT_EQ(text("12.5", column(Encoding::numeric)), "12.5");
  EXPECT_EQ(text("\"1e3\"", column(Encoding::numeric)), "1e3");
  EXPECT_EQ(text("\"NaN\"", column(Encoding::numeric)), "NaN");
  EXPECT_EQ(text("\"Infinity\"", column(Encoding::floating)), "Infinity");
  EXPECT_EQ(text("\"12,5\"", column(Encoding::numeric)), "error: expected a number, got \"12,5\"");
}

TEST(PostgresEncode, BooleansFromJsonAndPostgresSpellings) {
  const auto b = column(Encoding::boolean);
  EXPECT_EQ(text("true", b), "true");
  EXPECT_EQ(text("\"YES\"", b), "true");
  EXPECT_EQ(text("0", b), "false");
  EXPECT_EQ(text("\"maybe\"", b), "error: expected a boolean, got \"maybe\"");
}

TEST(PostgresEncode, TimestampsInRfc3339OrUnixSeconds) {
  const auto ts = column(Encoding::timestamp);
  EXPECT_EQ(text("\"2020-01-22T19:33:08Z\"", ts), "2020-01-22T19:33:08Z");
  EXPECT_EQ(text("\"2020-01-22 19:33:08.123+05:30\"", ts), "2020-01-22 19:33:08.123+05:30");
  EXPECT_EQ(text("\"2020-01-22\"", ts), "2020-01-22");
  EXPECT_EQ(text("1579721588", ts), "2020-01-22T19:33:08.000000Z");  // GitHub's pushed_at
  EXPECT_EQ(text("\"infinity\"", ts), "infinity");
  EXPECT_EQ(text("\"yesterday\"", ts),
            "error: expected an RFC 3339 timestamp (2024-05-01T12:00:00Z) or Unix seconds, got \"yesterday\"");
  EXPECT_EQ(text("\"2020-13-01\"", ts).substr(0, 6), "error:");
  EXPECT_EQ(text("1579721588", column(Encoding::date)), "2020-01-22");
}

TEST(PostgresEncode, JsonColumnsTakeAnyValueAndTextColumnsStrings) {
  EXPECT_EQ(text(R"({"a": [1, "x"]})", column(Encoding::json)), R"({"a":[1,"x"]})");
  EXPECT_EQ(text(R"("plain")", column(Encoding::json)), R"("plain")");
  EXPECT_EQ(text(R"("'); DROP TABLE builds; --")", column(Encoding::text)), "'); DROP TABLE builds; --");
  EXPECT_EQ(text("42", column(Encoding::text)), "42");
  EXPECT_EQ(text(R"({"a":1})", column(Encoding::text)), R"({"a":1})");
  EXPECT_EQ(text(R"("a\u0000b")", column(Encoding::text)),
            "error: text holds a NUL character, which PostgreSQL cannot store");
}

TEST(PostgresEncode, UuidsAreChecked) {
  EXPECT_EQ(text(R"("0190a3c6-2b8e-7c1a-9f3e-1234567890ab")", column(Encoding::uuid)), "0190a3c6-2b8e-7c1a-9f3e-1234567890ab");
  EXPECT_EQ(text(R"("not-a-uuid")", column(Encoding::uuid)), R"(error: expected a UUID, got "not-a-uuid")");
}

TEST(PostgresEncode, ListsBecomeArrayLiteralsWithEveryItemChecked) {
  ColumnType labels = column(Encoding::array);
  labels.element = Encoding::text;
  EXPECT_EQ(text(R"(["bug", "a \"quoted\" \\ one", null])", labels), R"({"bug","a \"quoted\" \\ one",NULL})");
  EXPECT_EQ(text("[]", labels), "{}");
  ColumnType ints = column(Encoding::array);
  ints.element = Encoding::integer;
  ints.element_bits = 32;
  EXPECT_EQ(text("[[1, 2], [3, 4]]", ints), R"({{"1","2"},{"3","4"}})");
  EXPECT_EQ(text(R"([1, "x"])", ints), R"(error: expected an integer (32 bits), got "x")");
  EXPECT_EQ(text("7", ints), "error: expected a list, got 7");
  EXPECT_EQ(text(R"("{bug,a\u0000b}")", labels), "error: text holds a NUL character, which PostgreSQL cannot store");
}

TEST(PostgresEncode, EncodingFollowsTheBaseTypeName) {
  int bits = 0;
  EXPECT_EQ(encoding_of("int8", 'N', bits), Encoding::integer);
  EXPECT_EQ(bits, 64);
  EXPECT_EQ(encoding_of("timestamptz", 'D', bits), Encoding::timestamp);
  EXPECT_EQ(encoding_of("varchar", 'S', bits), Encoding::text);
  EXPECT_EQ(encoding_of("_int4", 'A', bits), Encoding::array);
  EXPECT_EQ(encoding_of("inet", 'I', bits), Encoding::passthrough);
}

std::string decoded(const char* text, Oid oid) {
  rapidjson::Document doc;
  decode(text, oid, doc, doc.GetAllocator());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return buffer.GetString();
}

TEST(PostgresDecode, ColumnsBecomeTypedJson) {
  EXPECT_EQ(decoded("t", 16), "true");
  EXPECT_EQ(decoded("9007199254740993", 20), "9007199254740993");
  EXPECT_EQ(decoded("12.50", 1700), "12.5");
  EXPECT_EQ(decoded("340", 1700), "340");
  EXPECT_EQ(decoded("NaN", 1700), R"("NaN")");
  EXPECT_EQ(decoded(R"({"a": [1, 2]})", 3802), R"({"a":[1,2]})");
  EXPECT_EQ(decoded("2024-05-01 12:34:56.5+00", 1184), R"("2024-05-01T12:34:56.5Z")");
  EXPECT_EQ(decoded("2024-05-01 12:34:56+05:30", 1184), R"("2024-05-01T12:34:56+05:30")");
  EXPECT_EQ(decoded("2024-05-01 12:34:56", 1114), R"("2024-05-01T12:34:56")");
  EXPECT_EQ(decoded("192.168.0.1", 869), R"("192.168.0.1")");
}

TEST(PostgresDecode, ArraysBecomeLists) {
  EXPECT_EQ(decoded("{1,2,NULL}", 1007), "[1,2,null]");
  EXPECT_EQ(decoded(R"({"a b","c\"d",NULL,"NULL"})", 1009), R"(["a b","c\"d",null,"NULL"])");
  EXPECT_EQ(decoded("{{1,2},{3,4}}", 1007), "[[1,2],[3,4]]");
  EXPECT_EQ(decoded("[0:1]={t,f}", 1000), "[true,false]");
  EXPECT_EQ(decoded("{}", 1009), "[]");
  EXPECT_EQ(decoded("{broken", 1007), R"("{broken")");
  // PostgreSQL has at most 6 dimensions; deeper text is not an array it wrote.
  EXPECT_EQ(decoded("{{{{{{1}}}}}}", 1007), "[[[[[[1]]]]]]");
  EXPECT_EQ(decoded("{{{{{{{1}}}}}}}", 1007), R"("{{{{{{{1}}}}}}}")");
}

TEST(PostgresDecode, JsonNestedTooDeeplyStaysAString) {
  // 128 levels is a value; 100,000 would overflow the stack parsing or serialising it.
  const std::string ok = std::string(128, '[') + std::string(128, ']');
  EXPECT_EQ(decoded(ok.c_str(), 3802), ok);
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(decoded(deep.c_str(), 114), "\"" + deep + "\"");
  // Brackets inside strings do not count.
  const std::string text = R"({"a": ")" + std::string(1000, '[') + R"(\"]"})";
  EXPECT_EQ(decoded(text.c_str(), 3802), R"({"a":")" + std::string(1000, '[') + R"(\"]"})");
}

TEST(PostgresDsn, KeywordStringsAndUrlsParseWithoutShowingThePassword) {
  auto t = parse_dsn("host=db.internal port=6432 dbname=ci user=sy password=hunter2 sslmode=verify-full", "", "switchyard");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->description, "db.internal:6432/ci");
  EXPECT_TRUE(t->needs_resolution);
  EXPECT_TRUE(verifies_certificate(*t));
  EXPECT_FALSE(is_local(*t));
  auto url = parse_dsn("postgresql://sy:hunter2@127.0.0.1/ci", "/etc/ca.pem", "switchyard");
  ASSERT_TRUE(url);
  EXPECT_FALSE(url->needs_resolution);
  EXPECT_EQ(url->sslmode, "verify-full") << "ca_file without sslmode means verify-full";
  EXPECT_TRUE(is_local(*url));
  for (const char* bad : {"host=db password='hunter2", "postgresql://sy:hunter2@db/ci?bogus=1 x", "nonsense hunter2"}) {
    auto r = parse_dsn(bad, "", "switchyard");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_config);
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
  }
}

TEST(PostgresErrors, RetryableClassesAreTheOnesARetryCanFix) {
  auto with = [](const char* state) { return PgError{.sqlstate = state, .message = "m"}; };
  for (const char* s : {"40001", "40P01", "53300", "57P01", "57P02", "57P03", "08006", "55P03", "25006"}) {
    EXPECT_TRUE(is_retryable(with(s))) << s;
  }
  for (const char* s : {"23505", "23502", "22P02", "42501", "42P01", "42601", "08P01"}) {
    EXPECT_FALSE(is_retryable(with(s))) << s;
  }
  EXPECT_TRUE(is_retryable(PgError{.message = "server closed the connection", .connection_lost = true}));
  PgError unique{.sqlstate = "23505", .message = "duplicate key value violates unique constraint \"t_pkey\"",
                 .detail = "Key (id)=(1) already exists.", .constraint = "t_pkey"};
  EXPECT_EQ(describe(unique), "23505 unique_violation: duplicate key value violates unique constraint \"t_pkey\" "
                              "(constraint t_pkey; Key (id)=(1) already exists.)");
  EXPECT_EQ(to_error(unique, "row rejected").kind, ErrorKind::permanent);
}

}  // namespace
}  // namespace switchyard::postgres
