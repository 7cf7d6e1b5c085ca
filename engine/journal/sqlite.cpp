#include "journal/sqlite.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace switchyard::journal::sql {

Status Stmt::run() {
  const int rc = step();
  sqlite3* db = sqlite3_db_handle(stmt_);
  reset();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  return retryable(std::string(sqlite3_errstr(rc)) + ": " + (db ? sqlite3_errmsg(db) : ""));
}

Result<Db> Db::open(const std::filesystem::path& file, bool create) {
  Db db;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) {
    flags |= SQLITE_OPEN_CREATE;
    // The file holds payloads as received: the owner's alone, whatever the umask. SQLite
    // gives its -wal and -shm the database file's mode, so they follow.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) ::close(fd);
  }
  const int rc = sqlite3_open_v2(file.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc);
    return permanent(file.string() + ": " + message);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  // The engine's writer and the `dlq` commands may both write; wait for each other.
  sqlite3_busy_timeout(db.db_, 5000);
  return db;
}

Status Db::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return permanent(error);
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return permanent(sqlite3_errmsg(db_));
  }
  return Stmt(stmt);
}

Result<std::int64_t> Db::scalar(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return stmt->integer(0);
  if (rc == SQLITE_DONE) return std::int64_t{0};
  return permanent(error());
}

}  // namespace switchyard::journal::sql
