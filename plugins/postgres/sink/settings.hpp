#pragma once
// The postgres sink's options, validated once at configure.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pg/dsn.hpp"
#include "switchyard/switchyard.hpp"

namespace switchyard::postgres {

extern const ComponentDecl kSinkDecl;

struct SinkSettings {
  std::shared_ptr<const ConnectTarget> target;
  std::string schema;  ///< "" : the first schema of the search_path that has the table.
  std::string table;
  struct Column {
    std::string name;
    const Template* value = nullptr;  ///< nullptr: `literal` (no engine compiled templates)
    std::string literal;
  };
  std::vector<Column> columns;
  enum class OnConflict { error, nothing, update };
  OnConflict on_conflict = OnConflict::error;
  std::vector<std::string> conflict_columns;
  /// update: column → SQL expression; an empty expression means EXCLUDED.column.
  std::vector<std::pair<std::string, std::string>> update;
  std::vector<std::pair<std::string, std::string>> create_table;  ///< column → SQL type
  std::size_t max_rows = 500;
  std::chrono::milliseconds max_delay{50};
  std::size_t pool_size = 2;
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
};

/// Reads and checks the options; every problem in one invalid_config error.
Result<SinkSettings> read_sink_settings(const Options& options);

}  // namespace switchyard::postgres
