// journal.db's checkpoints while the journal's writer never rests: the ones due after a
// commit run on the checkpoint thread, what they make durable still lets event-log
// segments go, and the writer copies the frames committed meanwhile itself, so the WAL
// starts again from its beginning and checkpoints stay few.
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "event_log_helpers.hpp"
#include "journal/journal.hpp"
#include "journal_helpers.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::journal {
namespace {

using namespace log_test;
using test::body_of;
using test::try_append;

// Appends bodies of `size` bytes with 16 always in flight, each completed as soon as it is
// committed, calling `look` every 16 appends until it returns false or `count` appends are
// made. Returns the appends that failed.
int keep_appending(Journal& j, const PipelineKey& key, std::size_t size, int count, const std::function<bool()>& look) {
  const std::uint64_t bit = key.sink_bits[0];
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int failed = 0;
  for (int i = 1; i <= count; ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return in_flight < 16; });
      ++in_flight;
    }
    j.append(key.id, bit, body_of(i, size), {}, [&](Result<std::uint64_t> seq) {
      if (seq) j.complete(*seq, bit);
      std::lock_guard lock(mutex);
      if (!seq) ++failed;
      --in_flight;
      changed.notify_all();
    });
    if (i % 16 == 0 && !look()) break;
  }
  j.flush();
  std::unique_lock lock(mutex);
  changed.wait(lock, [&] { return in_flight == 0; });
  return failed;
}

// With fsync on, a segment goes only once journal.db is synced past the rows that pointed
// into it: by a checkpoint. A writer that never rests has them run on the checkpoint thread
// (and copies what was committed meanwhile itself), and what they made durable still lets
// segments go.
TEST(JournalCheckpoint, SegmentsGoWhileTheWriterNeverRests) {
  test::TempDir dir;
  auto j = Journal::open({.dir = dir.path(), .fsync = true, .segment_bytes = 64 * 1024, .checkpoint_pages = 20});
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  const std::uint64_t bit = key->sink_bits[0];
  // An event still wanted when the idle writer checkpoints: from then on, as far as a power
  // cut is concerned, it holds every segment from its own on, until a later checkpoint.
  const auto first = try_append(**j, key->id, bit, body_of(0, 4000));
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // past kPollInterval: idle
  (*j)->complete(*first, bit);
  std::size_t most = 0;
  bool went = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // Until segments have gone (the writer lets them go at most every kReleaseInterval) or
  // 20 s have passed.
  const int failed = keep_appending(**j, *key, 4000, 1'000'000, [&] {
    const std::size_t now = log_files(dir.path());
    most = std::max(most, now);
    went = most >= 4 && now < most;
    return !went && std::chrono::steady_clock::now() < until;
  });
  EXPECT_TRUE(went) << "no segment went while the writer was busy (most at once: " << most << ")";
  EXPECT_EQ(failed, 0);
}

// journal.db's WAL starts again from its beginning about every checkpoint_pages frames
// while the writer never rests, and checkpoints run about that often: not after every
// commit, each syncing journal.db on the disk the event log's commits wait for.
TEST(JournalCheckpoint, TheWalStartsAgainAndCheckpointsStayFewWhileTheWriterNeverRests) {
  test::TempDir dir;
  constexpr int kPages = 200;
  auto j = Journal::open({.dir = dir.path(), .fsync = true, .segment_bytes = 1 << 20, .checkpoint_pages = kPages});
  ASSERT_TRUE(j) << j.error().message;
  auto key = (*j)->attach("p", {"a"}, true, nullptr);
  ASSERT_TRUE(key);
  const auto wal = dir / "journal.db-wal";
  std::uintmax_t largest_wal = 0;
  const auto before = (*j)->stats();
  // A few frames per commit, commits back to back.
  const int failed = keep_appending(**j, *key, 500, 6000, [&] {
    std::error_code ec;
    const auto size = std::filesystem::file_size(wal, ec);
    if (!ec) largest_wal = std::max(largest_wal, size);
    return true;
  });
  const auto after = (*j)->stats();
  const auto commits = after.commits - before.commits;
  const auto checkpoints = after.checkpoints - before.checkpoints;
  ASSERT_GT(commits, 200u) << "the writer committed in small batches";
  EXPECT_GT(checkpoints, 0u);
  EXPECT_LE(checkpoints * 8, commits) << checkpoints << " checkpoints for " << commits << " commits";
  // A WAL frame is a page (4 KiB) and a 24-byte header; the writer copies up to
  // kCatchUpFrames itself after a checkpoint on the thread.
  EXPECT_LE(largest_wal, std::uintmax_t{2 * kPages + 256} * (4096 + 24)) << "the WAL kept growing";
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace switchyard::journal
