// The file the `file` sink writes to follows its path when logrotate moves or removes it.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "reopening_file.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::core {
namespace {

using namespace std::chrono_literals;

// Appends `text` through the descriptor `file` hands out now.
bool append(ReopeningFile& file, const std::string& text, bool* reopened = nullptr) {
  bool r = false;
  auto fd = file.descriptor(r);
  if (reopened) *reopened = r;
  return fd && ::write(*fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

TEST(ReopeningFile, MovedFileIsCreatedAgainAtThePath) {
  test::TempDir dir;
  const auto path = dir / "events.jsonl";
  ReopeningFile file(0ms);  // check on every write
  ASSERT_TRUE(file.open(path.string()));
  bool reopened = true;
  ASSERT_TRUE(append(file, "one\n", &reopened));
  EXPECT_FALSE(reopened) << "the path still names the open file";
  std::filesystem::rename(path, dir / "events.jsonl.1");  // logrotate, `create` mode
  ASSERT_TRUE(append(file, "two\n", &reopened));
  EXPECT_TRUE(reopened);
  ASSERT_TRUE(append(file, "three\n"));
  EXPECT_EQ(test::read_file(dir / "events.jsonl.1"), "one\n");
  EXPECT_EQ(test::read_file(path), "two\nthree\n");
  EXPECT_EQ(file.reopens(), 1u);
}

TEST(ReopeningFile, AFileItCreatesOtherUsersCannotRead) {
  // Payloads go in; under the usual umask 022 the file was 0644.
  const mode_t before = ::umask(022);
  test::TempDir dir;
  const auto path = dir / "events.jsonl";
  ReopeningFile file(0ms);
  ASSERT_TRUE(file.open(path.string()));
  std::filesystem::remove(path);
  ASSERT_TRUE(append(file, "again\n"));  // created anew
  ::umask(before);
  const auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_all, std::filesystem::perms::none);
  EXPECT_EQ(perms & std::filesystem::perms::group_write, std::filesystem::perms::none);
}

TEST(ReopeningFile, RemovedFileIsCreatedAgain) {
  test::TempDir dir;
  const auto path = dir / "events.jsonl";
  ReopeningFile file(0ms);
  ASSERT_TRUE(file.open(path.string()));
  ASSERT_TRUE(append(file, "one\n"));
  std::filesystem::remove(path);
  ASSERT_TRUE(append(file, "two\n"));
  EXPECT_EQ(test::read_file(path), "two\n");
}

TEST(ReopeningFile, ChecksThePathAtMostOncePerInterval) {
  test::TempDir dir;
  const auto path = dir / "events.jsonl";
  ReopeningFile file(1h);
  ASSERT_TRUE(file.open(path.string()));
  std::filesystem::rename(path, dir / "events.jsonl.1");
  bool reopened = true;
  ASSERT_TRUE(append(file, "one\n", &reopened));
  EXPECT_FALSE(reopened) << "not checked again within the interval";
  EXPECT_EQ(test::read_file(dir / "events.jsonl.1"), "one\n");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ReopeningFile, AFailedReopenIsRetryableAndKeepsTrying) {
  test::TempDir dir;
  const auto sub = dir / "logs";
  std::filesystem::create_directory(sub);
  const auto path = sub / "events.jsonl";
  ReopeningFile file(0ms);
  ASSERT_TRUE(file.open(path.string()));
  std::filesystem::rename(sub, dir / "logs.old");  // the directory went away
  bool reopened = false;
  auto fd = file.descriptor(reopened);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().kind, ErrorKind::retryable);
  EXPECT_EQ(fd.error().message,
            "reopening " + path.string() + " (it was moved or removed) failed: No such file or directory");
  std::filesystem::create_directory(sub);
  ASSERT_TRUE(append(file, "back\n", &reopened));
  EXPECT_TRUE(reopened);
  EXPECT_EQ(test::read_file(path), "back\n");
}

}  // namespace
}  // namespace switchyard::core
