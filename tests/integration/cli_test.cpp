// The `switchyard` binary end to end: what an operator types and sees.
#include <unistd.h>

#include "cli_fixture.hpp"

namespace switchyard {
namespace {

using namespace cli_test;

TEST_F(Cli, PrintsItsVersion) {
  auto r = run_to_end({kBinary, "--version"}, dir_);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "switchyard 0.1.0\n");
}

TEST_F(Cli, PluginsListShowsCoreAndTheSdkExample) {
  auto r = run_to_end({kBinary, "plugins", "list", "-c", config()}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* type : {"generate ", "stdout ", "file ", "example.stamp "}) {
    EXPECT_NE(r.out.find(type), std::string::npos) << type << " missing from\n" << r.out;
  }
}

TEST_F(Cli, PluginsDescribePrintsTheDeclaration) {
  auto r = run_to_end({kBinary, "plugins", "describe", "file", "-c", config()}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("file (sink)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("path  (string, required)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("format  (string, default: cloudevent)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("one of: cloudevent | data"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("retry  (object, optional)"), std::string::npos) << r.out;

  auto unknown = run_to_end({kBinary, "plugins", "describe", "nope", "-c", config()}, dir_);
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.err, "unknown component type 'nope' (see `switchyard plugins list`)\n");
}

// Issue 21: a misspelt type, or one part of a dotted one, gets the near names.
TEST_F(Cli, PluginsDescribeSuggestsNearNames) {
  auto typo = run_to_end({kBinary, "plugins", "describe", "fiel", "-c", config()}, dir_);
  EXPECT_EQ(typo.code, 1);
  EXPECT_EQ(typo.err, "unknown component type 'fiel' (did you mean 'file'?) (see `switchyard plugins list`)\n");
  auto part = run_to_end({kBinary, "plugins", "describe", "stamp", "-c", config()}, dir_);
  EXPECT_EQ(part.code, 1);
  EXPECT_NE(part.err.find("unknown component type 'stamp' (did you mean 'example.stamp'?)"), std::string::npos)
      << part.err;
}

TEST_F(Cli, PluginsListJsonDescribesEveryComponent) {
  auto r = run_to_end({kBinary, "plugins", "list", "--json", "-c", config()}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << r.out;
  ASSERT_TRUE(d.IsArray());
  bool file = false, stamp = false;
  for (const auto& c : d.GetArray()) {
    for (const char* key : {"type", "kind", "plugin", "version", "summary"}) {
      ASSERT_TRUE(c.HasMember(key) && c[key].IsString()) << key;
    }
    if (c["type"] == "file") {
      file = true;
      EXPECT_EQ(c["kind"], "sink");
      EXPECT_EQ(c["plugin"], "core");
      EXPECT_EQ(c["summary"], "Appends each event as one JSON line to a file.");
    }
    if (c["type"] == "example.stamp") stamp = c["kind"] == "transform";
  }
  EXPECT_TRUE(file && stamp) << r.out;
}

// Issue 21: SWITCHYARD_CONFIG stands for -c in every command; -c wins over it.
TEST_F(Cli, SwitchyardConfigVariableIsTheDefaultConfigFile) {
  dir_.write("pipelines/ok.yaml", "source: {type: generate}\nsinks: [{type: stdout}]\n");
  const std::string file = config();
  const std::string cwd = dir_.write("elsewhere/.keep", "").parent_path().string();  // no config/ here
  auto r = run_to_end({"/usr/bin/env", "SWITCHYARD_CONFIG=" + file, kBinary, "validate"}, dir_, cwd);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: 1 pipeline(s) valid\n");
  // dlq reads the state.dir of that file (no engine has run: no journal there yet).
  auto list = run_to_end({"/usr/bin/env", "SWITCHYARD_CONFIG=" + file, kBinary, "dlq", "list"}, dir_, cwd);
  EXPECT_EQ(list.code, 1);
  EXPECT_NE(list.err.find("no journal at " + (dir_ / "state" / "journal.db").string()), std::string::npos) << list.err;

  // Named like -c: a file that is not there is an error, not the defaults.
  auto missing = run_to_end({"/usr/bin/env", "SWITCHYARD_CONFIG=" + cwd + "/nope.yaml", kBinary, "validate"}, dir_, cwd);
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find(cwd + "/nope.yaml"), std::string::npos) << missing.err;
  auto flag = run_to_end({"/usr/bin/env", "SWITCHYARD_CONFIG=" + cwd + "/nope.yaml", kBinary, "validate", "-c", file},
                         dir_, cwd);
  EXPECT_EQ(flag.code, 0) << "-c wins: " << flag.err;
}

// A configuration names plugin libraries to load: one in the working directory that another
// user may write would run that user's code as whoever runs switchyard there.
TEST_F(Cli, AConfigInTheWorkingDirectoryOthersMayWriteIsNotRead) {
  const auto own_state = (dir_ / "own-state").string();
  const auto file = dir_.write("shared/config/switchyard.yaml", "state: {dir: " + own_state + "}\n");
  const std::string cwd = file.parent_path().parent_path().string();
  namespace fs = std::filesystem;
  for (const auto& d : {file.parent_path(), file.parent_path().parent_path()}) {
    fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec);  // whatever the umask: 0755
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  auto trusted = run_to_end({kBinary, "dlq", "list"}, dir_, cwd);
  EXPECT_NE(trusted.err.find("no journal at " + own_state + "/journal.db"), std::string::npos) << trusted.err;
  // Group-writable with the caller's own group (a umask of 002 with a group per user): read.
  fs::permissions(file, fs::perms::group_write, fs::perm_options::add);
  auto own_group = run_to_end({kBinary, "dlq", "list"}, dir_, cwd);
  EXPECT_NE(own_group.err.find("no journal at " + own_state + "/journal.db"), std::string::npos) << own_group.err;
  if (::geteuid() == 0 && ::chown(file.c_str(), 0, 65534) == 0) {  // another group (nogroup) may write it
    auto shared_group = run_to_end({kBinary, "dlq", "list"}, dir_, cwd);
    EXPECT_NE(shared_group.err.find("can be written by other users"), std::string::npos) << shared_group.err;
    EXPECT_EQ(::chown(file.c_str(), 0, 0), 0);
  }
  fs::permissions(file, fs::perms::group_write, fs::perm_options::remove);
  fs::permissions(file, fs::perms::others_write, fs::perm_options::add);
  auto refused = run_to_end({kBinary, "dlq", "list"}, dir_, cwd);
  EXPECT_EQ(refused.err.find(own_state), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("not reading config/switchyard.yaml in the working directory "
                             "(config/switchyard.yaml can be written by other users)"),
            std::string::npos)
      << refused.err;
  // Named with -c, it is read: the caller chose it.
  auto named = run_to_end({kBinary, "dlq", "list", "-c", file.string()}, dir_, cwd);
  EXPECT_NE(named.err.find("no journal at " + own_state + "/journal.db"), std::string::npos) << named.err;
}

// Issue 21: `dlq list` says which journal it read, on standard error (standard output
// stays a table or JSON).
TEST_F(Cli, DlqListNamesTheJournalItRead) {
  dir_.write("pipelines/demo.yaml", "source: {type: generate, interval: 1h}\nsinks: [{type: blackhole}]\n");
  const std::string file = config();
  {
    test::Child engine({kBinary, "run", "-c", file}, dir_.path());
    ASSERT_TRUE(wait_until([&] { return engine.err().find("pipeline(s) started") != std::string::npos; }))
        << engine.err();
    engine.signal(SIGTERM);
    ASSERT_EQ(engine.wait(), 0) << engine.err();
  }
  auto r = run_to_end({kBinary, "dlq", "list", "--json", "-c", file}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
  EXPECT_EQ(r.err, "journal: " + (dir_ / "state" / "journal.db").string() + " (state.dir of " + file + ")\n");
  auto table = run_to_end({kBinary, "dlq", "list", "-c", file}, dir_);
  EXPECT_EQ(table.out, "the dead-letter queue is empty\n");
  EXPECT_EQ(table.err, r.err);
}

// Issue 21: validate configures each component as run does, so their own checks (an empty
// secret, a URL whose host an event decides) are reported by validate, not only at start.
TEST_F(Cli, ValidateRunsEachComponentsOwnConfigureChecks) {
  dir_.write("pipelines/hook.yaml", "source:\n  type: http\n  path: /hook\n  auth: hmac-sha256\n  secret: ''\n"
                                    "sinks: [{type: stdout}]\n");
  dir_.write("pipelines/out.yaml", "source: {type: generate}\nsinks:\n  - name: hook\n    type: http\n"
                                   "    url: https://${{ payload.host }}/x\n");
  auto r = run_to_end({kBinary, "validate", "-c", config()}, dir_);
  EXPECT_EQ(r.code, 1);
  const std::string p = (dir_ / "pipelines").string() + "/";
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 3u) << r.err;
  EXPECT_NE(err[0].find(" warn  [engine] " + p + "out.yaml:3:5: sinks[0]: url: an expression decides the host"),
            std::string::npos) << err[0];
  EXPECT_EQ(err[1], p + "hook.yaml:1:1: source: secret: must not be empty (anyone could sign or present an empty secret)");
  EXPECT_EQ(err[2], "1 error(s)");

  // Only the file with the warning: valid.
  auto warned = run_to_end({kBinary, "validate", "-c", config(), p + "out.yaml"}, dir_);
  EXPECT_EQ(warned.code, 0) << warned.err;
  EXPECT_EQ(warned.out, "ok: 1 pipeline(s) valid\n");
}

std::string text(const rapidjson::Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsString() ? it->value.GetString() : "<no string " + std::string(key) + ">";
}

TEST_F(Cli, ValidateFormatJsonReportsEachFileWithPositions) {
  dir_.write("pipelines/a.yaml", "source: {type: generate}\nsinks: [{type: stdout}]\n");
  dir_.write("pipelines/b.yaml", "source:\n  type: generate\n  interval: often\nsinks:\n  - type: fiel\n");
  dir_.write("pipelines/c.yaml", "source: {type: generate}\nsinks:\n  - type: http\n    url: https://${{ payload.host }}/x\n");
  dir_.write("pipelines/d.yaml", "name: a\nsource: {type: generate}\nsinks: [{type: stdout}]\n");
  auto r = run_to_end({kBinary, "validate", "--format", "json", "-c", config()}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "") << "everything is in the report";
  rapidjson::Document d;
  d.Parse(r.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << r.out;
  EXPECT_FALSE(d["valid"].GetBool());
  EXPECT_EQ(d["pipelines"].GetUint(), 2u) << "a and c";
  EXPECT_EQ(d["errors"].GetUint(), 3u);
  EXPECT_EQ(d["warnings"].GetUint(), 1u);
  const std::string p = (dir_ / "pipelines").string() + "/";
  const auto& files = d["files"];
  ASSERT_EQ(files.Size(), 4u) << r.out;
  std::vector<std::string> names;
  for (const auto& f : files.GetArray()) names.push_back(f["file"].GetString());
  EXPECT_EQ(names, (std::vector<std::string>{p + "a.yaml", p + "b.yaml", p + "c.yaml", p + "d.yaml"}));
  EXPECT_EQ(files[0u]["errors"].Size(), 0u);
  EXPECT_EQ(files[0u]["warnings"].Size(), 0u);
  const auto& b = files[1u]["errors"];
  ASSERT_EQ(b.Size(), 2u) << r.out;
  EXPECT_EQ(text(b[0u], "file"), p + "b.yaml");
  EXPECT_EQ(b[0u]["line"].GetInt(), 3);
  EXPECT_EQ(b[0u]["column"].GetInt(), 3);
  EXPECT_EQ(text(b[0u], "path"), "source.interval");
  EXPECT_EQ(text(b[0u], "message"), "expected a duration like 500ms, 30s, 5m or 24h");
  EXPECT_EQ(text(b[1u], "message"), "unknown sink type 'fiel' (did you mean 'file'?)");
  const auto& c = files[2u]["warnings"];
  ASSERT_EQ(c.Size(), 1u) << r.out;
  EXPECT_EQ(c[0u]["line"].GetInt(), 3);
  EXPECT_EQ(text(c[0u], "path"), "sinks[0]");
  EXPECT_NE(text(c[0u], "message").find("url: an expression decides the host"), std::string::npos);
  ASSERT_EQ(files[3u]["errors"].Size(), 1u);
  EXPECT_NE(text(files[3u]["errors"][0u], "message").find("pipeline name 'a' is already used by"),
            std::string::npos);

  auto ok = run_to_end({kBinary, "validate", "--format", "json", "-c", config(), p + "a.yaml"}, dir_);
  EXPECT_EQ(ok.code, 0) << ok.out;
  d.Parse(ok.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << ok.out;
  EXPECT_TRUE(d["valid"].GetBool());
  EXPECT_EQ(d["files"].Size(), 1u);
}

TEST_F(Cli, ValidateReportsEveryErrorInEveryFileWithPosition) {
  dir_.write("pipelines/one.yaml", "source:\n  type: generate\n  interval: often\nsinks:\n  - type: fiel\n");
  dir_.write("pipelines/two.yaml", "source: {type: generate}\nsinks:\n  - type: stdout\n    colour: red\n");
  dir_.write("pipelines/three.yaml", "source: [unclosed\n");
  auto r = run_to_end({kBinary, "validate", "-c", config()}, dir_);
  EXPECT_EQ(r.code, 1);
  const std::string p = (dir_ / "pipelines").string() + "/";
  EXPECT_EQ(lines(r.err), (std::vector<std::string>{
                              p + "one.yaml:3:3: source.interval: expected a duration like 500ms, 30s, 5m or 24h",
                              p + "one.yaml:5:5: sinks[0].type: unknown sink type 'fiel' (did you mean 'file'?)",
                              p + "three.yaml:2:1: end of sequence flow not found",
                              p + "two.yaml:4:5: sinks[0].colour: unknown option",
                              "4 error(s)",
                          }));
}

// Issue 21: what a Vector or Liquid user writes first gets an error at its character,
// even inside a folded block scalar, and a bare $VAR where a secret goes is a warning.
TEST_F(Cli, ValidatePointsAtTheMistakesOfOtherTemplateLanguages) {
  dir_.write("pipelines/ci.yaml", R"(source:
  type: http
  path: /hooks/ci
  secret: $SY_TEST_HOOK_SECRET
transforms:
  - type: map
    event_type: ci.${{ env.SY_TEST_STAGE }}
    payload:
      title: "Build {{ payload.name }}"
sinks:
  - type: stdout
    if: ${{ payload.ref == "main" }}
  - name: xp
    type: stdout
    if: >-
      ${{ payload.ref == 'main' &&
          payload.commits * 'ten' > 1 }}
  - name: hook
    type: http
    url: https://${SY_TEST_API_HOST:?the API host, e.g. api.example.com}/hook
)");
  auto r = run_to_end({kBinary, "validate", "-c", config("env: {allow: [SY_TEST_API_HOST]}\n")}, dir_);
  EXPECT_EQ(r.code, 1);
  const std::string p = (dir_ / "pipelines").string() + "/ci.yaml:";
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 7u) << r.err;
  EXPECT_NE(err[0].find(" warn  [engine] " + p + "4:11: source.secret: '$SY_TEST_HOOK_SECRET' is taken as the "
                        "secret itself, not read from the environment: write ${SY_TEST_HOOK_SECRET}"),
            std::string::npos)
      << err[0];
  EXPECT_EQ(std::vector<std::string>(err.begin() + 1, err.end()),
            (std::vector<std::string>{
                p + "7:24: transforms[0].event_type: env.SY_TEST_STAGE is not in the engine configuration's "
                    "env.allow, so it would always be null; list it there (env: { allow: [SY_TEST_STAGE] })",
                p + "9:21: transforms[0].payload.title: did you mean ${{ payload.name }}? Expressions are written "
                    "${{ }}, not {{ }}",
                p + "12:28: sinks[0].if: strings take single quotes: 'main', not \"main\"",
                p + "17:27: sinks[1].if: '*' needs numbers and 'ten' is not one",
                p + "20:18: sinks[2].url: environment variable SY_TEST_API_HOST is not set or empty: the API host, "
                    "e.g. api.example.com",
                "5 error(s)",
            }));
}

TEST_F(Cli, ValidateAcceptsGoodPipelinesAndNamedFiles) {
  dir_.write("pipelines/ok.yaml", "source: {type: generate}\nsinks: [{type: stdout}]\n");
  const auto other = dir_.write("elsewhere/bad.yaml", "source: {type: generate}\n");
  auto r = run_to_end({kBinary, "validate", "-c", config()}, dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok: 1 pipeline(s) valid\n");
  auto named = run_to_end({kBinary, "validate", "-c", config(), other.string()}, dir_);
  EXPECT_EQ(named.code, 1);
  EXPECT_NE(named.err.find("bad.yaml:1:1: sinks: required option is missing"), std::string::npos) << named.err;
}

TEST_F(Cli, RunDeliversEventsAndExitsCleanlyOnSigterm) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/demo.yaml", "source:\n  type: generate\n  interval: 10ms\n  payload: {n: 1}\n"
                                    "sinks:\n  - type: file\n    path: " + out.string() + "\n");
  test::Child engine({kBinary, "run", "-c", config("log: {format: json}\n")}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return lines(test::read_file(out)).size() >= 5; })) << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  for (const auto& line : lines(test::read_file(out))) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line;
    EXPECT_STREQ(d["pipeline"].GetString(), "demo");
    EXPECT_EQ(d["data"]["n"].GetInt(), 1);
  }
  // log.format: json gives one JSON object per line, with the lifecycle in it.
  const auto log_lines = lines(engine.err());
  ASSERT_FALSE(log_lines.empty());
  bool saw_started = false;
  for (const auto& line : log_lines) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << line;
    ASSERT_TRUE(d.HasMember("level") && d.HasMember("msg") && d.HasMember("time")) << line;
    if (std::string(d["msg"].GetString()).find("pipeline demo started") != std::string::npos) saw_started = true;
  }
  EXPECT_TRUE(saw_started) << engine.err();
}

TEST_F(Cli, SigtermDrainsEverythingAlreadyAccepted) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/burst.yaml",
             "source: {type: generate, interval: 0, count: 20000}\n"
             "sinks:\n  - {type: file, path: " + out.string() + ", concurrency: 1}\n");
  test::Child engine({kBinary, "run", "-c", config()}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return !test::read_file(out).empty(); })) << engine.err();
  engine.signal(SIGINT);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  // Whatever the source had handed over before the signal was written out: the log says
  // nothing was left behind, and every written line is whole.
  EXPECT_EQ(engine.err().find("not delivered"), std::string::npos) << engine.err();
  const auto written = lines(test::read_file(out));
  EXPECT_GT(written.size(), 0u);
  for (const auto& line : written) ASSERT_EQ(line.back(), '}') << line;
}

TEST_F(Cli, RunStrictRefusesInvalidPipelinesAndStartsNothing) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/good.yaml", "source: {type: generate, interval: 10ms}\n"
                                    "sinks: [{type: file, path: " + out.string() + "}]\n");
  dir_.write("pipelines/bad.yaml", "source: {type: generate, count: many}\nsinks: [{type: stdout}]\n");
  auto r = run_to_end({kBinary, "run", "--strict", "-c", config()}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.yaml:1:26: source.count: expected an integer, got a string"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 configuration error(s); nothing started (--strict)"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  // With log.format: json, the refusal is one JSON record holding every error.
  auto json = run_to_end({kBinary, "run", "--strict", "-c", config("log: {format: json}\n")}, dir_);
  EXPECT_EQ(json.code, 1);
  const auto records = lines(json.err);
  ASSERT_EQ(records.size(), 1u) << json.err;
  rapidjson::Document d;
  d.Parse(records[0].c_str());
  ASSERT_FALSE(d.HasParseError()) << records[0];
  EXPECT_STREQ(d["level"].GetString(), "error");
  const std::string msg = d["msg"].GetString();
  EXPECT_NE(msg.find("bad.yaml:1:26: source.count: expected an integer, got a string\n1 configuration error(s); "
                     "nothing started (--strict)"),
            std::string::npos)
      << msg;
}

TEST_F(Cli, RunStartsTheValidPipelinesBesideAnInvalidFile) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/good.yaml", "source: {type: generate, interval: 10ms}\n"
                                    "sinks: [{type: file, path: " + out.string() + "}]\n");
  dir_.write("pipelines/bad.yaml", "source: {type: generate, count: many}\nsinks: [{type: stdout}]\n");
  test::Child engine({kBinary, "run", "-c", config()}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return lines(test::read_file(out)).size() >= 3; })) << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  EXPECT_NE(engine.err().find("pipeline bad (" + (dir_ / "pipelines/bad.yaml").string() +
                              ") not started: its file is invalid:\n" + (dir_ / "pipelines/bad.yaml").string() +
                              ":1:26: source.count: expected an integer, got a string"),
            std::string::npos)
      << engine.err();
}

// A sink that keeps failing writes one retry warning per 10 s, not one per attempt: 3
// events failing 15 attempts each (45 retries in well under 10 s) give a single warning;
// the others are at debug (not shown at log.level info). Every event is delivered.
TEST_F(Cli, RetriesOfASinkThatKeepsFailingAreOneWarningNotOnePerAttempt) {
  const auto out = dir_ / "flaky.txt";
  dir_.write("pipelines/flaky.yaml", "source: {type: generate, interval: 1ms, count: 3}\n"
                                     "sinks: [{name: shaky, type: test.flaky_sink, path: " + out.string() +
                                     ", fail_first: 15, retry: {initial: 1ms, max: 2ms, max_attempts: 20}}]\n");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  test::Child engine({kBinary, "run", "-c", config(paths + "log: {format: json}\n")}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return lines(test::read_file(out)).size() == 3; })) << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  std::size_t warnings = 0;
  for (const auto& line : lines(engine.err())) {
    if (line.find("retrying in") != std::string::npos) ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << engine.err();
}

// JSON log lines carry the pipeline, the component and the event id as fields, a
// multi-line message stays one record, and levels are named as log.level names them.
TEST_F(Cli, JsonLogLinesCarryPipelineComponentAndEventId) {
  const auto out = dir_ / "flaky.txt";
  dir_.write("pipelines/boom.yaml", "source: {type: generate, interval: 10ms, count: 1, payload: {boom: true}}\n"
                                    "transforms: [{name: exploding, type: test.throwing_transform}]\n"
                                    "sinks: [{type: stdout}]\n");
  dir_.write("pipelines/flaky.yaml", "source: {type: generate, interval: 10ms, count: 1}\n"
                                     "sinks: [{name: shaky, type: test.flaky_sink, path: " + out.string() +
                                     ", fail_first: 1, retry: {initial: 10ms}}]\n");
  dir_.write("pipelines/broken.yaml", "name: broken-one\nsource: {type: generate, count: many}\n"
                                      "sinks: [{type: stdout, colour: blue}]\n");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  test::Child engine({kBinary, "run", "-c", config(paths + "log: {format: json}\n")}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return !test::read_file(out).empty(); })) << engine.err();
  ASSERT_TRUE(wait_until([&] { return engine.err().find("moved to the dead-letter queue") != std::string::npos; }))
      << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0) << engine.err();
  bool saw_failed = false, saw_retry = false, saw_invalid = false;
  for (const auto& line : lines(engine.err())) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_FALSE(d.HasParseError()) << "one record per line: " << line;
    const std::string level = d["level"].GetString(), msg = d["msg"].GetString();
    EXPECT_TRUE(level == "debug" || level == "info" || level == "warn" || level == "error") << line;
    auto field = [&](const char* name) { return d.HasMember(name) ? std::string(d[name].GetString()) : std::string(); };
    if (msg.find("moved to the dead-letter queue") != std::string::npos) {
      saw_failed = true;
      EXPECT_EQ(level, "error");
      EXPECT_EQ(field("pipeline"), "boom") << line;
      EXPECT_EQ(field("component"), "exploding") << line;
      EXPECT_FALSE(field("event_id").empty()) << line;
      EXPECT_NE(msg.find("event " + field("event_id") + " failed"), std::string::npos) << line;
    }
    if (msg.find("retrying in") != std::string::npos) {
      saw_retry = true;
      EXPECT_EQ(level, "warn") << line;
      EXPECT_EQ(field("pipeline"), "flaky") << line;
      EXPECT_EQ(field("component"), "shaky") << line;
      EXPECT_NE(msg.find("event " + field("event_id") + " attempt 1"), std::string::npos) << line;
    }
    if (msg.find("its file is invalid") != std::string::npos) {
      saw_invalid = true;
      // Both errors of the file, in one record.
      EXPECT_NE(msg.find("broken.yaml:2:"), std::string::npos) << line;
      EXPECT_NE(msg.find("\n" + (dir_ / "pipelines/broken.yaml").string() + ":3:"), std::string::npos) << line;
      EXPECT_NE(msg.find("broken-one"), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(saw_failed && saw_retry && saw_invalid) << engine.err();
}

TEST_F(Cli, APipelineThatFailsToStartDoesNotStopTheOthers) {
  const auto out = dir_ / "events.jsonl";
  dir_.write("pipelines/good.yaml", "source: {type: generate, interval: 10ms}\n"
                                    "sinks: [{type: file, path: " + out.string() + "}]\n");
  dir_.write("pipelines/bad.yaml", "source: {type: generate}\nsinks: [{type: test.throwing_sink}]\n");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/faulty]}\n";
  test::Child engine({kBinary, "run", "-c", config(paths)}, dir_.path());
  ASSERT_TRUE(wait_until([&] { return lines(test::read_file(out)).size() >= 3; })) << engine.err();
  engine.signal(SIGTERM);
  ASSERT_EQ(engine.wait(), 0);
  EXPECT_NE(engine.err().find("pipeline bad (" + (dir_ / "pipelines/bad.yaml").string() +
                              ") failed to start: sinks[0] 'test.throwing_sink': start threw: boom in start"),
            std::string::npos)
      << engine.err();
}

TEST_F(Cli, PluginsCheckRunsEachComponentsLifecycle) {
  auto ok = run_to_end({kBinary, "plugins", "check", std::string(SWITCHYARD_PLUGIN_DIR) + "/libswitchyard-core.so"}, dir_);
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("plugin core 0.1.0"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("all components passed"), std::string::npos) << ok.out;

  auto faulty = run_to_end({kBinary, "plugins", "check", kFixtures + "/faulty/faulty.so"}, dir_);
  EXPECT_EQ(faulty.code, 1);
  EXPECT_NE(faulty.out.find("check: FAILED: sinks[0] 'test.throwing_sink': start threw: boom in start"), std::string::npos) << faulty.out;
  EXPECT_NE(faulty.out.find("1 component(s) failed"), std::string::npos) << faulty.out;
  EXPECT_NE(faulty.out.find("test.throwing_timer (source)"), std::string::npos) << "a timer that throws fails nothing";

  auto refused = run_to_end({kBinary, "plugins", "check", kFixtures + "/wrong_abi/wrong_abi.so"}, dir_);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("refused: " + kFixtures + "/wrong_abi/wrong_abi.so: built for SDK ABI version"),
            std::string::npos) << refused.err;
}

TEST_F(Cli, ARefusedLibraryIsReportedByValidate) {
  dir_.write("pipelines/ok.yaml", "source: {type: generate}\nsinks: [{type: stdout}]\n");
  const std::string paths = "plugins: {paths: [" + std::string(SWITCHYARD_PLUGIN_DIR) + ", " + kFixtures + "/no_entry]}\n";
  auto r = run_to_end({kBinary, "validate", "-c", config(paths)}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("plugin refused: " + kFixtures + "/no_entry/no_entry.so: not a Switchyard plugin"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace switchyard
