#include "config/interpolate.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "support/temp_dir.hpp"

namespace switchyard::config {
namespace {

std::string expand(std::string_view text) {
  std::string out, error;
  EXPECT_TRUE(interpolate(text, out, error)) << error;
  return out;
}

std::string failure(std::string_view text) {
  std::string out, error;
  EXPECT_FALSE(interpolate(text, out, error)) << "expanded to " << out;
  return error;
}

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

TEST(Interpolate, AnEndlessFileIsRefusedAfterOneMebibyte) {
  // /dev/zero never ends: reading it whole would fill memory before the size check.
  EXPECT_EQ(failure("${file:/dev/zero}"), "${file:/dev/zero} is larger than 1 MiB");
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

}  // namespace
}  // namespace switchyard::config
