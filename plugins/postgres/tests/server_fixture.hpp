#pragma once
// One PostgreSQL server shared by every test of the binary (initdb and start cost about a
// second), and what the sink and query tests share.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "postgres_server.hpp"
#include "realtime.hpp"

namespace switchyard::test {

/// The shared server, started by the environment before the first test.
PostgresServer& shared_server();

/// `"dsn": "..."` of the shared server, for building options JSON.
inline std::string dsn_json(const PostgresServer& pg) { return "\"dsn\": \"" + pg.dsn() + "\""; }

}  // namespace switchyard::test
