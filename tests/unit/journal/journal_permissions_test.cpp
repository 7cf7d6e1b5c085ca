// Who may read the journal: it holds payloads as received (names, e-mail addresses, request
// headers), so its files are the owner's alone whatever the umask of the process.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "journal/journal.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

unsigned mode_of(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777u;
}

TEST(JournalPermissions, TheDatabaseAndItsWalAreTheOwnersAloneUnderAnOpenUmask) {
  const mode_t before = ::umask(022);
  test::TempDir dir;
  const auto state = dir.path() / "state";
  {
    auto j = Journal::open(Options{.dir = state, .fsync = false});
    ASSERT_TRUE(j) << j.error().message;
    auto key = (*j)->attach("p", {"out"}, true, nullptr);
    ASSERT_TRUE(key);
    ASSERT_TRUE(test::try_append(**j, key->id, key->sink_bits[0], test::body_of(1)));
    (*j)->flush();
    EXPECT_EQ(mode_of(state), 0700u);
    for (const char* name : {"journal.db", "journal.db-wal", "journal.db-shm"}) {
      EXPECT_EQ(mode_of(state / name), 0600u) << name;
    }
  }
  ::umask(before);
}

}  // namespace
}  // namespace switchyard::journal
