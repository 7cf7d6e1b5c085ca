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
  std::string out, error;
  Interpolation where;
  ASSERT_TRUE(interpolate("a ${SY_TEST_HOST} $${x} ${{ b }}", out, error, where));
  EXPECT_EQ(out, "a example.org ${x} ${{ b }}");
  EXPECT_EQ(where.text_offset(0), 0u);    // 'a'
  EXPECT_EQ(where.text_offset(5), 2u);    // inside the substitution: its '$'
  EXPECT_EQ(where.text_offset(13), 17u);  // the space after it
  EXPECT_EQ(where.text_offset(14), 18u);  // "${" of the escape: "$${"
  EXPECT_EQ(where.text_offset(19), 24u);  // "${{"
  EXPECT_FALSE(interpolate("ok ${SY_TEST_HOST} ${SY_TEST_MISSING}", out, error, where));
  EXPECT_EQ(where.error_at, 19u);
}

}  // namespace
}  // namespace switchyard::config
