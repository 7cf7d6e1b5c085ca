#include "journal/files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "journal/sqlite.hpp"

namespace switchyard::journal {
namespace {

bool identity(const std::filesystem::path& path, dev_t& dev, ino_t& ino, int& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = errno;
    return false;
  }
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

JournalFiles::JournalFiles(std::filesystem::path db) : db_(std::move(db)), wal_(db_.string() + "-wal") {
  int error = 0;
  db_id_.known = identity(db_, db_id_.dev, db_id_.ino, error);
  wal_id_.known = identity(wal_, wal_id_.dev, wal_id_.ino, error);
}

std::string JournalFiles::state(const std::filesystem::path& path, Identity& id, const char* name) {
  dev_t dev = 0;
  ino_t ino = 0;
  int error = 0;
  if (!identity(path, dev, ino, error)) {
    if (!id.known) return {};  // never seen: nothing to lose yet
    return std::string(name) + (error == ENOENT ? " was deleted" : " cannot be looked at: " + std::string(std::strerror(error)));
  }
  if (!id.known) {  // the -wal appears with the first write
    id = Identity{dev, ino, true};
    return {};
  }
  if (dev != id.dev || ino != id.ino) return std::string(name) + " was replaced by another file";
  return {};
}

std::string JournalFiles::check() {
  std::string what = state(db_, db_id_, "journal.db");
  db_lost_ = !what.empty();
  if (what.empty()) what = state(wal_, wal_id_, "journal.db-wal");
  return what;
}

std::string JournalFiles::save(sql::Db& db) const {
  if (!db_lost_) {
    // Only the -wal is gone: what it holds goes into journal.db, which is still ours.
    if (Status s = db.exec("PRAGMA wal_checkpoint(TRUNCATE)"); !s) {
      return "could not checkpoint it into journal.db: " + s.error().message;
    }
    return "what it held is checkpointed into journal.db";
  }
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const auto copy = db_.parent_path() / ("journal.db.saved-" + std::to_string(seconds));
  if (Status s = db.exec("VACUUM INTO " + quoted(copy.string())); !s) {
    return "could not save a copy (" + copy.string() + "): " + s.error().message;
  }
  std::error_code ec;  // payloads, as journal.db: the owner's alone
  std::filesystem::permissions(copy, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return "a copy of everything it held is saved as " + copy.string() +
         ": stop the engine, move that file to journal.db (with no -wal or -shm beside it) and start it again";
}

}  // namespace switchyard::journal
