#pragma once
// The target table as the sink writes it: its columns' types read from the catalog, and
// the SQL built from them (identifiers quoted by libpq, values always parameters).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/types.hpp"
#include "sink/settings.hpp"

namespace switchyard::postgres {

/// The name of the prepared INSERT on each session.
inline constexpr const char* kInsertStatement = "switchyard_insert";

/// Quotes an identifier (Connection::quote_identifier); nullopt when it cannot.
using QuoteIdentifier = std::function<std::optional<std::string>(std::string_view)>;

/// The columns of a table, one row each: name, type oid, format_type, then the base type's
/// name and category (a domain's base type) and, for arrays, the element's name and
/// category. $1 is the quoted, possibly schema-qualified table name; no rows when the
/// table does not exist.
extern const char* const kColumnsQuery;

/// One row of kColumnsQuery.
struct CatalogColumn {
  std::string name;
  Oid oid = 0;
  std::string sql_type;
  std::string base_name;
  char base_category = 0;
  std::string element_name;
  char element_category = 0;
};

struct Table {
  std::string qualified;             ///< Quoted: "ci"."builds".
  std::vector<ColumnType> columns;   ///< In the order of the sink's `columns`.
  std::string insert;                ///< INSERT ... VALUES ($1, ...) [ON CONFLICT ...]
};

/// The quoted table name, schema-qualified when the setting names a schema.
std::optional<std::string> qualified_name(const SinkSettings& settings, const QuoteIdentifier& quote);
/// CREATE TABLE IF NOT EXISTS from create_table.
std::optional<std::string> create_table_sql(const SinkSettings& settings, const std::string& qualified,
                                            const QuoteIdentifier& quote);
/// Matches the sink's columns with the catalog's and builds the INSERT; an error names
/// the columns the table lacks.
Result<Table> make_table(const SinkSettings& settings, const std::string& qualified,
                         const std::vector<CatalogColumn>& catalog, const QuoteIdentifier& quote);

/// The values of `event`'s row for `table`, $1, $2... in the order of its columns (nullopt:
/// NULL), or a permanent error naming the column whose value its type refuses. Rendered
/// values are written with `scratch`, cleared afterwards.
Result<std::vector<std::optional<std::string>>> encode_row(const SinkSettings& settings, const Table& table,
                                                           const Event& event,
                                                           rapidjson::MemoryPoolAllocator<>& scratch);

/// An identifier quoted as PQescapeIdentifier quotes it, without a connection.
std::optional<std::string> quote_locally(std::string_view name);

/// The table as render() shows it without asking the database: the INSERT deliver()
/// prepares, every column taken as text (the catalog's types are known only once connected).
Result<Table> assumed_table(const SinkSettings& settings);

}  // namespace switchyard::postgres
