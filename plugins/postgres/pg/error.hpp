#pragma once
// PostgreSQL's errors as the engine needs them: the SQLSTATE and the fields PostgreSQL
// fills (column, constraint, detail), and which of them a retry can fix.
// https://www.postgresql.org/docs/15/errcodes-appendix.html

#include <libpq-fe.h>

#include <string>
#include <string_view>

#include "switchyard/result.hpp"

namespace switchyard::postgres {

/// A failure reported by the server (with its SQLSTATE) or by libpq (connection lost).
struct PgError {
  std::string sqlstate;  ///< Five characters, e.g. "23505"; empty for client-side failures.
  std::string message;   ///< PostgreSQL's primary message, one line.
  std::string detail;    ///< May quote values of the row (DETAIL: Key (id)=(42) ...).
  std::string hint;
  std::string column;
  std::string constraint;
  std::string table;
  std::string datatype;
  bool connection_lost = false;  ///< The session is gone: nothing more can be sent on it.
};

/// The error of a failed result (PGRES_FATAL_ERROR).
PgError error_of(const PGresult* result);
/// The error a connection reports (PQerrorMessage), marked as a lost connection.
PgError connection_error(const PGconn* conn, std::string_view what);

/// Whether retrying later can succeed: connection failures (class 08 but 08P01), serialization
/// failures and deadlocks (40001, 40P01), too many connections and other exhausted
/// resources (class 53), operator intervention (admin or crash shutdown, 57P0x; a
/// cancelled statement, 57014), locks not available (55P03), I/O errors (58030), and a
/// read-only transaction (25006: the DSN reached a standby, e.g. during a failover).
/// Everything else (constraints, types, syntax, permissions) fails the same way again.
bool is_retryable(const PgError& error);

/// Whether the error says the table or its columns changed under us (re-read the schema).
bool is_schema_change(const PgError& error);

/// One line for the dead-letter queue and the log: "23505 unique_violation: duplicate key
/// value violates unique constraint "builds_pkey" (constraint builds_pkey; Key (id)=(1)
/// already exists.)". `with_detail` false leaves out the DETAIL, which may quote row values.
std::string describe(const PgError& error, bool with_detail = true);

/// The SDK error for `error` (retryable or permanent), its message prefixed with `context`.
Error to_error(const PgError& error, std::string_view context = {});

/// The condition name of a SQLSTATE ("unique_violation"), or "" when not one we name.
std::string_view condition_name(std::string_view sqlstate);

}  // namespace switchyard::postgres
