#include "journal/schema.hpp"

namespace switchyard::journal {
namespace {

// 1: pipelines, sinks, events, dlq, state. 2: attempts (a sink's failed attempts at an event,
// kept across restarts so max_attempts holds). 3: events.loc, where the event's body is in the
// event log (event_log.hpp); rows written before keep theirs in events.body (loc NULL).
// 4: remembered, the fingerprints of remembered keys (StateStore::remember) by expiry: they
// arrive in about the order they expire, so rows go in at the end of the index and leave
// from its start. 5: the event log's records are checked with its key (events/key), which
// older versions do not know: they refuse the journal rather than take its records for
// damage.
constexpr int kSchemaVersion = 5;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS pipelines(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sinks(
  pipeline INTEGER NOT NULL,
  name TEXT NOT NULL,
  bit INTEGER NOT NULL,
  PRIMARY KEY (pipeline, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  pipeline INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  body BLOB NOT NULL,
  loc INTEGER);
CREATE TABLE IF NOT EXISTS dlq(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pipeline TEXT NOT NULL,
  sink TEXT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  failed_at INTEGER NOT NULL,
  replay INTEGER NOT NULL DEFAULT 0,
  body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS dlq_replay ON dlq(replay) WHERE replay = 1;
CREATE TABLE IF NOT EXISTS attempts(
  seq INTEGER NOT NULL,
  bit INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (seq, bit)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state(
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  expires INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS remembered(
  expires INTEGER NOT NULL,
  fingerprint BLOB NOT NULL,
  PRIMARY KEY (expires, fingerprint)) WITHOUT ROWID;
)sql";

Error damaged(const std::filesystem::path& file, const std::string& why) {
  return permanent(file.string() + " is damaged (" + why +
                   "). The engine will not run on it, so nothing in it is lost: stop here, "
                   "move the file (with its -wal and -shm files) aside to start with an empty "
                   "journal, and keep it for recovery (sqlite3 FILE '.recover').");
}

}  // namespace

Result<sql::Db> open_database(const std::filesystem::path& file, bool create) {
  std::error_code ec;
  if (!create && !std::filesystem::exists(file, ec)) {
    return permanent("no journal at " + file.string() + " (check state.dir; the engine creates it on first run)");
  }
  auto opened = sql::Db::open(file, create);
  if (!opened) return opened.error();
  sql::Db db = std::move(*opened);
  // The first read of the header tells a foreign or truncated file apart.
  auto mode = db.prepare("PRAGMA journal_mode=WAL");
  if (!mode) return damaged(file, db.error());
  if (mode->step() != SQLITE_ROW) return damaged(file, db.error());
  if (mode->text(0) != "wal") return permanent(file.string() + ": cannot use WAL mode (" + mode->text(0) + ")");
  mode->reset();
  auto check = db.prepare("PRAGMA quick_check(1)");
  if (!check) return damaged(file, db.error());
  if (check->step() != SQLITE_ROW) return damaged(file, db.error());
  if (const std::string result = check->text(0); result != "ok") return damaged(file, result);
  check->reset();
  auto version = db.scalar("PRAGMA user_version");
  if (!version) return damaged(file, version.error().message);
  if (*version > kSchemaVersion) {
    return permanent(file.string() + " was written by a newer Switchyard (journal version " +
                     std::to_string(*version) + "; this build reads " + std::to_string(kSchemaVersion) + ")");
  }
  if (*version == 0) {
    if (Status s = db.exec(std::string("BEGIN IMMEDIATE;") + kSchema + "PRAGMA user_version = " +
                           std::to_string(kSchemaVersion) + "; COMMIT;");
        !s) {
      return permanent(file.string() + ": cannot create the journal: " + s.error().message);
    }
  } else if (*version < kSchemaVersion && !create) {
    // `switchyard dlq` leaves the upgrade to the engine: an older engine still using the
    // journal would refuse it afterwards.
    return permanent(file.string() + " is journal version " + std::to_string(*version) + ", from an older Switchyard: " +
                     "`switchyard run` of this version upgrades it to version " + std::to_string(kSchemaVersion) +
                     " when it starts; until then, use the switchyard that wrote it");
  } else if (*version < kSchemaVersion) {
    // Version 1 had no attempts table, 2 no events.loc, 3 no remembered table: added; the rows stay as they are
    // (their bodies in events.body) and are delivered as before.
    auto has_loc = db.scalar("SELECT count(*) FROM pragma_table_info('events') WHERE name = 'loc'");
    if (!has_loc) return damaged(file, has_loc.error().message);
    if (Status s = db.exec(std::string("BEGIN IMMEDIATE;") + kSchema +
                           (*has_loc ? "" : "ALTER TABLE events ADD COLUMN loc INTEGER; ") +
                           "PRAGMA user_version = " + std::to_string(kSchemaVersion) + "; COMMIT;");
        !s) {
      return permanent(file.string() + ": cannot upgrade the journal to version " + std::to_string(kSchemaVersion) +
                       ": " + s.error().message);
    }
  }
  return db;
}

}  // namespace switchyard::journal
