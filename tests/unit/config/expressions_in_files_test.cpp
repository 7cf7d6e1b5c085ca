// Expressions and ${VAR} in pipeline files: errors point at the character inside any kind
// of YAML scalar, a missing variable is one error, the mistakes of other template languages
// are named, env.NAME outside env.allow fails to load, and a bare $VAR in a secret warns.
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/engine_config.hpp"
#include "config/pipeline_config.hpp"
#include "config/templates.hpp"
#include "config/yaml_json.hpp"
#include "loader/registry.hpp"
#include "support/status.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::config {
namespace {

// Where byte `offset` of the value at `path` is, as "line:column".
std::string where(std::string_view yaml, const std::string& path, std::size_t offset) {
  JsonFile file;
  Diagnostics diagnostics;
  EXPECT_TRUE(load_yaml_text("t.yaml", yaml, file, diagnostics));
  const Mark m = file.marks.find_in_value(path, offset);
  return std::to_string(m.line) + ":" + std::to_string(m.column);
}

TEST(ValuePositions, FollowEveryKindOfScalar) {
  // The value of `v` is "a$ *" in each; offset 3 is the '*'. (Positions inside values are
  // kept for values holding a '$' or a '{': where expressions and their mistakes are.)
  EXPECT_EQ(where("v: a$ *\n", "v", 3), "1:7");                 // plain
  EXPECT_EQ(where("v: 'a$ *'\n", "v", 3), "1:8");               // single-quoted
  EXPECT_EQ(where("v: \"a$ *\"\n", "v", 3), "1:8");             // double-quoted
  EXPECT_EQ(where("v: |-\n  a$ *\n", "v", 3), "2:6");           // literal block
  EXPECT_EQ(where("v: >-\n  a$ *\n", "v", 3), "2:6");           // folded block
  EXPECT_EQ(where("v: >+ # note\n  a$ *\n", "v", 3), "2:6");    // header with a comment
  EXPECT_EQ(where("a:\n  v: !!str &x a$ *\n", "a.v", 3), "2:18");  // tag and anchor
  EXPECT_EQ(where("l:\n  - >-\n    a$ *\n", "l[0]", 3), "3:8");
}

TEST(ValuePositions, FollowLineFoldingEscapesAndQuotes) {
  // Folded lines: "x ${{ a\n  * b }}" reads as "x ${{ a * b }}".
  EXPECT_EQ(where("v: >-\n  x ${{ a\n  * b }}\n", "v", 8), "3:3");
  EXPECT_EQ(where("v: x ${{ a\n  * b }}\n", "v", 8), "2:3");     // a plain scalar over two lines
  EXPECT_EQ(where("v: |\n  one\n  t$o *\n", "v", 8), "3:7");     // literal: line breaks kept
  // Escapes take more text than value: \t is one byte, \u00e9 two (UTF-8), \" one.
  EXPECT_EQ(where("v: \"a\\t$ *\"\n", "v", 4), "1:10");
  EXPECT_EQ(where("v: \"\\u00e9$*\"\n", "v", 3), "1:12");
  EXPECT_EQ(where("v: \"say \\\"$i\\\" *\"\n", "v", 9), "1:16");
  EXPECT_EQ(where("v: \"a \\\n   $ *\"\n", "v", 4), "2:6");    // an escaped line break
  EXPECT_EQ(where("v: 'it''$ *'\n", "v", 5), "1:11");
  // The end of the value (an error like "unexpected end of expression").
  EXPECT_EQ(where("v: '$bc'\n", "v", 3), "1:8");
}

TEST(ValuePositions, FollowInterpolation) {
  ::setenv("SY_TEST_HOST", "example.org", 1);
  // "${SY_TEST_HOST}/${{ x }}" becomes "example.org/${{ x }}": value byte 12 ('$') is
  // text byte 16.
  EXPECT_EQ(where("v: ${SY_TEST_HOST}/${{ x }}\n", "v", 12), "1:20");
  EXPECT_EQ(where("v: ${SY_TEST_HOST}/${{ x }}\n", "v", 3), "1:4");  // inside a substitution: its start
  EXPECT_EQ(where("v: $${HOME} ${{ x }}\n", "v", 8), "1:13");        // $${ is one byte longer
}

class ExpressionsInFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-http.so")));
  }
  void TearDown() override { set_expression_env({}); }

  // Loads `yaml` as p.yaml; returns every diagnostic, one per line, without the directory.
  std::string errors_of(const std::string& yaml) {
    PipelineConfig config;
    return load(yaml, config);
  }
  std::string load(const std::string& yaml, PipelineConfig& config) {
    const auto file = dir_.write("p.yaml", yaml);
    Diagnostics diagnostics;
    // As the engine reads pipeline files: ${VAR} only for what env.allow lists.
    const Status loaded = load_pipeline(
        file, registry_, config, diagnostics,
        YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true, .allow = {"SY_TEST_NOT_SET", "SY_TEST_EMPTY", "SY_TEST_SECRET"}}));
    EXPECT_EQ(loaded.has_value(), diagnostics.empty()) << "the load's Status and its report disagree";
    std::string out;
    for (const auto& d : diagnostics) out += relative(d) + "\n";
    return out;
  }
  std::string relative(const Diagnostic& d) { return format(d).substr(dir_.path().string().size() + 1); }

  loader::PluginRegistry registry_;
  test::TempDir dir_;
};

TEST_F(ExpressionsInFilesTest, AnErrorInABlockScalarPointsAtTheOperatorNotTheKey) {
  EXPECT_EQ(errors_of(R"(source: {type: generate}
sinks:
  - type: stdout
    if: >-
      ${{ payload.commits *
          'ten' }}
)"),
            "p.yaml:5:27: sinks[0].if: '*' needs numbers and 'ten' is not one\n");
  EXPECT_EQ(errors_of(R"(source: {type: generate}
transforms:
  - type: map
    event_type: |
      ci.${{ payload.kind }}
      ${{ payload.a + ' (bot)' }}
sinks: [{type: stdout}]
)"),
            "p.yaml:6:21: transforms[0].event_type: '+' needs numbers and ' (bot)' is not one (to join text "
            "use format('{0}{1}', a, b))\n");
  EXPECT_EQ(errors_of(R"(source: {type: generate}
transforms:
  - type: map
    payload:
      xp: "\t${{ payload.commits % 0 }}"
sinks: [{type: stdout}]
)"),
            "p.yaml:5:34: transforms[0].payload.xp: division by zero\n");
}

TEST_F(ExpressionsInFilesTest, ArithmeticAndTheNewFunctionsLoad) {
  PipelineConfig config;
  EXPECT_EQ(load(R"(source: {type: generate}
transforms:
  - type: map
    payload:
      xp: ${{ length(payload.commits) * 10 }}
      duration_seconds: ${{ seconds_between(payload.run_started_at, payload.updated_at) }}
      color: ${{ case(payload.conclusion == 'success', 3066993, payload.conclusion == 'failure', 15158332, 9807270) }}
      url: ${{ payload.html_url || omit() }}
      short_sha: ${{ substring(payload.head_sha, 0, 7) }}
sinks: [{type: stdout}]
)", config),
            "");
}

TEST_F(ExpressionsInFilesTest, AMissingVariableIsOneError) {
  ::unsetenv("SY_TEST_NOT_SET");
  // The file sink's path is required: "required option is missing" would repeat the cause.
  EXPECT_EQ(errors_of(R"(source:
  type: generate
sinks:
  - type: file
    path: ${SY_TEST_NOT_SET}
)"),
            "p.yaml:5:11: sinks[0].path: environment variable SY_TEST_NOT_SET is not set\n");
  // Outside env.allow: that is the one error, whatever the form of the reference.
  EXPECT_EQ(errors_of(R"(source:
  type: generate
sinks:
  - type: file
    path: /var/log/${SY_TEST_UNLISTED:?where the log goes}
)"),
            "p.yaml:5:20: sinks[0].path: ${SY_TEST_UNLISTED} is not listed in env.allow of the engine configuration "
            "(pipeline files read only the variables it lists)\n");
}

TEST_F(ExpressionsInFilesTest, ShellStyleRequiredVariablesSayTheirMessageWhereTheyAre) {
  ::unsetenv("SY_TEST_NOT_SET");
  ::setenv("SY_TEST_EMPTY", "", 1);
  EXPECT_EQ(errors_of(R"(source: {type: generate}
sinks:
  - type: http
    url: "https://${SY_TEST_NOT_SET:?the API host, e.g. api.example.com}/hook"
  - name: second
    type: http
    url: https://${SY_TEST_EMPTY:?}/hook
)"),
            "p.yaml:4:19: sinks[0].url: environment variable SY_TEST_NOT_SET is not set or empty: the API host, "
            "e.g. api.example.com\n"
            "p.yaml:7:18: sinks[1].url: environment variable SY_TEST_EMPTY is not set or empty\n");
}

TEST_F(ExpressionsInFilesTest, OtherTemplateLanguagesGetADidYouMean) {
  const std::string errors = errors_of(R"(source: {type: generate}
transforms:
  - type: map
    event_type: "ci.{{ payload.kind }}"
    subject: $payload.ref
    payload:
      repo: ${payload.repository.full_name}
sinks: [{type: stdout}]
)");
  EXPECT_EQ(errors,
            "p.yaml:4:21: transforms[0].event_type: did you mean ${{ payload.kind }}? Expressions are written "
            "${{ }}, not {{ }}\n"
            "p.yaml:5:14: transforms[0].subject: did you mean ${{ payload.ref }}? Expressions are written ${{ }}, "
            "not $name\n"
            "p.yaml:7:13: transforms[0].payload.repo: invalid variable name in ${payload.repository.full_name}: did "
            "you mean ${{ payload.repository.full_name }}? ${VAR} reads an environment variable when the file loads; "
            "expressions are written ${{ }}\n");
  EXPECT_EQ(errors_of(R"(source: {type: generate}
sinks:
  - type: stdout
    if: ${{ payload.ref == "main" }}
)"),
            "p.yaml:4:28: sinks[0].if: strings take single quotes: 'main', not \"main\"\n");
}

TEST_F(ExpressionsInFilesTest, EnvOutsideEnvAllowIsALoadError) {
  set_expression_env({"SY_TEST_STAGE"});
  EXPECT_EQ(errors_of(R"(source: {type: generate}
sinks:
  - type: stdout
    if: ${{ env.SY_TEST_STAGE == 'prod' && env.SY_TEST_SECRET }}
  - name: b
    type: stdout
    if: ${{ env.sy_test_stage == 'prod' }}
)"),
            "p.yaml:4:44: sinks[0].if: env.SY_TEST_SECRET is not in the engine configuration's env.allow, so it "
            "would always be null; list it there (env: { allow: [SY_TEST_SECRET] })\n");
  EXPECT_EQ(errors_of(R"(source: {type: generate}
transforms:
  - type: map
    payload:
      region: "${{ env['SY_TEST_REGION'] }}"
sinks: [{type: stdout}]
)"),
            "p.yaml:5:20: transforms[0].payload.region: env.SY_TEST_REGION is not in the engine configuration's "
            "env.allow, so it would always be null; list it there (env: { allow: [SY_TEST_REGION] })\n");
}

TEST_F(ExpressionsInFilesTest, ABareDollarVariableInASecretIsAWarning) {
  PipelineConfig config;
  EXPECT_EQ(load(R"(source:
  type: http
  path: /hooks/a
  secret: [$HOOK_SECRET, "s3cr$et-value", plain]
sinks:
  - type: http
    url: https://example.com/
    headers:
      Authorization: Bearer $API_TOKEN
      X-Id: ${{ payload.id }}
)", config),
            "");
  ASSERT_EQ(config.warnings.size(), 3u);
  EXPECT_EQ(relative(config.warnings[0]),
            "p.yaml:4:12: source.secret[0]: '$HOOK_SECRET' is taken as the secret itself, not read from the "
            "environment: write ${HOOK_SECRET}");
  // Part of a value: the warning does not quote it (it may be the secret).
  EXPECT_EQ(relative(config.warnings[1]),
            "p.yaml:4:31: source.secret[1]: this secret contains a bare $NAME, which is taken as written: to read an "
            "environment variable write ${NAME}");
  EXPECT_EQ(relative(config.warnings[2]).substr(0, 49), "p.yaml:9:29: sinks[0].headers.Authorization: this");

  // One secret written where the option takes a list.
  PipelineConfig single;
  EXPECT_EQ(load(R"(source:
  type: http
  path: /hooks/a
  secret: $HOOK_SECRET
sinks: [{type: stdout}]
)", single),
            "");
  ASSERT_EQ(single.warnings.size(), 1u);
  EXPECT_EQ(relative(single.warnings[0]),
            "p.yaml:4:11: source.secret: '$HOOK_SECRET' is taken as the secret itself, not read from the "
            "environment: write ${HOOK_SECRET}");

  PipelineConfig clean;
  ::setenv("SY_TEST_SECRET", "has $dollar inside", 1);
  EXPECT_EQ(load(R"(source:
  type: http
  path: /hooks/a
  secret: ${SY_TEST_SECRET}
sinks: [{type: stdout}]
)", clean),
            "");
  EXPECT_TRUE(clean.warnings.empty()) << "a value read from the environment is not checked";
}

TEST(EngineConfigWarnings, ABareDollarVariableInTheAdminTokenIsAWarning) {
  test::TempDir dir;
  const auto file = dir.write("switchyard.yaml", "admin:\n  token: $SWITCHYARD_ADMIN_TOKEN\n");
  EngineConfig config;
  Diagnostics diagnostics;
  EXPECT_TRUE(load_engine_config(file.string(), true, config, diagnostics));
  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_EQ(format(config.warnings[0]), file.string() +
                                            ":2:10: admin.token: '$SWITCHYARD_ADMIN_TOKEN' is taken as the secret "
                                            "itself, not read from the environment: write ${SWITCHYARD_ADMIN_TOKEN}");
}

TEST(EngineConfigErrors, AMissingVariableIsOneError) {
  ::unsetenv("SY_TEST_NOT_SET");
  test::TempDir dir;
  const auto file = dir.write("switchyard.yaml", "state:\n  max_bytes: ${SY_TEST_NOT_SET}\n");
  EngineConfig config;
  Diagnostics diagnostics;
  EXPECT_FALSE(load_engine_config(file.string(), true, config, diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(format(diagnostics[0]), file.string() + ":2:14: state.max_bytes: environment variable SY_TEST_NOT_SET is not set");
}

}  // namespace
}  // namespace switchyard::config
