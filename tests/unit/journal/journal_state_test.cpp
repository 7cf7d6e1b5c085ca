// Component state kept by the journal: state writes with their expiry, and remembered keys
// (StateStore::remember) in a table of their own.
#include "journal/journal.hpp"

#include <gtest/gtest.h>

#include <map>

#include "journal/sqlite.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using test::append;
using test::body_of;
using test::open_journal;
using test::seqs;
using test::try_append;

TEST(Journal, StateWritesAreKeptWithTheirExpiry) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    j->write_state({.key = "p/c/forever", .value = "1"});
    j->write_state({.key = "p/c/later", .value = "2", .expires_ms = now + 3'600'000});
    j->write_state({.key = "p/c/expired", .value = "3", .expires_ms = now - 1});
    j->write_state({.key = "p/c/erased", .value = "4"});
    j->write_state({.key = "p/c/erased", .erase = true});
    // State captured with an event commits with it.
    auto key = j->attach("p", {"a"}, true, nullptr);
    append(*j, key->id, key->sink_bits[0], body_of(1), {{.key = "p/t/with-event", .value = "5"}});
  }
  auto j = open_journal(dir.path());
  auto entries = j->load_state();
  ASSERT_TRUE(entries);
  std::map<std::string, std::string> got;
  for (const auto& e : *entries) got[e.key] = e.value;
  EXPECT_EQ(got, (std::map<std::string, std::string>{
                     {"p/c/forever", "1"}, {"p/c/later", "2"}, {"p/t/with-event", "5"}}));
}

// Remembered keys (StateStore::remember) are fingerprints with an expiry, in a table of
// their own: written alone or with an event, loaded back unexpired, never as state entries.
// A version-3 journal (before the table) gets it on opening.
TEST(Journal, RememberedKeysAreKeptApartWithTheirExpiry) {
  test::TempDir dir;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string with_event(16, 'e'), alone(16, 'a'), forever(16, 'f'), expired(16, 'x');
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a"}, true, nullptr);
    append(*j, key->id, key->sink_bits[0], body_of(1),
           {{.key = with_event, .expires_ms = now + 3'600'000, .remember = true}});
    j->write_state({.key = alone, .expires_ms = now + 60'000, .remember = true});
    j->write_state({.key = forever, .remember = true});
    j->write_state({.key = expired, .expires_ms = now - 1, .remember = true});
  }
  {
    // What a journal written before remembered keys looks like.
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE kept AS SELECT * FROM remembered; DROP TABLE remembered; PRAGMA user_version = 3;"));
  }
  auto j = open_journal(dir.path());
  ASSERT_NE(j, nullptr);
  auto none = j->load_remembered();
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none->empty()) << "the upgrade made an empty table";
  j.reset();
  {
    auto db = sql::Db::open(dir.path() / kJournalFile, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("INSERT INTO remembered SELECT * FROM kept; DROP TABLE kept;"));
  }
  j = open_journal(dir.path());
  auto remembered = j->load_remembered();
  ASSERT_TRUE(remembered) << remembered.error().message;
  std::map<std::string, std::int64_t> got;
  for (const auto& r : *remembered) got[r.fingerprint] = r.expires_ms;
  EXPECT_EQ(got, (std::map<std::string, std::int64_t>{
                     {with_event, now + 3'600'000}, {alone, now + 60'000}, {forever, 0}}));
  auto entries = j->load_state();
  ASSERT_TRUE(entries);
  EXPECT_TRUE(entries->empty()) << "a remembered key came back as a state entry";
}

}  // namespace
}  // namespace switchyard::journal
