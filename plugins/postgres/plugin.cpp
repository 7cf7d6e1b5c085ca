// The postgres plugin library: rows into tables (the postgres sink), rows into events
// (postgres.query), both on libpq driven by the engine's event loop.
#include "query/query.hpp"
#include "sink/settings.hpp"
#include "switchyard/plugin.hpp"

namespace {
const switchyard::ComponentDecl kComponents[] = {
    switchyard::postgres::kSinkDecl,
    switchyard::postgres::kQueryDecl,
};
}  // namespace

SWITCHYARD_PLUGIN("postgres", "0.1.0", kComponents)
