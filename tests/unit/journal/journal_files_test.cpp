// The journal's files: the size cap, files that are not a journal or are truncated, and
// journal.db or its WAL deleted under a running engine.
#include "journal/journal.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <unistd.h>

#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using test::append;
using test::body_of;
using test::open_journal;
using test::seqs;
using test::try_append;

TEST(Journal, IsFullAtMaxBytesAndNotOnceDeliveriesFreeSpace) {
  test::TempDir dir;
  auto j = open_journal(dir.path(), 256 * 1024);
  auto key = j->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  const std::string big(4096, 'x');
  std::vector<std::uint64_t> appended;
  while (!j->full() && appended.size() < 1000) {
    appended.push_back(append(*j, key->id, key->sink_bits[0], "{\"sy1\":1}\n\"" + big + "\""));
  }
  ASSERT_TRUE(j->full()) << "never reached 256 KiB";
  EXPECT_GE(j->stats().bytes_used, 256u * 1024);
  EXPECT_LT(appended.size(), 100u);
  for (auto seq : appended) j->complete(seq, key->sink_bits[0]);
  j->flush();
  EXPECT_FALSE(j->full());
}

TEST(Journal, RefusesAFileThatIsNotAJournal) {
  test::TempDir dir;
  dir.write(kJournalFile, std::string(8192, 'g'));
  auto j = Journal::open(Options{.dir = dir.path()});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("journal.db is damaged"), std::string::npos) << j.error().message;
  // And it was not overwritten.
  std::ifstream in(dir / kJournalFile, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, std::string(8192, 'g'));
}

TEST(Journal, RefusesATruncatedJournal) {
  test::TempDir dir;
  {
    auto j = open_journal(dir.path());
    auto key = j->attach("p", {"a"}, true, nullptr);
    for (int i = 0; i < 2000; ++i) {
      j->append(key->id, key->sink_bits[0], body_of(i),
                {StateWrite{.key = "k" + std::to_string(i), .value = std::string(200, 'v')}}, nullptr);
    }
    j->flush();
  }  // closed cleanly: the WAL is checkpointed into journal.db
  const auto file = dir / kJournalFile;
  const auto size = std::filesystem::file_size(file);
  ASSERT_GT(size, 100'000u);
  std::filesystem::resize_file(file, size / 2);
  auto j = Journal::open(Options{.dir = dir.path()});
  ASSERT_FALSE(j) << "a journal missing half its pages was accepted";
  EXPECT_NE(j.error().message.find("is damaged"), std::string::npos) << j.error().message;
}

// Issue 16, item 7: journal.db deleted under a running engine was written on, unlinked,
// and everything in it lost at the next start, with nothing refused.
TEST(JournalFiles, ADeletedJournalRefusesEventsSaysWhyAndSavesWhatItHeld) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  auto key = j->attach("p", {"s"}, true, nullptr);
  ASSERT_TRUE(key) << key.error().message;
  for (int i = 0; i < 3; ++i) append(*j, key->id, key->sink_bits[0], body_of(i));
  EXPECT_FALSE(j->problem());
  std::filesystem::remove(dir / "journal.db");

  auto refused = try_append(*j, key->id, key->sink_bits[0], body_of(3));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::retryable);
  EXPECT_NE(refused.error().message.find("journal unavailable: journal.db was deleted"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(j->full()) << "the ingress asks full() before appending";
  ASSERT_TRUE(j->problem());
  EXPECT_NE(j->problem()->find("journal.db was deleted while the engine ran"), std::string::npos) << *j->problem();

  // The copy holds the three events the lost file held.
  std::filesystem::path saved;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("journal.db.saved-")) saved = e.path();
  }
  ASSERT_FALSE(saved.empty());
  j.reset();
  test::TempDir restored;
  std::filesystem::copy_file(saved, restored / "journal.db");
  std::filesystem::copy(dir / kEventLogDir, restored / kEventLogDir);  // the bodies stay beside it
  auto again = open_journal(restored.path());
  ASSERT_TRUE(again);
  auto counts = again->pending_by_pipeline();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0], std::make_pair(std::string("p"), std::int64_t{3}));
}

TEST(JournalFiles, ADeletedWalIsCheckpointedIntoTheJournal) {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  ASSERT_TRUE(j);
  auto key = j->attach("p", {"s"}, true, nullptr);
  ASSERT_TRUE(key);
  for (int i = 0; i < 3; ++i) append(*j, key->id, key->sink_bits[0], body_of(i));
  std::filesystem::remove(dir / "journal.db-wal");
  EXPECT_FALSE(try_append(*j, key->id, key->sink_bits[0], body_of(3)));
  ASSERT_TRUE(j->problem());
  EXPECT_NE(j->problem()->find("journal.db-wal was deleted"), std::string::npos) << *j->problem();
  // journal.db itself now holds the three events (read without the engine's WAL).
  test::TempDir copy;
  std::filesystem::copy_file(dir / "journal.db", copy / "journal.db");
  std::filesystem::copy(dir / kEventLogDir, copy / kEventLogDir);
  j.reset();
  auto again = open_journal(copy.path());
  ASSERT_TRUE(again);
  auto counts = again->pending_by_pipeline();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].second, 3);
}

}  // namespace
}  // namespace switchyard::journal
