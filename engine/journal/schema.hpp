#pragma once
// Internal: opening the journal database, shared by the engine and the `dlq` commands.

#include <filesystem>

#include "journal/sqlite.hpp"

namespace switchyard::journal {

/// Opens `file` in WAL mode, checks that it is an undamaged journal of a version this build
/// understands, and creates the schema in a new file. Errors name the file and say what to do.
Result<sql::Db> open_database(const std::filesystem::path& file, bool create);

}  // namespace switchyard::journal
