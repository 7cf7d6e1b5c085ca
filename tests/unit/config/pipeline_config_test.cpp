// Pipeline files: validation against the declarations, with file:line:col for every error.
#include "config/pipeline_config.hpp"

#include <gtest/gtest.h>

#include "config/engine_config.hpp"
#include "loader/registry.hpp"
#include "support/status.hpp"
#include "support/temp_dir.hpp"

namespace switchyard::config {
namespace {

class PipelineConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
  }

  // Loads `yaml` as pipelines/<name>; returns the formatted diagnostics, one per line.
  std::string errors_of(const std::string& yaml, const std::string& name = "p.yaml",
                        const YamlLimits& limits = default_pipeline_limits()) {
    const auto file = dir_.write(name, yaml);
    Diagnostics diagnostics;
    PipelineConfig config;
    const Status loaded = load_pipeline(file, registry_, config, diagnostics, limits);
    EXPECT_EQ(loaded.has_value(), diagnostics.empty()) << "the load's Status and its report disagree";
    if (!loaded) {
      EXPECT_TRUE(loaded.error().message.starts_with(format(diagnostics.front()))) << loaded.error().message;
    }
    std::string out;
    for (const auto& d : diagnostics) out += format(d).substr(dir_.path().string().size() + 1) + "\n";
    return out;
  }

  loader::PluginRegistry registry_;
  test::TempDir dir_;
};

TEST_F(PipelineConfigTest, ValidPipelineGetsDefaultsAndFileNameAsName) {
  const auto file = dir_.write("demo.yaml", R"(
source:
  type: generate
  interval: 250ms
sinks:
  - type: stdout
  - name: archive
    type: file
    path: /tmp/x.jsonl
    retry: { max_attempts: 8, initial: 2s, max: 1m }
    concurrency: 4
)");
  Diagnostics diagnostics;
  PipelineConfig config;
  ASSERT_TRUE(load_pipeline(file, registry_, config, diagnostics)) << format(diagnostics.front());
  EXPECT_EQ(config.name, "demo");
  EXPECT_EQ(config.durability, Durability::disk);
  EXPECT_EQ(config.queue_size, 1024u);
  ASSERT_EQ(config.sinks.size(), 2u);
  EXPECT_EQ(config.sinks[0].name, "stdout");
  EXPECT_EQ(config.sinks[1].name, "archive");
  EXPECT_EQ(config.sinks[1].retry.max_attempts, 8u);
  EXPECT_EQ(config.sinks[1].retry.initial, std::chrono::seconds(2));
  EXPECT_EQ(config.sinks[1].retry.max, std::chrono::minutes(1));
  EXPECT_EQ(config.sinks[1].concurrency, 4u);
  const Options source(*config.sources.at(0).options, config.sources.at(0).decl->options);
  EXPECT_EQ(source.duration("interval"), std::chrono::milliseconds(250));
  EXPECT_EQ(source.string("event_type"), "switchyard.generated");  // declared default
}

TEST_F(PipelineConfigTest, ReportsEveryErrorWithLineAndColumn) {
  const std::string errors = errors_of(R"(name: broken
source:
  type: generate
  interval: often
  colour: blue
transforms:
  - type: nope
sinks:
  - type: file
  - type: stdout
    format: yaml
    retry:
      max: soon
  - type: generate
)");
  EXPECT_EQ(errors,
            "p.yaml:4:3: source.interval: expected a duration like 500ms, 30s, 5m or 24h\n"
            "p.yaml:5:3: source.colour: unknown option\n"
            "p.yaml:7:5: transforms[0].type: unknown transform type 'nope' (see `switchyard plugins list`)\n"
            "p.yaml:9:5: sinks[0].path: required option is missing\n"
            "p.yaml:11:5: sinks[1].format: expected one of cloudevent, data, got 'yaml'\n"
            "p.yaml:13:7: sinks[1].retry.max: expected a duration like 500ms, 30s, 5m or 24h\n"
            "p.yaml:14:5: sinks[2].type: 'generate' is a source, not a sink\n");
}

TEST_F(PipelineConfigTest, SyntaxErrorsNameTheirPosition) {
  const std::string errors = errors_of("source:\n  type: generate\nsinks: [stdout\n");
  EXPECT_NE(errors.find("p.yaml:4:1: "), std::string::npos) << errors;
}

TEST_F(PipelineConfigTest, UnsetVariableAndUnreadableFileAreReportedAtTheirOption) {
  ::unsetenv("SY_TEST_NOT_SET");
  const std::string errors = errors_of(R"(source:
  type: generate
sinks:
  - type: file
    path: ${SY_TEST_NOT_SET}
  - name: second
    type: file
    path: ${file:/nonexistent/path/secret}
)", "p.yaml", YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true, .allow = {"SY_TEST_NOT_SET", "file:/nonexistent/"}}));
  EXPECT_NE(errors.find("p.yaml:5:11: sinks[0].path: environment variable SY_TEST_NOT_SET is not set"),
            std::string::npos) << errors;
  EXPECT_NE(errors.find("p.yaml:8:11: sinks[1].path: cannot read ${file:/nonexistent/path/secret}"),
            std::string::npos) << errors;
}

TEST_F(PipelineConfigTest, DuplicateKeysAndSinkNamesAreErrors) {
  const std::string errors = errors_of(R"(source:
  type: generate
  interval: 1s
  interval: 2s
sinks:
  - type: stdout
  - type: stdout
)");
  EXPECT_NE(errors.find("p.yaml:4:3: source.interval: duplicate key"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sinks[1]: name 'stdout' is already used by sinks[0]"), std::string::npos) << errors;
}

TEST_F(PipelineConfigTest, AliasesThatNestThemselvesOrMultiplyAreRefusedWithTheirPosition) {
  // An alias inside its own anchor would recurse for ever.
  EXPECT_EQ(errors_of("source: {type: generate}\nsinks: &s [{type: stdout}, *s]\n"),
            "p.yaml:2:19: sinks: nested deeper than 64 levels (an alias inside its own anchor?)\n");
  // Ten aliases of ten aliases...: 10^6 values from six short lines.
  std::string laughs = "source: {type: generate}\nsinks: [{type: stdout}]\nl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 5; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 10; ++k) laughs += ", " + prev;
    laughs += "]\n";
  }
  const std::string errors = errors_of(laughs);
  EXPECT_NE(errors.find("more than 100000 values once aliases are expanded"), std::string::npos) << errors;
  EXPECT_EQ(errors.find('\n'), errors.size() - 1) << "said once: " << errors;
}

TEST_F(PipelineConfigTest, InterpolatedSecretsNeverAppearInErrors) {
  ::setenv("SY_TEST_SECRET", "hunter2-very-secret", 1);
  const std::string errors = errors_of(R"(source:
  type: generate
  count: ${SY_TEST_SECRET}
sinks:
  - type: stdout
    pretty: ${SY_TEST_SECRET}
)", "p.yaml", YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true, .allow = {"SY_TEST_SECRET"}}));
  EXPECT_NE(errors.find("source.count: expected an integer, got a string"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("hunter2"), std::string::npos) << errors;
}

// Issue 16, item 9: ${VAR} and ${file:} in a pipeline file read only what env.allow lists;
// the engine's own secrets (its admin token, /proc/self/environ) are out of reach.
TEST_F(PipelineConfigTest, PipelineFilesInterpolateOnlyWhatEnvAllowLists) {
  ::setenv("SWITCHYARD_ADMIN_TOKEN", "engine-admin-token", 1);
  ::setenv("SY_TEST_HOOK_SECRET", "hook-secret", 1);
  const std::string yaml = R"(source:
  type: generate
  event_type: ${SWITCHYARD_ADMIN_TOKEN}
sinks:
  - type: file
    path: ${file:/proc/self/environ}
  - name: allowed
    type: file
    path: /tmp/${SY_TEST_HOOK_SECRET}
)";
  const std::string errors = errors_of(yaml, "p.yaml", YamlLimits::of(kDefaultMaxFileBytes, {.restricted = true, .allow = {"SY_TEST_HOOK_SECRET"}}));
  EXPECT_EQ(errors,
            "p.yaml:3:15: source.event_type: ${SWITCHYARD_ADMIN_TOKEN} is not listed in env.allow of the engine "
            "configuration (pipeline files read only the variables it lists)\n"
            "p.yaml:6:11: sinks[0].path: ${file:/proc/self/environ} is not listed in env.allow of the engine "
            "configuration (pipeline files read only the files it lists as file:PATH or file:DIR/)\n");
  EXPECT_EQ(errors.find("engine-admin-token"), std::string::npos);
  // The engine configuration's env.allow is what pipeline_limits() hands on.
  EngineConfig engine;
  engine.env_allow = {"SY_TEST_HOOK_SECRET"};
  engine.pipeline_max_file_bytes = 4096;
  const YamlLimits limits = pipeline_limits(engine);
  EXPECT_TRUE(limits.interpolation.restricted);
  EXPECT_EQ(limits.interpolation.allow, engine.env_allow);
  EXPECT_EQ(limits.max_file_bytes, 4096u);
  EXPECT_EQ(limits.max_expanded_bytes, 16u * 4096u);
}

// Issue 16, item 2: a pipeline file is capped before it is parsed...
TEST_F(PipelineConfigTest, AFileOverTheSizeCapIsRefusedBeforeParsing) {
  std::string yaml = "source: {type: generate}\nsinks: [{type: stdout}]\ndescription: \"";
  yaml += std::string(2000, 'x') + "\"\n";
  EXPECT_EQ(errors_of(yaml, "p.yaml", YamlLimits::of(1024, {.restricted = true})),
            "p.yaml:1:1: the file is larger than 1 KiB (pipelines.max_file_size)\n");
  EXPECT_EQ(errors_of(yaml, "p.yaml", YamlLimits::of(4096, {.restricted = true})), "");
  // The default cap is 1 MiB.
  std::string big = "source: {type: generate}\nsinks: [{type: stdout}]\ndescription: \"";
  big += std::string(1 << 20, 'x') + "\"\n";
  EXPECT_EQ(errors_of(big), "p.yaml:1:1: the file is larger than 1 MiB (pipelines.max_file_size)\n");
}

// ...and counted in expanded bytes: an alias repeats a large value without repeating its
// text. This file (600 KB) used to expand to 12 GB and crash `validate`, the engine at
// start and on hot reload (a failed allocation written through in the YAML → JSON path).
// The error points at the anchored value the aliases repeat.
TEST_F(PipelineConfigTest, AliasesOfALargeValueAreCountedInExpandedBytes) {
  std::string yaml = "source: {type: generate}\nsinks: [{type: stdout}]\ndescription: &a \"";
  yaml += std::string(600'000, 'x') + "\"\nlabels: [";
  for (int i = 0; i < 20'000; ++i) yaml += i ? ", *a" : "*a";
  yaml += "]\n";
  EXPECT_EQ(errors_of(yaml),
            "p.yaml:3:14: labels: the file's values come to more than 16 MiB once aliases are expanded and values "
            "interpolated (limit: 16 x pipelines.max_file_size)\n");
}

TEST_F(PipelineConfigTest, ExpressionErrorsPointInsideTheString) {
  const std::string errors = errors_of(R"(source:
  type: generate
sinks:
  - type: stdout
    if: ${{ payload.action == 'x' && nosuch.thing }}
  - name: b
    type: stdout
    if: "${{ startsWith(payload.ref) }}"
  - name: c
    type: stdout
    if: payload.action == 'x'
  - name: d
    type: stdout
    if: "${{ payload.branch }} == 'main'"
  - name: e
    type: stdout
    if: "  ${{ payload.branch == 'main' }}\n"
)");
  EXPECT_NE(errors.find("p.yaml:5:38: sinks[0].if: unknown context 'nosuch'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("p.yaml:8:14: sinks[1].if: wrong number of arguments to 'startsWith'"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sinks[1].if: "), std::string::npos) << errors;
  EXPECT_NE(errors.find("sinks[2].if: expected a condition: true, false or ${{ expression }}"), std::string::npos) << errors;
  // Text around the expression would render a non-empty string: always true.
  EXPECT_NE(errors.find("p.yaml:14:10: sinks[3].if: a condition is one ${{ expression }} with nothing around it"),
            std::string::npos)
      << errors;
  EXPECT_EQ(errors.find("sinks[4]"), std::string::npos) << "white space around it is fine: " << errors;
}

TEST_F(PipelineConfigTest, MissingSourceAndSinksAreReported) {
  const std::string errors = errors_of("name: empty\n");
  EXPECT_NE(errors.find("source: required option is missing"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sinks: required option is missing"), std::string::npos) << errors;
}

TEST_F(PipelineConfigTest, PipelineNamesMustBeUnique) {
  dir_.write("a.yaml", "name: same\nsource: {type: generate}\nsinks: [{type: stdout}]\n");
  dir_.write("b.yaml", "name: same\nsource: {type: generate}\nsinks: [{type: stdout}]\n");
  dir_.write("notes.txt", "not a pipeline");
  Diagnostics diagnostics;
  auto pipelines = load_pipelines(dir_.path(), {}, registry_, diagnostics);
  EXPECT_EQ(pipelines.size(), 1u);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(format(diagnostics[0]).find("pipeline name 'same' is already used by"), std::string::npos);
}

TEST(EngineConfig, AbsentFileMeansDefaults) {
  EngineConfig config;
  Diagnostics diagnostics;
  ASSERT_TRUE(load_engine_config("/nonexistent/switchyard.yaml", false, config, diagnostics));
  EXPECT_EQ(config.http.listen, "127.0.0.1:8080") << "loopback unless the operator says otherwise";
  EXPECT_EQ(config.http.max_body, 25u * 1024 * 1024);
  EXPECT_EQ(config.admin.listen, "127.0.0.1:9090");
  EXPECT_EQ(config.pipelines_dir, "pipelines");
  EXPECT_EQ(config.state_dir, "var/switchyard");
  EXPECT_EQ(config.log_format, "text");
  EXPECT_EQ(config.shutdown_timeout, std::chrono::seconds(30));
}

TEST(EngineConfig, ExplicitMissingFileIsAnError) {
  EngineConfig config;
  Diagnostics diagnostics;
  EXPECT_FALSE(load_engine_config("/nonexistent/switchyard.yaml", true, config, diagnostics));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(format(diagnostics[0]).find("cannot read file"), std::string::npos);
}

TEST(EngineConfig, InvalidKeysAreReportedWithPositions) {
  test::TempDir dir;
  const auto file = dir.write("s.yaml", "log:\n  level: loud\nhttp:\n  max_body: huge\n");
  EngineConfig config;
  Diagnostics diagnostics;
  EXPECT_FALSE(load_engine_config(file.string(), true, config, diagnostics));
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(format(diagnostics[0]), file.string() + ":4:3: http.max_body: expected a size like 1024, 64KB or 25MiB");
  EXPECT_EQ(format(diagnostics[1]), file.string() + ":2:3: log.level: expected one of trace, debug, info, warn, error, got 'loud'");
}

// Issue 16, item 6: the admin token failed open. A secret file mounted as a directory, an
// empty file or VAR= gave an empty token, and the admin API ran without authentication.
TEST(EngineConfig, AnAdminTokenSetThroughInterpolationMustNotBeEmpty) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "secret-dir");
  const auto empty = dir.write("empty-token", "\n");
  ::setenv("SY_TEST_EMPTY_TOKEN", "", 1);
  ::unsetenv("SY_TEST_UNSET_TOKEN");
  auto errors = [&](const std::string& token) {
    const auto file = dir.write("s.yaml", "admin:\n  token: " + token + "\n");
    EngineConfig config;
    Diagnostics diagnostics;
    const Status loaded = load_engine_config(file.string(), true, config, diagnostics);
    EXPECT_EQ(loaded.has_value(), diagnostics.empty()) << "the load's Status and its report disagree";
    std::string out;
    for (const auto& d : diagnostics) out += format(d).substr(file.string().size()) + "\n";
    return out;
  };
  EXPECT_EQ(errors("${file:" + (dir / "secret-dir").string() + "}"),
            ":2:10: admin.token: ${file:" + (dir / "secret-dir").string() + "} is not a regular file but a directory\n");
  EXPECT_EQ(errors("${file:" + empty.string() + "}"),
            ":2:3: admin.token: ${file:" + empty.string() + "} is set but empty, which would turn the admin API's "
            "authentication off; give it a token, or remove the key (or leave the variable unset) to run without one\n");
  EXPECT_EQ(errors("${SY_TEST_EMPTY_TOKEN:-}"),
            ":2:3: admin.token: ${SY_TEST_EMPTY_TOKEN} is set but empty, which would turn the admin API's "
            "authentication off; give it a token, or remove the key (or leave the variable unset) to run without one\n");
  // Not set at all: no token, as the shipped configuration intends.
  EXPECT_EQ(errors("${SY_TEST_UNSET_TOKEN:-}"), "");
  EXPECT_EQ(errors("\"\""), "");
}

}  // namespace
}  // namespace switchyard::config

namespace switchyard::config {
namespace {

// A file sink whose path holds an expression (the file sink reads `path` as plain text).
constexpr const char* kFileSinkWithExpression = R"(source: {type: generate}
sinks:
  - type: file
    path: "/tmp/${{ payload.repo }}.log"
)";

class StringExpressionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so")));
    ASSERT_TRUE(test::ok(registry_.load(std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-http.so")));
  }
  bool load(const std::string& yaml, PipelineConfig& config, std::string& errors) {
    const auto file = dir_.write("p.yaml", yaml);
    Diagnostics diagnostics;
    const bool ok = load_pipeline(file, registry_, config, diagnostics).has_value();
    for (const auto& d : diagnostics) errors += format(d).substr(dir_.path().string().size() + 1) + "\n";
    return ok;
  }
  loader::PluginRegistry registry_;
  test::TempDir dir_;
};

TEST_F(StringExpressionsTest, APlainStringOptionHoldingAnExpressionIsALoadErrorAtItsColumn) {
  // The file sink declares `path` as plain text: it is read once, the expression would never run.
  PipelineConfig config;
  std::string errors;
  EXPECT_FALSE(load(kFileSinkWithExpression, config, errors));
  EXPECT_NE(errors.find("p.yaml:4:17: sinks[0].path: this option is plain text, read once: it takes no ${{ }}"),
            std::string::npos)
      << errors;
}

TEST_F(StringExpressionsTest, SourceStringOptionsRefuseExpressionsTheSameWay) {
  PipelineConfig config;
  std::string errors;
  EXPECT_FALSE(load(R"(source:
  type: generate
  event_type: "ci.${{ payload.kind }}"
sinks: [{type: stdout}]
)", config, errors));
  EXPECT_NE(errors.find("p.yaml:3:19: source.event_type: this option is plain text"), std::string::npos) << errors;
}

TEST_F(StringExpressionsTest, TemplateOptionsAreCompiledAndErrorsPointInsideTheString) {
  PipelineConfig config;
  std::string errors;
  ASSERT_TRUE(load(R"(source: {type: generate}
sinks:
  - type: http
    url: "https://example.com/${{ payload.repo }}"
    headers: {X-Repo: "${{ payload.repo }}"}
)", config, errors)) << errors;
  ASSERT_TRUE(config.sinks[0].templates);
  EXPECT_NE(config.sinks[0].templates->find("url"), nullptr);
  EXPECT_NE(config.sinks[0].templates->find("headers.X-Repo"), nullptr);

  PipelineConfig bad;
  errors.clear();
  EXPECT_FALSE(load(R"(source: {type: generate}
sinks:
  - type: http
    url: "https://example.com/${{ payload.repo ==  }}"
)", bad, errors));
  EXPECT_NE(errors.find("p.yaml:4:"), std::string::npos) << errors;
  EXPECT_NE(errors.find("sinks[0].url: "), std::string::npos) << errors;
}

}  // namespace
}  // namespace switchyard::config

namespace switchyard::config {
namespace {

TEST(OptionTemplates, ErrorsInSecretOptionsKeepThePositionButNotTheText) {
  static constexpr OptionSpec kSchema[] = {
      {.name = "token", .type = OptionType::text_template, .secret = true},
      {.name = "label", .type = OptionType::text_template},
  };
  rapidjson::Document values;
  values.Parse(R"({"token": "Bearer ${{ hunter2secret(1) }}", "label": "${{ hunter3name(1) }}"})");
  CompiledTemplates out;
  std::vector<TemplateError> errors;
  compile_option_templates(kSchema, values, "sinks[0]", out, errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "sinks[0].token");
  EXPECT_GT(errors[0].offset, 0u);
  EXPECT_EQ(errors[0].message.find("hunter2secret"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("withheld"), std::string::npos);
  EXPECT_NE(errors[1].message.find("hunter3name"), std::string::npos) << "other options say what is wrong";
}

TEST(OptionTemplates, ListAndMapTemplatesCompileEachItemUnderItsOwnPath) {
  static constexpr OptionSpec kSchema[] = {
      {.name = "to", .type = OptionType::template_list},
      {.name = "headers", .type = OptionType::template_map},
      {.name = "tags", .type = OptionType::string_list},
  };
  rapidjson::Document values;
  values.Parse(R"({"to": ["ops@example.com", "${{ payload.email }}"], "headers": {"X-Id": "${{ event.id }}"},
                   "tags": ["a", "b${{ 1 }}"]})");
  CompiledTemplates out;
  std::vector<TemplateError> errors;
  compile_option_templates(kSchema, values, "sinks[0]", out, errors);
  EXPECT_NE(out.find("to[0]"), nullptr);
  EXPECT_NE(out.find("to[1]"), nullptr);
  EXPECT_NE(out.find("headers.X-Id"), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "sinks[0].tags[1]");
  EXPECT_EQ(errors[0].offset, 1u);
}

TEST_F(StringExpressionsTest, TwoPipelinesOnOnePathAreRefusedNamingBothPlaces) {
  dir_.write("a.yaml", "name: first\nsource: {type: http, path: /hook}\nsinks: [{type: stdout}]\n");
  dir_.write("b.yaml", "name: second\nsinks: [{type: stdout}]\nsource:\n  type: http\n  path: /hook\n");
  dir_.write("c.yaml", "name: third\nsource: {type: http, path: /other}\nsinks: [{type: file, path: /hook}]\n");
  Diagnostics diagnostics;
  auto pipelines = load_pipelines(dir_.path(), {}, registry_, diagnostics);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0].file, (dir_.path() / "b.yaml").string());
  EXPECT_EQ(diagnostics[0].line, 3);  // the source's entry
  EXPECT_EQ(diagnostics[0].column, 1);
  EXPECT_EQ(diagnostics[0].path, "source.path");
  const std::string message = format(diagnostics[0]);
  EXPECT_NE(message.find("path /hook is already served by pipeline 'first' (" + (dir_.path() / "a.yaml").string() +
                         ":2:1)"),
            std::string::npos)
      << message;
  // The file sink's `path` is a file, not a route: c.yaml clashes with nothing.
  ASSERT_EQ(pipelines.size(), 2u);
  EXPECT_EQ(pipelines[0].name, "first");
  EXPECT_EQ(pipelines[1].name, "third");
}

TEST_F(StringExpressionsTest, SeveralSourcesFeedOnePipelineEachWithItsNameAndRoute) {
  PipelineConfig config;
  std::string errors;
  ASSERT_TRUE(load("sources:\n  - {type: http, path: /a}\n  - {name: poller, type: generate}\n"
                   "  - {name: second-http, type: http, path: /b}\nsinks: [{type: stdout}]\n",
                   config, errors))
      << errors;
  ASSERT_EQ(config.sources.size(), 3u);
  EXPECT_EQ(config.sources[0].name, "http");
  EXPECT_EQ(config.sources[1].name, "poller");
  EXPECT_EQ(config.sources[1].type, "generate");
  const auto routes = route_paths(config);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].option, "sources[0].path");
  EXPECT_EQ(routes[1].option, "sources[2].path");
  EXPECT_EQ(routes[1].path, "/b");
  // One source under source: is still "source" in messages.
  PipelineConfig one;
  errors.clear();
  ASSERT_TRUE(load("source: {type: http, path: /a, name: intake}\nsinks: [{type: stdout}]\n", one, errors)) << errors;
  ASSERT_EQ(one.sources.size(), 1u);
  EXPECT_EQ(one.sources[0].name, "intake");
  EXPECT_EQ(route_paths(one).at(0).option, "source.path");
}

TEST_F(StringExpressionsTest, SourcesMistakesAreErrorsAtTheirPlace) {
  std::string errors;
  auto refused = [&](const std::string& yaml) {
    PipelineConfig config;  // each load from scratch
    errors.clear();
    return !load(yaml, config, errors);
  };
  EXPECT_TRUE(refused("source: {type: generate}\nsources: [{type: generate}]\nsinks: [{type: stdout}]\n"));
  EXPECT_NE(errors.find("p.yaml:2:1: sources: give either source: or sources:, not both"), std::string::npos) << errors;
  EXPECT_TRUE(refused("sources: []\nsinks: [{type: stdout}]\n"));
  EXPECT_NE(errors.find("sources: a pipeline needs at least one source"), std::string::npos) << errors;
  EXPECT_TRUE(refused("sources:\n  - {type: http, path: /a}\n  - {type: http, path: /b}\nsinks: [{type: stdout}]\n"));
  EXPECT_NE(errors.find("p.yaml:3:5: sources[1]: name 'http' is already used by sources[0]; give one of them a distinct name"),
            std::string::npos)
      << errors;
  EXPECT_TRUE(refused("sources:\n  - {type: http, path: /a}\n  - {name: again, type: http, path: /a}\nsinks: [{type: stdout}]\n"));
  EXPECT_NE(errors.find("sources[1].path: path /a is already served by sources[0].path of this pipeline: give sources[1] "
                        "another path"),
            std::string::npos)
      << errors;
  EXPECT_TRUE(refused("sources:\n  - {type: nope}\nsinks: [{type: stdout}]\n"));
  EXPECT_NE(errors.find("sources[0].type: unknown source type 'nope'"), std::string::npos) << errors;
}

TEST_F(StringExpressionsTest, ARouteMustBeAPath) {
  PipelineConfig config;
  std::string errors;
  EXPECT_FALSE(load("source: {type: http, path: hooks/deploy}\nsinks: [{type: stdout}]\n", config, errors));
  EXPECT_NE(errors.find("source.path: expected a path starting with '/' (no query, fragment or spaces), got "
                        "'hooks/deploy'"),
            std::string::npos)
      << errors;
  errors.clear();
  EXPECT_FALSE(load("source: {type: http, path: '/deploy?x=1'}\nsinks: [{type: stdout}]\n", config, errors));
  EXPECT_NE(errors.find("expected a path starting with '/'"), std::string::npos) << errors;
}

}  // namespace
}  // namespace switchyard::config
