#pragma once
// Internal: a thin RAII layer over the SQLite C API, for the journal and the DLQ commands.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "switchyard/result.hpp"

namespace switchyard::journal::sql {

/// A prepared statement: bind by 1-based index, step, read columns, reset for reuse.
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }

  Stmt& bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); return *this; }
  Stmt& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  /// Binds without copying: `v` must stay alive until the next reset().
  Stmt& bind_blob_static(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }

  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  /// Runs to completion and resets; an error result names the statement's database error.
  Status run();
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  std::string blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// An open database connection.
class Db {
 public:
  Db() = default;
  ~Db() { sqlite3_close_v2(db_); }
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept {
    std::swap(db_, other.db_);
    return *this;
  }

  /// Opens `file` (read-write, created when `create`), with a busy timeout so the engine and
  /// the `dlq` commands wait for each other instead of failing.
  static Result<Db> open(const std::filesystem::path& file, bool create);

  /// Runs one or more statements without results.
  Status exec(std::string_view sql);
  /// A statement kept for reuse; an error names the SQL's problem (or a damaged schema).
  Result<Stmt> prepare(std::string_view sql);
  /// The single integer a query returns (0 when it returns no row).
  Result<std::int64_t> scalar(std::string_view sql);
  std::string error() const { return sqlite3_errmsg(db_); }
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace switchyard::journal::sql
