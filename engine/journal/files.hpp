#pragma once
// The journal's files as this engine opened them. Deleting journal.db (or its -wal) under a
// running engine does not stop SQLite: it goes on writing to a file no name points to,
// and everything in it is gone at the next start. JournalFiles notices (the writer asks
// before each commit and at least twice a second), so the journal can refuse new events
// and say so, and saves what the still-open connection holds.

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace switchyard::journal {

namespace sql {
class Db;
}

class JournalFiles {
 public:
  /// Records the identity (device, inode) of `db` and, when it exists, of its -wal.
  explicit JournalFiles(std::filesystem::path db);

  /// Empty while the files are those opened; else what happened to them ("journal.db was
  /// deleted", "... was replaced by another file").
  std::string check();

  /// Saves what `db` (a connection to the lost files) holds where the next start, or an
  /// operator, finds it: a deleted or replaced journal.db is copied (VACUUM INTO) to a new
  /// file beside it; a deleted -wal is checkpointed into journal.db. Returns what was done,
  /// for the log, or why it could not be done.
  std::string save(sql::Db& db) const;

 private:
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    bool known = false;
  };
  static std::string state(const std::filesystem::path& path, Identity& id, const char* name);

  std::filesystem::path db_;
  std::filesystem::path wal_;
  Identity db_id_;
  Identity wal_id_;
  bool db_lost_ = false;
};

}  // namespace switchyard::journal
