#include "sink/table.hpp"

#include <algorithm>

namespace switchyard::postgres {

// to_regclass() gives NULL for a table that does not exist, where ::regclass would fail.
// A domain is read as its base type (typbasetype), whose category it shares.
const char* const kColumnsQuery =
    "SELECT a.attname, a.atttypid::int8, format_type(a.atttypid, a.atttypmod), b.typname, "
    "b.typcategory, coalesce(e.typname, ''), coalesce(e.typcategory, ' ') "
    "FROM pg_catalog.pg_attribute a "
    "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    "JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
    "LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A' "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY a.attnum";

std::optional<std::string> qualified_name(const SinkSettings& s, const QuoteIdentifier& quote) {
  auto table = quote(s.table);
  if (!table) return std::nullopt;
  if (s.schema.empty()) return table;
  auto schema = quote(s.schema);
  if (!schema) return std::nullopt;
  return *schema + "." + *table;
}

std::optional<std::string> create_table_sql(const SinkSettings& s, const std::string& qualified,
                                            const QuoteIdentifier& quote) {
  // The types are SQL from the pipeline file, like the update expressions: the operator's
  // words, never values from events.
  std::string sql = "CREATE TABLE IF NOT EXISTS " + qualified + " (";
  for (std::size_t i = 0; i < s.create_table.size(); ++i) {
    auto name = quote(s.create_table[i].first);
    if (!name) return std::nullopt;
    sql += (i ? ", " : "") + *name + " " + s.create_table[i].second;
  }
  return sql + ")";
}

Result<Table> make_table(const SinkSettings& s, const std::string& qualified,
                         const std::vector<CatalogColumn>& catalog, const QuoteIdentifier& quote) {
  Table table;
  table.qualified = qualified;
  std::vector<std::string> missing;
  for (const auto& wanted : s.columns) {
    auto it = std::find_if(catalog.begin(), catalog.end(), [&](const CatalogColumn& c) { return c.name == wanted.name; });
    if (it == catalog.end()) {
      missing.push_back(wanted.name);
      continue;
    }
    ColumnType type;
    type.name = it->name;
    type.oid = it->oid;
    type.sql_type = it->sql_type;
    type.encoding = encoding_of(it->base_name, it->base_category, type.bits);
    if (type.encoding == Encoding::array) {
      type.element = encoding_of(it->element_name, it->element_category, type.element_bits);
    }
    table.columns.push_back(std::move(type));
  }
  for (const auto& [column, expression] : s.update) {
    const bool known = std::any_of(catalog.begin(), catalog.end(), [&](const CatalogColumn& c) { return c.name == column; });
    if (!known) missing.push_back(column + " (on_conflict.update)");
  }
  if (!missing.empty()) {
    std::string has;
    for (const auto& c : catalog) has += (has.empty() ? "" : ", ") + c.name;
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    return permanent("table " + qualified + " has no column " + names + " (it has " + has + ")");
  }

  std::string sql = "INSERT INTO " + qualified + " (";
  std::string values;
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    auto name = quote(table.columns[i].name);
    if (!name) return permanent("cannot quote column name " + table.columns[i].name);
    sql += (i ? ", " : "") + *name;
    values += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  sql += ") VALUES (" + values + ")";
  if (s.on_conflict != SinkSettings::OnConflict::error) {
    sql += " ON CONFLICT";
    if (!s.conflict_columns.empty()) {
      sql += " (";
      for (std::size_t i = 0; i < s.conflict_columns.size(); ++i) {
        auto name = quote(s.conflict_columns[i]);
        if (!name) return permanent("cannot quote column name " + s.conflict_columns[i]);
        sql += (i ? ", " : "") + *name;
      }
      sql += ")";
    }
    if (s.on_conflict == SinkSettings::OnConflict::nothing) {
      sql += " DO NOTHING";
    } else {
      sql += " DO UPDATE SET ";
      for (std::size_t i = 0; i < s.update.size(); ++i) {
        auto name = quote(s.update[i].first);
        if (!name) return permanent("cannot quote column name " + s.update[i].first);
        // An expression is SQL the pipeline's author wrote ("builds.commits + excluded.commits").
        sql += (i ? ", " : "") + *name + " = " + (s.update[i].second.empty() ? "EXCLUDED." + *name : s.update[i].second);
      }
    }
  }
  table.insert = std::move(sql);
  return table;
}

Result<std::vector<std::optional<std::string>>> encode_row(const SinkSettings& settings, const Table& table,
                                                           const Event& event,
                                                           rapidjson::MemoryPoolAllocator<>& scratch) {
  std::vector<std::optional<std::string>> params;
  params.reserve(table.columns.size());
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const auto& column = settings.columns[i];
    const ColumnType& type = table.columns[i];
    rapidjson::Value value;
    if (column.value != nullptr) {
      column.value->render(event, value, scratch);
    } else {
      value.SetString(column.literal.data(), static_cast<rapidjson::SizeType>(column.literal.size()));
    }
    auto text = encode(value, type);
    if (!text) {
      scratch.Clear();
      return permanent("column " + type.name + " (" + type.sql_type + "): " + text.error().message);
    }
    params.push_back(std::move(*text));
  }
  scratch.Clear();
  return params;
}

std::optional<std::string> quote_locally(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) return std::nullopt;
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

Result<Table> assumed_table(const SinkSettings& settings) {
  auto qualified = qualified_name(settings, &quote_locally);
  if (!qualified) return permanent("cannot quote the table name");
  std::vector<CatalogColumn> catalog;
  auto add = [&](const std::string& name) {
    if (std::none_of(catalog.begin(), catalog.end(), [&](const CatalogColumn& c) { return c.name == name; })) {
      catalog.push_back(CatalogColumn{.name = name, .oid = 25, .sql_type = "text", .base_name = "text", .base_category = 'S'});
    }
  };
  for (const auto& column : settings.columns) add(column.name);
  for (const auto& [column, expression] : settings.update) add(column);
  return make_table(settings, *qualified, catalog, &quote_locally);
}

}  // namespace switchyard::postgres
