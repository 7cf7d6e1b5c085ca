#include "config/interpolate.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "support/temp_dir.hpp"

namespace switchyard::config {
namespace {

std::string expand(std::string_view text) {
  auto out = interpolate(text);
  EXPECT_TRUE(out) << out.error().message;
  return out ? *out : std::string();
}

// The error of an expansion that must fail; "" (and a test failure) when it worked.
std::string refusal(const Result<std::string>& result) {
  EXPECT_FALSE(result) << "expanded to " << *result;
  return result ? std::string() : result.error().message;
}

std::string failure(std::string_view text) { return refusal(interpolate(text)); }

TEST(Interpolate, ReplacesSetVariables) {
  ::setenv("SY_TEST_HOST", "example.org", 1);
  EXPECT_EQ(expand("https://${SY_TEST_HOST}/hook"), "https://example.org/hook");
}

TEST(Interpolate, UsesDefaultWhenUnsetOrEmpty) {
  ::unsetenv("SY_TEST_UNSET");
  ::setenv("SY_TEST_EMPTY", "", 1);
  EXPECT_EQ(expand("${SY_TEST_UNSET:-8080}"), "8080");
  EXPECT_EQ(expand("${SY_TEST_EMPTY:-fallback}"), "fallback");
  EXPECT_EQ(expand("${SY_TEST_UNSET:-}"), "");
}

TEST(Interpolate, UnsetVariableWithoutDefaultIsAnErrorNamingIt) {
  ::unsetenv("SY_TEST_MISSING");
  EXPECT_EQ(failure("${SY_TEST_MISSING}"), "environment variable SY_TEST_MISSING is not set");
}

TEST(Interpolate, ReadsFilesWithoutTheTrailingNewline) {
  test::TempDir dir;
  const auto secret = dir.write("secret", "s3cr3t\n");
  EXPECT_EQ(expand("${file:" + secret.string() + "}"), "s3cr3t");
}

TEST(Interpolate, UnreadableFileIsAnErrorThatNamesThePath) {
  const std::string error = failure("${file:/nonexistent/switchyard/secret}");
  EXPECT_NE(error.find("/nonexistent/switchyard/secret"), std::string::npos);
  EXPECT_NE(error.find("No such file"), std::string::npos);
}

TEST(Interpolate, AFileOverOneMebibyteIsRefused) {
  test::TempDir dir;
  const auto big = dir.write("big", std::string((1 << 20) + 1, 'x'));
  EXPECT_EQ(failure("${file:" + big.string() + "}"), "${file:" + big.string() + "} is larger than 1 MiB");
}

// Issue 16, item 6: only regular files are read. A directory (what `docker -v` mounts when
// the host file is missing) used to give an empty value, and with it an admin API without
// a token; a FIFO hung the engine; /dev/zero said "larger than 1 MiB".
TEST(Interpolate, ADirectoryIsAnErrorNotAnEmptyValue) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "token");
  const std::string path = (dir / "token").string();
  EXPECT_EQ(failure("${file:" + path + "}"), "${file:" + path + "} is not a regular file but a directory");
}

TEST(Interpolate, AFifoIsRefusedWithoutWaitingForAWriter) {
  test::TempDir dir;
  const std::string path = (dir / "fifo").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  // Run where a hang cannot take the test binary with it: the FIFO has no writer.
  auto result = std::async(std::launch::async, [path] {
    auto out = interpolate("${file:" + path + "}");
    return std::make_pair(out.has_value(), out ? std::string() : out.error().message);
  });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    // Hung in open(), waiting for a writer: be that writer, so the test ends.
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
    FAIL() << "${file:} of a FIFO hangs until something writes to it";
  }
  const auto [ok, error] = result.get();
  EXPECT_FALSE(ok);
  EXPECT_EQ(error, "${file:" + path + "} is not a regular file but a named pipe (FIFO)");
}

TEST(Interpolate, DevicesAreNotRegularFiles) {
  EXPECT_EQ(failure("${file:/dev/zero}"), "${file:/dev/zero} is not a regular file but a character device");
  EXPECT_EQ(failure("${file:/dev/null}"), "${file:/dev/null} is not a regular file but a character device");
}

TEST(Interpolate, AReadErrorIsAnErrorNotAnEmptyValue) {
  // A regular file whose read fails (EIO): it used to read as "".
  const std::string error = failure("${file:/proc/self/mem}");
  EXPECT_EQ(error, "cannot read ${file:/proc/self/mem}: Input/output error");
}

TEST(Interpolate, SaysWhichReferenceGaveTheValue) {
  ::setenv("SY_TEST_EMPTY", "", 1);
  ::unsetenv("SY_TEST_UNSET");
  test::TempDir dir;
  const auto empty = dir.write("empty", "");
  auto reference = [](std::string_view text) {
    Expansion expansion;
    auto out = interpolate(text, {}, &expansion);
    EXPECT_TRUE(out) << out.error().message;
    return expansion.reference;
  };
  EXPECT_EQ(reference("plain"), "");
  EXPECT_EQ(reference("${SY_TEST_UNSET:-}"), "") << "an unset variable is not set";
  EXPECT_EQ(reference("${SY_TEST_EMPTY:-}"), "${SY_TEST_EMPTY}") << "set, to the empty string";
  EXPECT_EQ(reference("${SY_TEST_EMPTY}"), "${SY_TEST_EMPTY}");
  EXPECT_EQ(reference("${file:" + empty.string() + "}"), "${file:" + empty.string() + "}");
}

// Issue 16, item 9: in a pipeline file, interpolation reads only what env.allow lists.
TEST(Interpolate, ARestrictedScopeReadsOnlyAllowedVariables) {
  ::setenv("SY_TEST_ALLOWED", "yes", 1);
  ::setenv("SY_TEST_PRIVATE", "admin-token", 1);
  const InterpolationScope scope{.restricted = true, .allow = {"SY_TEST_ALLOWED"}};
  auto out = interpolate("${SY_TEST_ALLOWED}", scope);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "yes");
  for (const char* text : {"${SY_TEST_PRIVATE}", "${SY_TEST_PRIVATE:-x}", "${SY_TEST_NOT_SET_EITHER:-x}"}) {
    const std::string error = refusal(interpolate(text, scope));
    EXPECT_NE(error.find("is not listed in env.allow"), std::string::npos) << text << ": " << error;
    EXPECT_EQ(error.find("admin-token"), std::string::npos) << error;
  }
}

TEST(Interpolate, ARestrictedScopeReadsOnlyAllowedFiles) {
  test::TempDir dir;
  const auto allowed = dir.write("secrets/hook", "s1");
  const auto exact = dir.write("one", "s2");
  const auto other = dir.write("other", "s3");
  const InterpolationScope scope{.restricted = true,
                                 .allow = {"file:" + (dir / "secrets").string() + "/", "file:" + exact.string()}};
  auto out = interpolate("${file:" + allowed.string() + "}", scope);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "s1");
  out = interpolate("${file:" + exact.string() + "}", scope);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "s2");
  for (const std::string& path : {other.string(), (dir / "secrets" / ".." / "other").string(), std::string("/proc/self/environ")}) {
    const std::string error = refusal(interpolate("${file:" + path + "}", scope));
    EXPECT_NE(error.find("is not listed in env.allow"), std::string::npos) << path << ": " << error;
  }
  // A link inside the allowed directory to a file outside it is outside.
  std::filesystem::create_symlink(other, dir / "secrets" / "link");
  const std::string error = refusal(interpolate("${file:" + (dir / "secrets" / "link").string() + "}", scope));
  EXPECT_NE(error.find("is not listed in env.allow"), std::string::npos) << error;
}

TEST(Interpolate, ALinkSwappedBetweenTheCheckAndTheOpenIsRefused) {
  // Another thread keeps pointing a link in the allowed directory at an allowed file, then at
  // one outside it (rename(2) swaps it atomically). Whatever the timing, the outside file's
  // content never comes back: the allow-list is checked again on the file that was opened.
  test::TempDir dir;
  const auto allowed = dir.write("secrets/hook", "allowed");
  const auto outside = dir.write("outside", "OUTSIDE");
  const auto link = dir / "secrets" / "link";
  const auto staging = dir / "secrets" / ".link.new";
  const InterpolationScope scope{.restricted = true, .allow = {"file:" + (dir / "secrets").string() + "/"}};
  std::filesystem::create_symlink(allowed, link);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    for (bool out = true; !stop.load(std::memory_order_relaxed); out = !out) {
      ::unlink(staging.c_str());
      if (::symlink((out ? outside : allowed).c_str(), staging.c_str()) == 0) ::rename(staging.c_str(), link.c_str());
    }
  });
  int read_allowed = 0, refused = 0, leaked = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < until) {
    auto out = interpolate("${file:" + link.string() + "}", scope);
    if (!out) {
      ++refused;
    } else if (*out == "allowed") {
      ++read_allowed;
    } else {
      ++leaked;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(leaked, 0) << "read the file outside env.allow";
  EXPECT_GT(read_allowed, 0);
  EXPECT_GT(refused, 0);
}

TEST(Interpolate, LeavesExpressionsAlone) {
  ::setenv("SY_TEST_HOST", "example.org", 1);
  EXPECT_EQ(expand("${{ payload.action }} on ${SY_TEST_HOST}"), "${{ payload.action }} on example.org");
  EXPECT_EQ(expand("${{ format('{0}', payload.x) }}"), "${{ format('{0}', payload.x) }}");
}

TEST(Interpolate, DoubleDollarEscapes) {
  EXPECT_EQ(expand("cost: $${HOME} and $5"), "cost: ${HOME} and $5");
}

TEST(Interpolate, MalformedReferencesAreErrors) {
  EXPECT_EQ(failure("${UNTERMINATED"), "unterminated ${ in value");
  EXPECT_EQ(failure("${1BAD}"), "invalid variable name in ${1BAD}");
}

TEST(Interpolate, RequiredVariablesFailWithTheirMessage) {
  ::unsetenv("SY_TEST_MISSING");
  ::setenv("SY_TEST_EMPTY", "", 1);
  ::setenv("SY_TEST_HOST", "example.org", 1);
  EXPECT_EQ(failure("${SY_TEST_MISSING:?set it to the webhook URL}"),
            "environment variable SY_TEST_MISSING is not set or empty: set it to the webhook URL");
  EXPECT_EQ(failure("${SY_TEST_EMPTY:?set it}"), "environment variable SY_TEST_EMPTY is not set or empty: set it");
  EXPECT_EQ(failure("${SY_TEST_MISSING:?}"), "environment variable SY_TEST_MISSING is not set or empty");
  EXPECT_EQ(expand("${SY_TEST_HOST:?needed}"), "example.org");
  // Without the colon, only an unset variable fails (the shell's convention).
  EXPECT_EQ(failure("${SY_TEST_MISSING?needed}"), "environment variable SY_TEST_MISSING is not set: needed");
  EXPECT_EQ(expand("[${SY_TEST_EMPTY?needed}]"), "[]");
  EXPECT_EQ(expand("${SY_TEST_UNSET_TOO:-a:b?c}"), "a:b?c");  // a default may hold : and ?
}

TEST(Interpolate, AnExpressionWithOneBraceGetsADidYouMean) {
  EXPECT_EQ(failure("${payload.repository.name}"),
            "invalid variable name in ${payload.repository.name}: did you mean ${{ payload.repository.name }}? "
            "${VAR} reads an environment variable when the file loads; expressions are written ${{ }}");
  EXPECT_EQ(failure("${ payload.x }"),
            "invalid variable name in ${ payload.x }: did you mean ${{ payload.x }}? ${VAR} reads an environment "
            "variable when the file loads; expressions are written ${{ }}");
  EXPECT_EQ(failure("${VAR:x}"), "invalid variable name in ${VAR:x}");
}

TEST(Interpolate, SaysWhereEachValueByteCameFrom) {
  ::setenv("SY_TEST_HOST", "example.org", 1);
  ::unsetenv("SY_TEST_MISSING");
  Expansion where;
  auto out = interpolate("a ${SY_TEST_HOST} $${x} ${{ b }}", {}, &where);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "a example.org ${x} ${{ b }}");
  EXPECT_EQ(where.text_offset(0), 0u);    // 'a'
  EXPECT_EQ(where.text_offset(5), 2u);    // inside the substitution: its '$'
  EXPECT_EQ(where.text_offset(13), 17u);  // the space after it
  EXPECT_EQ(where.text_offset(14), 18u);  // "${" of the escape: "$${"
  EXPECT_EQ(where.text_offset(19), 24u);  // "${{"
  EXPECT_FALSE(interpolate("ok ${SY_TEST_HOST} ${SY_TEST_MISSING}", {}, &where));
  EXPECT_EQ(where.error_at, 19u);
}

// Issue 21: a test file's variables: stand in for the environment, within env.allow.
TEST(Interpolate, GivenValuesWinOverTheEnvironmentAndStayWithinTheAllowList) {
  ::setenv("SY_TEST_GIVEN", "from-env", 1);
  ::unsetenv("SY_TEST_ONLY_GIVEN");
  const InterpolationScope scope{.restricted = true,
                                 .allow = {"SY_TEST_GIVEN", "SY_TEST_ONLY_GIVEN"},
                                 .values = {{"SY_TEST_GIVEN", "from-test"}, {"SY_TEST_ONLY_GIVEN", ""},
                                            {"SY_TEST_NOT_ALLOWED", "x"}}};
  Expansion expansion;
  auto out = interpolate("${SY_TEST_GIVEN}/${SY_TEST_ONLY_GIVEN:-fallback}", scope, &expansion);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "from-test/fallback");
  EXPECT_EQ(expansion.reference, "${SY_TEST_GIVEN}");
  auto refused = interpolate("${SY_TEST_NOT_ALLOWED}", scope);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not listed in env.allow"), std::string::npos) << refused.error().message;
  ::unsetenv("SY_TEST_GIVEN");
}

}  // namespace
}  // namespace switchyard::config
