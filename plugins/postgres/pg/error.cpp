#include "pg/error.hpp"

#include <array>
#include <utility>

namespace switchyard::postgres {
namespace {

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value != nullptr ? std::string(value) : std::string();
}

// libpq's messages end with a newline and may span lines ("...\nDETAIL: ..."): one line.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 36> kNames = {{
    {"08000", "connection_exception"}, {"08003", "connection_does_not_exist"},
    {"08006", "connection_failure"}, {"08001", "sqlclient_unable_to_establish_sqlconnection"},
    {"08004", "sqlserver_rejected_establishment_of_sqlconnection"},
    {"0A000", "feature_not_supported"}, {"21000", "cardinality_violation"},
    {"22001", "string_data_right_truncation"}, {"22003", "numeric_value_out_of_range"},
    {"22007", "invalid_datetime_format"}, {"22008", "datetime_field_overflow"},
    {"22021", "character_not_in_repertoire"}, {"22P02", "invalid_text_representation"},
    {"23502", "not_null_violation"}, {"23503", "foreign_key_violation"},
    {"23505", "unique_violation"}, {"23514", "check_violation"}, {"23P01", "exclusion_violation"},
    {"25006", "read_only_sql_transaction"}, {"28000", "invalid_authorization_specification"},
    {"28P01", "invalid_password"}, {"3D000", "invalid_catalog_name"},
    {"40001", "serialization_failure"}, {"40P01", "deadlock_detected"},
    {"42501", "insufficient_privilege"}, {"42601", "syntax_error"}, {"42703", "undefined_column"},
    {"42804", "datatype_mismatch"}, {"42P01", "undefined_table"},
    {"42P10", "invalid_column_reference"}, {"53300", "too_many_connections"},
    {"55P03", "lock_not_available"}, {"57014", "query_canceled"}, {"57P01", "admin_shutdown"},
    {"57P02", "crash_shutdown"}, {"57P03", "cannot_connect_now"},
}};

}  // namespace

PgError error_of(const PGresult* result) {
  PgError e;
  if (result == nullptr) {
    e.message = "no result";
    e.connection_lost = true;
    return e;
  }
  e.sqlstate = field(result, PG_DIAG_SQLSTATE);
  e.message = one_line(field(result, PG_DIAG_MESSAGE_PRIMARY));
  if (e.message.empty()) e.message = one_line(PQresultErrorMessage(result));
  e.detail = one_line(field(result, PG_DIAG_MESSAGE_DETAIL));
  e.hint = one_line(field(result, PG_DIAG_MESSAGE_HINT));
  e.column = field(result, PG_DIAG_COLUMN_NAME);
  e.constraint = field(result, PG_DIAG_CONSTRAINT_NAME);
  e.table = field(result, PG_DIAG_TABLE_NAME);
  e.datatype = field(result, PG_DIAG_DATATYPE_NAME);
  // libpq reports a lost connection as a result without SQLSTATE ("server closed the
  // connection unexpectedly").
  e.connection_lost = e.sqlstate.empty();
  return e;
}

PgError connection_error(const PGconn* conn, std::string_view what) {
  PgError e;
  std::string reason = conn != nullptr ? one_line(PQerrorMessage(conn)) : std::string();
  e.message = std::string(what) + (reason.empty() ? "" : ": " + reason);
  e.connection_lost = true;
  return e;
}

bool is_retryable(const PgError& e) {
  if (e.connection_lost) return true;
  const std::string_view s = e.sqlstate;
  if (s.size() != 5) return false;
  const std::string_view cls = s.substr(0, 2);
  return (cls == "08" && s != "08P01") || cls == "53" || s == "40001" || s == "40P01" || s.starts_with("57P") ||
         s == "57014" || s == "55P03" || s == "58030" || s == "25006";
}

bool is_schema_change(const PgError& e) {
  return e.sqlstate == "42P01" || e.sqlstate == "42703" || e.sqlstate == "42804" ||
         e.sqlstate == "0A000";  // "cached plan must not change result type"
}

std::string_view condition_name(std::string_view sqlstate) {
  for (const auto& [code, name] : kNames) {
    if (code == sqlstate) return name;
  }
  return {};
}

std::string describe(const PgError& e, bool with_detail) {
  std::string out;
  if (!e.sqlstate.empty()) {
    out += e.sqlstate;
    if (auto name = condition_name(e.sqlstate); !name.empty()) out.append(" ").append(name);
    out += ": ";
  }
  out += e.message;
  std::string extra;
  auto add = [&](std::string_view label, const std::string& value) {
    if (value.empty()) return;
    if (!extra.empty()) extra += "; ";
    extra.append(label).append(value);
  };
  add("column ", e.column);
  add("constraint ", e.constraint);
  if (with_detail) add("", e.detail);
  add("hint: ", e.hint);
  if (!extra.empty()) out += " (" + extra + ")";
  return out;
}

Error to_error(const PgError& e, std::string_view context) {
  std::string message(context);
  if (!message.empty()) message += ": ";
  message += describe(e);
  return is_retryable(e) ? retryable(std::move(message)) : permanent(std::move(message));
}

}  // namespace switchyard::postgres
