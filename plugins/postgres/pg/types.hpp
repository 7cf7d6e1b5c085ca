#pragma once
// Values between JSON and PostgreSQL's text format, by the column's type as the database
// declares it. Into the database (the sink): a JSON value becomes the text PostgreSQL
// reads for that type, or an error saying why it cannot, checked before anything is sent,
// so that one bad value fails its own event and not the batch. Out of it (postgres.query):
// a column's text becomes a typed JSON value.
// https://www.postgresql.org/docs/15/datatype.html

#include <libpq-fe.h>
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

#include "switchyard/result.hpp"

namespace switchyard::postgres {

/// How values for a type are checked and written.
enum class Encoding {
  text,        ///< text, varchar, char, name, citext: strings as they are, other JSON as JSON text
  integer,     ///< int2, int4, int8
  floating,    ///< float4, float8
  numeric,     ///< numeric
  boolean,     ///< bool
  json,        ///< json, jsonb: any JSON value
  timestamp,   ///< timestamptz, timestamp: RFC 3339 / ISO 8601 text, or Unix seconds
  date,        ///< date: the same, date part
  uuid,        ///< uuid
  array,       ///< any array type: a JSON list, its items by the element's encoding
  passthrough, ///< anything else (enums, inet, interval, ...): scalars as text, checked by the server
};

/// The type of one column, read from pg_attribute / pg_type.
struct ColumnType {
  std::string name;         ///< Column name.
  Oid oid = 0;              ///< The column's type (a domain's own oid): the parameter type.
  std::string sql_type;     ///< format_type(), e.g. "timestamp with time zone".
  Encoding encoding = Encoding::passthrough;
  int bits = 0;             ///< integer: 16, 32 or 64.
  Encoding element = Encoding::passthrough;  ///< array: the element's encoding.
  int element_bits = 0;
};

/// The encoding for a base type name from pg_type.typname and its category (typcategory).
Encoding encoding_of(std::string_view type_name, char category, int& bits);

/// The text PostgreSQL reads for `value` in a column of `type`; nullopt (SQL NULL) for
/// JSON null. A permanent error says why it does not fit ("expected an integer, got
/// \"abc\""); the caller names the column.
Result<std::optional<std::string>> encode(const rapidjson::Value& value, const ColumnType& type);

/// The JSON value of a column's text (`text` as PQgetvalue gives it) of type `oid`, written
/// with `alloc`. Numbers and booleans typed, json/jsonb parsed, arrays as lists, timestamps
/// in RFC 3339 (the session runs in UTC), anything else a string.
void decode(std::string_view text, Oid oid, rapidjson::Value& out, rapidjson::MemoryPoolAllocator<>& alloc);

}  // namespace switchyard::postgres
