#pragma once
// The `dsn` option: a libpq keyword string ("host=db dbname=app sslmode=verify-full") or a
// postgresql:// URL, parsed once at configure. It holds the password, so no message here
// ever quotes it; logs name the target by host, port and database only.
// https://www.postgresql.org/docs/15/libpq-connect.html#LIBPQ-CONNSTRING

#include <string>
#include <string_view>
#include <vector>

#include "switchyard/result.hpp"

namespace switchyard::postgres {

/// Where and how to connect, ready for PQconnectStartParams.
struct ConnectTarget {
  std::vector<std::string> keywords;  ///< Parsed from the DSN, with our additions.
  std::vector<std::string> values;
  /// The hosts to reach (from the DSN, else PGHOST), one per entry of a multi-host DSN;
  /// empty: libpq's default Unix socket.
  std::vector<std::string> hosts;
  /// Whether some host is a name that must be resolved before connecting: libpq would
  /// resolve it with a blocking getaddrinfo() inside PQconnectPoll.
  bool needs_resolution = false;
  std::string sslmode;      ///< As given (DSN, else PGSSLMODE), "" when libpq's default (prefer).
  std::string description;  ///< "db.example.com:5432/app": for logs, never the password.
};

/// Parses `dsn`. `ca_file` (may be empty) becomes sslrootcert, and sslmode verify-full when
/// the DSN names no sslmode. An invalid DSN gives an invalid_config error that does not
/// quote it.
Result<ConnectTarget> parse_dsn(std::string_view dsn, std::string_view ca_file,
                                std::string_view application_name);

/// Whether every host is a Unix socket or a loopback address (TLS matters less there).
bool is_local(const ConnectTarget& target);
/// Whether the server's certificate is checked (sslmode verify-ca or verify-full).
bool verifies_certificate(const ConnectTarget& target);

/// A numeric IPv4/IPv6 address, or a Unix socket directory (starts with '/' or '@').
bool needs_no_lookup(std::string_view host);

}  // namespace switchyard::postgres
